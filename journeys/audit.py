"""The attacker test behind disclosure control: how narrowly published tables pin each hidden count.

An attacker knows every published entry, that hidden entries are counts (>= 0) and every additive
relation between entries (a line: its members add up to its total). For each hidden entry the
least and greatest value those allow come from linear programmes; an entry whose max - min is at
most the threshold is given away (nearly). Tables are safe when no hidden entry is; the relations
form network matrices in the tables here, so integer programming would tell the attacker no more.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from journeys.lp import UNBOUNDED, EqualityLP

Line = tuple[np.ndarray, int]  # (members, total): sum(members) == total
_PROBES = 1  # random-objective LPs in a row that clear nothing before per-entry LPs (1: 5% fewer LPs than 2)
_Rng = np.random.Generator


def determined(values: np.ndarray, lines: list[Line], known: np.ndarray) -> np.ndarray:
    """Entries anyone can work out from `known` ones and zeros: the one other member of a line left open.

    Hiding such an entry protects nothing (it is public through its line), and a partner search that
    hid one would then fail on it; so they count as known.

    >>> lines = [(np.array([0, 1]), 2), (np.array([3, 4]), 2)]
    >>> determined(np.array([7, 0, 7, 5, 2]), lines, np.array([False, False, True, False, False])).tolist()
    [True, False, False, False, False]
    """
    known = known.copy()
    out = np.zeros(values.size, dtype=bool)
    changed = True
    while changed:
        changed = False
        for members, total in lines:
            entries = np.append(members, total)
            open_ = entries[~known[entries] & (values[entries] != 0)]
            if open_.size == 1 and (known[entries] | (values[entries] == 0)).sum() == entries.size - 1:
                known[open_[0]] = out[open_[0]] = changed = True
    return out


def show_determined(values: np.ndarray, hidden: np.ndarray, lines: list[Line], threshold: int,
                    fixed: np.ndarray | None = None) -> None:
    """Publish (in place) hidden entries that the published ones work out exactly: the lone hidden entry of a line.

    Hiding such an entry protects nothing and an audit would count it as given away; publishing
    it changes no other entry's bounds. Counts from 1 to threshold stay hidden (if one is worked
    out, the audit says so), and so do entries `fixed` by a rule of their own (stocks). After a
    cover (suppress._cover), where lines of published zeros leave one hidden entry equal to a shown total.

    >>> hidden = np.array([True, False, False, True])
    >>> show_determined(np.array([7.0, 0.0, 7.0, 9.0]), hidden, [(np.array([0, 1]), 2)], 5)
    >>> hidden.tolist()
    [False, False, False, True]
    """
    changed = True
    while changed:
        changed = False
        for members, total in lines:
            entries = np.append(members, total)
            shut = entries[hidden[entries]]
            if shut.size == 1 and not 1 <= values[shut[0]] <= threshold and (fixed is None or not fixed[shut[0]]):
                hidden[shut[0]] = False
                changed = True


def audit_hidden(
    values: np.ndarray, hidden: np.ndarray, lines: list[Line], threshold: int, passed: set[int],
    around: set[int] | None = None, first_only: bool = False, ignore: set[int] | frozenset[int] = frozenset(),
    binding: list[int] | None = None,
) -> list[int]:
    """Hidden entries whose attacker interval is at most threshold wide, by LP per linked group.

    Entries in passed are skipped and new passes added: hiding more only widens intervals. With
    `around`, only groups holding one of those entries are audited; the others count as passed
    (tables audited on their own, now joined only where `around` links them). With `first_only`,
    only the lowest-numbered failing entry not in `ignore` is returned (or none), and entries above
    it get no exact LPs: the searches hide partners for that one and audit again, so the exact
    LPs that the others' failures cost would be spent again next round. The entry is the same
    either way (probes only ever prove entries wide; narrowness is decided by exact LPs). With
    `first_only`, `binding` (a list) receives the lines that bound that entry's least and greatest
    values (non-zero duals): a published member of one is a partner that can widen it.
    """
    if not ((values > 0) & ~hidden).any():
        return []  # only zeros published: scaling the truth up or down shows every interval is open
    columns = np.flatnonzero(hidden)
    where = np.full(values.size, -1)
    where[columns] = np.arange(columns.size)
    # every line as one run of (line, entry, sign): members +1, total -1; built at once, not line by line
    members = [np.asarray(m, dtype=np.int64) for m, _ in lines]
    sizes = np.fromiter((m.size for m in members), dtype=np.int64, count=len(lines))
    entry = np.concatenate([*members, np.fromiter((t for _, t in lines), dtype=np.int64, count=len(lines))])
    line = np.concatenate([np.repeat(np.arange(len(lines)), sizes), np.arange(len(lines))])
    sign = np.concatenate([np.ones(int(sizes.sum())), -np.ones(len(lines))])
    shut = hidden[entry]
    known = np.bincount(line[~shut], weights=(sign * values[entry])[~shut], minlength=len(lines))
    active = np.bincount(line[shut], minlength=len(lines)) > 0
    row_of = np.cumsum(active) - 1
    rows = row_of[line[shut]]
    cols = where[entry[shut]]
    coefs = sign[shut]
    rhs = -known[active]
    var_label, con_label = _components(rows, cols, columns.size, rhs.size)
    rng = _Probes()  # seeded: the probes must not make the output vary
    failing: list[int] = []
    groups: list[tuple[np.ndarray, _Group]] = []
    todo_all = np.fromiter((int(c) not in passed for c in columns), dtype=bool, count=columns.size)
    if around is not None:  # groups without one of `around` count as passed
        near = np.isin(var_label, var_label[np.isin(columns, np.fromiter(around, dtype=np.int64, count=len(around)))])
        passed.update(columns[~near].tolist())
        todo_all &= near
    # only groups with an entry still to audit get a system: after the first round of a search that is one or
    # two small groups, not the whole (a dense matrix of every line and hidden entry cost more than their LPs)
    for group in np.unique(var_label[todo_all]):
        var = np.flatnonzero(var_label == group)
        con = np.flatnonzero(con_label == group)
        mine = var_label[cols] == group
        a_sub = np.zeros((con.size, var.size))
        np.add.at(a_sub, (np.searchsorted(con, rows[mine]), np.searchsorted(var, cols[mine])), coefs[mine])
        todo = todo_all[var]
        audit = _Group(a_sub, rhs[con], values[columns[var]].astype(float), todo, threshold, rng)
        if not first_only:
            narrow = audit.decide(range(var.size))
            passed.update(int(e) for e in columns[var[todo & ~narrow]])
            failing += [int(e) for e in columns[var[narrow]]]
        else:
            audit.probe()
            passed.update(int(e) for e in columns[var[todo & ~audit.narrow()]])
            groups.append((var, audit))
    if not first_only:
        return sorted(failing)
    # the lowest-numbered unclear entries first, each decided by its own LPs, until one is narrow
    order = sorted((int(columns[v]), k, n) for n, (var, audit) in enumerate(groups)
                   for k, v, unclear in zip(range(var.size), var, audit.narrow()) if unclear
                   and int(columns[v]) not in ignore)
    for number, k, n in order:
        var, audit = groups[n]
        if not audit.narrow()[k]:
            passed.add(number)  # an earlier entry's LPs showed this one wide
        elif audit.decide([k])[k]:
            if binding is not None:
                lines_of_group = np.flatnonzero(active)[np.flatnonzero(con_label == var_label[var[k]])]
                binding += lines_of_group[audit.binding.get(k, np.zeros(0, dtype=np.int64))].tolist()
            return [number]
        else:
            passed.add(number)
    return []


def beyond_partners(entry: int, values: np.ndarray, most: np.ndarray, lines: list[Line], threshold: int) -> bool:
    """Whether `entry` is still given away with every entry a search may hide hidden (`most`): then no partner
    can protect it, and a search would hide them one by one before its fallback (42 rounds in one table at
    10^6, then the cover). Hiding more only widens, so this one audit gives the search's own answer."""
    others = set(np.flatnonzero(most).tolist()) - {entry}
    return audit_hidden(values, most, lines, threshold, others, {entry}, first_only=True) == [entry]


