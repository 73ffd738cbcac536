"""Quarterly flows: where each child was when a quarter began and where they were when it ended."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from journeys.stages import OPEN, StageModel
from journeys.suppress import DEFAULT_THRESHOLD, SuppressedTable, suppress_table

NOT_KNOWN = "not_known"  # not known to any service the data covers at that moment
_PERIOD = re.compile(r"^(\d{4})Q([1-4])$")


@dataclass(frozen=True)
class Period:
    """A calendar quarter, keyed `YYYYQn` everywhere (2023Q2 = April to June 2023)."""

    year: int
    quarter: int

    @classmethod
    def parse(cls, key: str) -> Period:
        """'2023Q2' -> Period(2023, 2); anything else is a ValueError that says the form.

        >>> Period.parse("2023Q2").label
        '2023-24 Q1'
        """
        match = _PERIOD.match(key.strip().upper())
        if not match:
            raise ValueError(f"'{key}' is not a quarter: write it as 2023Q2 (April to June 2023)")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def key(self) -> str:
        return f"{self.year}Q{self.quarter}"

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 3 * self.quarter - 2, 1)

    @property
    def end(self) -> dt.date:
        """The last day of the quarter."""
        nxt = dt.date(self.year + (self.quarter == 4), (3 * self.quarter) % 12 + 1, 1)
        return nxt - dt.timedelta(days=1)

    def next(self) -> Period:
        """The quarter after this one.

        >>> Period(2023, 4).next().key, Period(2024, 1).previous().key
        ('2024Q1', '2023Q4')
        """
        return Period(self.year + (self.quarter == 4), self.quarter % 4 + 1)

    def previous(self) -> Period:
        """The quarter before this one."""
        return Period(self.year - (self.quarter == 1), (self.quarter - 2) % 4 + 1)

    @property
    def label(self) -> str:
        """The councils' financial-year label: calendar Q2 is Q1 of the year starting in April."""
        fy = self.year if self.quarter > 1 else self.year - 1
        return f"{fy}-{(fy + 1) % 100:02d} Q{(self.quarter - 2) % 4 + 1}"


def year_label(year: int) -> str:
    """The financial year ending 31 March `year`, as councils write it (the CIN and SSDA903 collection year).

    >>> year_label(2024)
    '2023-24'
    """
    return f"{year - 1}-{year % 100:02d}"


def _stage_at(spells: pd.DataFrame, moment: pd.Timestamp) -> pd.Series:
    """Each child's stage at the start of a day (children in no stage are left out)."""
    still_open = spells["next_stage"] == OPEN
    covers = (spells["start"] <= moment) & ((moment < spells["end"]) | (still_open & (moment <= spells["end"])))
    hit = spells[covers]
    return pd.Series(hit["stage"].to_numpy(), index=hit["person_id"].to_numpy())


def one_child_per_council(spells: pd.DataFrame) -> pd.DataFrame:
    """The spells with person_id made unique across councils (the same pseudonym in two councils is two children)."""
    if "authority" in spells and spells["authority"].nunique() > 1:
        return spells.assign(person_id=spells["authority"].astype("str") + "|" + spells["person_id"].astype("str"))
    return spells


def quarter_places(spells: pd.DataFrame, period: Period, model: StageModel) -> pd.DataFrame:
    """One row per child known in the quarter: person_id, from_stage (first day), to_stage (last day or outcome)."""
    first, last = pd.Timestamp(period.start), pd.Timestamp(period.end)
    # "at the start" is the day before the quarter, the same snapshot as the previous quarter's end, so a
    # start or end dated the quarter's first day belongs to this quarter and every move is counted once
    before = first - pd.Timedelta(days=1)
    during = spells[(spells["start"] <= last) & ((spells["end"] >= first) | (spells["next_stage"] == OPEN))]
    during = one_child_per_council(during)
    children = pd.Index(during["person_id"].unique())
    at_start = _stage_at(during, before).reindex(children).fillna(NOT_KNOWN)
    at_end = _stage_at(during, last).reindex(children)
    outcomes = set(model.of_kind("outcome"))
    ended = during[during["next_stage"].isin(outcomes) & (during["end"] > before) & (during["end"] <= last)]
    ended = ended.sort_values("end", kind="stable").drop_duplicates("person_id", keep="last")
    at_end = at_end.fillna(pd.Series(ended["next_stage"].to_numpy(), index=ended["person_id"].to_numpy()))
    return pd.DataFrame({"person_id": children.to_numpy(), "from_stage": at_start.to_numpy(),
                         "to_stage": at_end.fillna(NOT_KNOWN).to_numpy()})


def _order(model: StageModel) -> list[str]:
    """The order of a flows table's rows and columns: not known first, then the stage model's."""
    return [NOT_KNOWN, *model.ids]


def _ordered(counts: pd.DataFrame, model: StageModel) -> pd.DataFrame:
    """The counts in _order's order, with the 'not known' row and column wherever anyone is counted (as counts_for)."""
    present_rows, present_cols = set(counts.index), set(counts.columns)
    if len(counts) and counts.to_numpy().any():
        present_rows.add(NOT_KNOWN)
        present_cols.add(NOT_KNOWN)
    rows = [s for s in _order(model) if s in present_rows]
    cols = [s for s in _order(model) if s in present_cols]
    return counts.reindex(index=rows, columns=cols, fill_value=0).astype(np.int64)


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of a column and their names (a categorical's own codes where it is one)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64), pd.Index(values.cat.categories.astype("str"))
    codes, names = pd.factorize(values.to_numpy())
    return codes.astype(np.int64), pd.Index(names, dtype="str")


@dataclass(frozen=True)
class CodedSpells:
    """Spells as integer codes for counting quarters: one coding serves every quarter of a window."""

    start: np.ndarray  # datetime64[us]
    end: np.ndarray
    stage: np.ndarray  # codes into vocab
    after: np.ndarray  # next_stage, codes into vocab
    still_open: np.ndarray
    child: np.ndarray  # 0 .. children - 1 (a pseudonym in two councils is two children)
    children: int
    vocab: pd.Index  # NOT_KNOWN first
    step: np.ndarray | None = None  # where the spells have them (the per-stage counts need them)
    moves: np.ndarray | None = None


def coded_spells(spells: pd.DataFrame) -> CodedSpells:
    """The spells coded once for counting quarters (window_flows; the app codes all its spells once)."""
    stage, stage_names = _codes(spells["stage"])
    after, after_names = _codes(spells["next_stage"])
    vocab = pd.Index([NOT_KNOWN]).append(stage_names).append(after_names).unique()
    stage, after = vocab.get_indexer(stage_names)[stage], vocab.get_indexer(after_names)[after]
    person = pd.factorize(spells["person_id"].to_numpy())[0].astype(np.int64)
    if "authority" in spells and person.size:  # the same pseudonym in two councils: two children
        person = pd.factorize(_codes(spells["authority"])[0] * (int(person.max()) + 1) + person)[0]
    return CodedSpells(start=spells["start"].to_numpy("datetime64[us]"), end=spells["end"].to_numpy("datetime64[us]"),
                  stage=stage, after=after, still_open=after == (vocab.get_loc(OPEN) if OPEN in vocab else -1),
                  child=person, children=int(person.max()) + 1 if person.size else 0, vocab=vocab,
                  step=spells["step"].to_numpy(np.int64) if "step" in spells else None,
                  moves=spells["moves"].to_numpy(np.int64) if "moves" in spells else None)


def quarter_flows(spells: pd.DataFrame, period: Period, model: StageModel) -> pd.DataFrame:
    """Counts of children by (stage at the quarter's start, stage or outcome at its end).

    A child counts once: from the stage they were in as the quarter began (at the end of the day
    before it, the previous quarter's end; or `not_known`) to the stage they were in on the last
    day, or the outcome of a journey that ended in the quarter, or `not_known`. Stages entered and
    left within the quarter are not boundary stock; the journeys view shows them. The same rules
    as quarter_places, on integer codes (no per-child strings): the flows page counts several
    quarters per view (window_flows codes them once).
    """
    return window_flows(spells, [period], model)[period]


def window_flows(spells: pd.DataFrame, periods: list[Period], model: StageModel) -> dict[Period, pd.DataFrame]:
    """quarter_flows for several quarters, coding the spells that touch them once."""
    if not periods:
        return {}
    first = np.datetime64(pd.Timestamp(min(p.start for p in periods)), "us")
    last = np.datetime64(pd.Timestamp(max(p.end for p in periods)), "us")
    near = (spells["start"].to_numpy("datetime64[us]") <= last) & (
        (spells["end"].to_numpy("datetime64[us]") >= first) | spells["next_stage"].eq(OPEN).to_numpy(bool))
    coded = coded_spells(spells[near])
    return {period: _flows(coded, period, model) for period in periods}


def _flows(c: CodedSpells, period: Period, model: StageModel) -> pd.DataFrame:
    return counts_for(c, quarter_rows(c, period, model), None, model)


@dataclass(frozen=True)
class QuarterRows:
    """A quarter's spells in a coding (`rows`), with what each says about the quarter, for any choice of them."""

    rows: np.ndarray  # positions into the coding, in its order
    child: np.ndarray  # each row's child, numbered 0 .. children - 1 within the quarter
    children: int
    at_start: np.ndarray  # the stage code of a spell covering the end of the day before the quarter, else -1
    at_end: np.ndarray  # the stage code of a spell covering its last day, else -1
    ended: np.ndarray  # positions into rows of spells that end a journey with an outcome in it, by end (stable)
    entered: np.ndarray  # spells starting in the quarter
    left: np.ndarray  # spells ending in the quarter, not still open


def quarter_rows(c: CodedSpells, period: Period, model: StageModel) -> QuarterRows:
    """The spells of the coding that touch the quarter, and the stage each shows at its start and end.

    Worked out once per quarter; counts_for then counts any choice of these spells (a filter's
    journeys) by the rules of quarter_flows, in the same order, so the results are the same.
    """
    first, last = np.datetime64(pd.Timestamp(period.start), "us"), np.datetime64(pd.Timestamp(period.end), "us")
    before = np.datetime64(pd.Timestamp(period.start) - pd.Timedelta(days=1), "us")
    rows = np.flatnonzero((c.start <= last) & ((c.end >= first) | c.still_open))
    start, end, stage, after, still_open = c.start[rows], c.end[rows], c.stage[rows], c.after[rows], c.still_open[rows]

    def stage_on(day: np.datetime64) -> np.ndarray:
        return np.where((start <= day) & ((day < end) | (still_open & (day <= end))), stage, -1)

    ended = np.isin(after, c.vocab.get_indexer(model.of_kind("outcome"))) & (end > before) & (end <= last)
    order = np.flatnonzero(ended)[np.argsort(end[ended], kind="stable")]
    small = np.int16 if c.vocab.size < 2**15 else np.int64  # the app keeps these per quarter: stay small
    index = np.int32 if c.start.size < 2**31 else np.int64
    present = np.zeros(c.children, dtype=bool)
    present[c.child[rows]] = True
    local = np.cumsum(present) - 1  # the quarter's children renumbered in order: counting touches only them
    return QuarterRows(rows=rows.astype(index), child=local[c.child[rows]].astype(index), children=int(present.sum()),
                       at_start=stage_on(before).astype(small), at_end=stage_on(last).astype(small),
                       ended=order.astype(index), entered=(start > before) & (start <= last),
                       left=~still_open & (end > before) & (end <= last))


def counts_for(c: CodedSpells, q: QuarterRows, chosen: np.ndarray | None, model: StageModel) -> pd.DataFrame:
    """The quarter's flow counts from the rows `chosen` (a bool per row of q; None: all).

    A child counts once, from the stage shown at the start (or not known) to the stage shown at the
    end, else the outcome of their latest journey ending in the quarter, else not known.
    """
    take = np.ones(q.rows.size, dtype=bool) if chosen is None else np.asarray(chosen, dtype=bool)
    picked = np.flatnonzero(take)  # the chosen rows only, in row order: a narrow filter touches few
    child = q.child[picked]
    at_start, at_end = _stage_of_child(q, q.at_start, picked), _stage_of_child(q, q.at_end, picked)
    order = q.ended[take[q.ended]]
    outcome = np.full(q.children, -1, dtype=np.int64)
    outcome[q.child[order]] = c.after[q.rows[order]]  # the latest ending wins, as in quarter_places
    present = np.zeros(q.children, dtype=bool)  # the chosen children, in order (a scatter, not a sort)
    present[child] = True
    known = np.flatnonzero(present)
    at_start, at_end = at_start[known].astype(np.int64), at_end[known]
    at_end = np.where(at_end >= 0, at_end, outcome[known])
    at_start, at_end = np.where(at_start >= 0, at_start, 0), np.where(at_end >= 0, at_end, 0)
    size = c.vocab.size
    grid = np.bincount(at_start * size + at_end, minlength=size**2).reshape(size, size)
    # rows and columns in _order's order, picked by code: no reindex
    labels = c.vocab.tolist()
    rank = _rank(labels, model)
    # 'not known' always has its row and column where anyone is counted (zeros too): a table hiding all but its
    # stocks (suppress._cover) needs them to absorb what its hidden cells could be
    known = np.asarray(labels, dtype=object) == NOT_KNOWN if grid.any() else np.zeros(size, dtype=bool)
    rows, columns = (np.flatnonzero((used | known) & (rank >= 0)) for used in (grid.any(axis=1), grid.any(axis=0)))
    rows, columns = rows[np.argsort(rank[rows], kind="stable")], columns[np.argsort(rank[columns], kind="stable")]
    return pd.DataFrame(grid[np.ix_(rows, columns)].astype(np.int64),
                        index=pd.Index([labels[k] for k in rows], dtype="str"),
                        columns=pd.Index([labels[k] for k in columns], dtype="str"))


def stocks_for(q: QuarterRows, chosen: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The children in each stage code at the quarter's start and at its end, from the rows `chosen`: counts_for's
    row and column totals for its stages, without the table (the trends need only these). None where no row is
    chosen (counts_for's table is then empty).

    A child counts once, in the stage of the last chosen row showing one, as counts_for takes it.
    """
    picked = np.flatnonzero(chosen)
    if not picked.size:
        return None
    start, end = (_stage_of_child(q, codes, picked) for codes in (q.at_start, q.at_end))
    return np.bincount(start[start >= 0], minlength=size), np.bincount(end[end >= 0], minlength=size)


def _stage_of_child(q: QuarterRows, codes: np.ndarray, picked: np.ndarray) -> np.ndarray:
    """Per child of the quarter, the stage code of the last `picked` row showing one (`codes`: at start or at
    end), else -1: a child counts once, as the spells come."""
    at = np.full(q.children, -1, dtype=codes.dtype)  # the codes' own small type: a third of the memory traffic
    mine = codes[picked]
    shown = np.flatnonzero(mine >= 0)
    at[q.child[picked][shown]] = mine[shown]  # in row order, as the spells come
    return at


def _rank(labels: list[str], model: StageModel) -> np.ndarray:
    """Each code's place in _order, -1 where it has none."""
    order = {stage: k for k, stage in enumerate(_order(model))}
    return np.array([order.get(str(label), -1) for label in labels], dtype=np.int64)


def perturbed_flows(spells: pd.DataFrame, period: Period, model: StageModel, secret: str) -> pd.DataFrame:
    """The quarter's flow counts with ONS cell-key noise (viewer mode): the same children, the same noise.

    Each child's record key comes from their pseudonym and `secret`; a cell's noise depends only on
    the set of children in it, so no two filtered views can be differenced to an exact small count.
    """
    from journeys.perturb import keyed_counts, perturb_counts, record_keys

    places = quarter_places(spells, period, model)
    places["record_key"] = record_keys(places["person_id"], None, secret)
    cells = keyed_counts(places, ["from_stage", "to_stage"])
    cells["count"] = perturb_counts(cells["count"].to_numpy(), cells["cell_key"].to_numpy())
    table = cells.pivot_table(index="from_stage", columns="to_stage", values="count", aggfunc="sum", fill_value=0)
    return _ordered(table, model)


def quarter_counts(spells: pd.DataFrame, period: Period, model: StageModel, secret: str | None = None) -> pd.DataFrame:
    """The quarter's flow counts: exact, or with cell-key noise when a viewer's `secret` is given."""
    return quarter_flows(spells, period, model) if secret is None else perturbed_flows(spells, period, model, secret)


def window_counts(spells: pd.DataFrame, periods: list[Period], model: StageModel,
                  secret: str | None = None) -> dict[Period, pd.DataFrame]:
    """quarter_counts for several quarters (exact ones coded once)."""
    if secret is None:
        return window_flows(spells, periods, model)
    return {period: perturbed_flows(spells, period, model, secret) for period in periods}


def suppressed_flows(spells: pd.DataFrame, period: Period, model: StageModel,
                     threshold: int = DEFAULT_THRESHOLD, secret: str | None = None) -> SuppressedTable:
    """The quarter's flow table after primary and secondary suppression (the only form that leaves).

    Stocks shared with the quarters before and after are shown by one rule (journeys.stocks). With a
    `secret` (viewer mode) the counts are perturbed by the cell-key method first.
    """
    from journeys.quarter_links import dict_memo, quarter_table

    memo = dict_memo()

    def counts_of(p: Period) -> pd.DataFrame:
        return memo(("counts", p.key), lambda: quarter_counts(spells, p, model, secret))

    table = quarter_table(period, counts_of, model, threshold, memo)
    return suppress_table(counts_of(period), threshold=threshold) if table is None else table


def flows_long(table: SuppressedTable, period: Period) -> pd.DataFrame:
    """One row per published cell: period, label, from_stage, to_stage, count ('c' where hidden)."""
    cells = table.long()
    return pd.DataFrame({"period": period.key, "period_label": period.label, "from_stage": cells["row"],
                         "to_stage": cells["column"], "count": cells["display"]})