def _components(rows: np.ndarray, cols: np.ndarray, n_vars: int, n_cons: int) -> tuple[np.ndarray, np.ndarray]:
    """The linked groups of hidden entries: each entry's and each line's group, numbered by the group's lowest entry.

    Lines join the hidden entries they hold (an entry at `cols[i]` sits in line `rows[i]`); labels
    spread along them until they settle, a few passes for these tables (4x quicker than scipy's
    connected_components with its sparse matrix, which cost more than the LPs of small audits).

    >>> [a.tolist() for a in _components(np.array([0, 0, 1, 1, 2]), np.array([0, 2, 2, 3, 1]), 4, 3)]
    [[0, 1, 0, 0], [0, 0, 1]]
    """
    label = np.arange(n_vars)
    while True:
        line_label = np.full(n_cons, n_vars)
        np.minimum.at(line_label, rows, label[cols])
        spread = label.copy()
        np.minimum.at(spread, cols, line_label[rows])
        if np.array_equal(spread, label):
            return label, line_label
        label = spread


class _Probes:
    """The probes' random weights, seeded once per audit and only made when a probe needs them (that costs)."""

    def __init__(self) -> None:
        self._rng: _Rng | None = None

    def uniform(self, low: float, high: float, size: int) -> np.ndarray:
        if self._rng is None:
            self._rng = np.random.default_rng(0)
        return self._rng.uniform(low, high, size)


def narrow_entries(
    a_eq: np.ndarray, b_eq: np.ndarray, truth: np.ndarray, todo: np.ndarray, threshold: int, rng: _Rng
) -> np.ndarray:
    """Which todo variables have max - min <= threshold over {x >= 0, a_eq @ x == b_eq} (bounds rounded inward).

    Every LP solution is a feasible point, so the spread seen so far is a lower bound on each
    width. Probes (boxed, to stay bounded) push all unclear variables at once, each with a random
    weight in the direction it has explored less; they clear most variables in a few LPs. Once
    _PROBES probes in a row clear nothing, the rest get their own max and min LPs (exact). Counts
    are whole numbers, so a bound is rounded inward before the width is judged (it only matters
    where relations have coefficients other than 1, as the per-stage table's do).
    """
    return _Group(a_eq, b_eq, truth, todo, threshold, rng).decide(range(truth.size))


class _Group:
    """One linked group's audit: probes clear most entries at once, then each unclear entry's own LPs decide it."""

    def __init__(self, a_eq: np.ndarray, b_eq: np.ndarray, truth: np.ndarray, todo: np.ndarray, threshold: int,
                 rng: _Rng | _Probes) -> None:
        self.truth, self.threshold, self.rng = truth, threshold, rng
        self.low, self.high = truth.copy(), truth.copy()
        self.high[~todo] = np.inf
        self.lp = EqualityLP(a_eq, b_eq)
        self.probed = False
        self.binding: dict[int, np.ndarray] = {}  # per entry decided by its own LPs: rows with a non-zero dual

    def _solve(self, c: np.ndarray, upper: float | None) -> bool:
        status, x = self.lp.solve(c, upper)
        if x is not None:
            self.low, self.high = np.minimum(self.low, x), np.maximum(self.high, x)
        return status == UNBOUNDED  # other failures leave the entry narrow (safe)

    def narrow(self) -> np.ndarray:
        """Entries whose spread seen so far is at most the threshold (still unclear, or decided narrow)."""
        return np.asarray(np.floor(self.high + 1e-6) - np.ceil(self.low - 1e-6) <= self.threshold)

    def probe(self) -> None:
        """Random-objective LPs over every unclear entry, until _PROBES in a row clear nothing."""
        self.probed = True
        truth = self.truth
        unclear, stale = self.narrow(), 0
        while unclear.sum() > 1 and stale < _PROBES:  # one left: its own LPs are as quick
            down = (truth - self.low < self.high - truth) & (self.low > 0.5)  # push each the less explored way
            weights = np.where(unclear, self.rng.uniform(0.5, 1.5, truth.size), 0.0)
            self._solve(np.where(down, weights, -weights), 2.0 * truth.sum() + self.threshold + 1)
            before, unclear = unclear.sum(), self.narrow()
            stale = stale + 1 if unclear.sum() == before else 0

    def decide(self, entries: Iterable[int]) -> np.ndarray:
        """Probe if not yet done, then max and min LPs for each of `entries` still unclear; the narrow mask."""
        if not self.probed:
            self.probe()
        unclear = self.narrow()
        for k in [k for k in entries if unclear[k]]:
            for sense in (-1.0, 1.0):  # maximise, then minimise (counts are >= 0: no need once max <= threshold)
                if self.narrow()[k] and not (sense > 0 and np.floor(self.high[k] + 1e-6) <= self.threshold):
                    c = np.zeros(self.truth.size)
                    c[k] = sense
                    if self._solve(c, None) and sense < 0:
                        self.high[k] = np.inf
                    else:
                        rows = np.flatnonzero(np.abs(self.lp.row_dual) > 1e-9)
                        self.binding[k] = np.union1d(self.binding.get(k, rows), rows)
        return self.narrow()
