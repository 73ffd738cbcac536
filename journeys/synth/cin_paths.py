"""What happens to a referral, drawn for many at once: assessments, plans, s47 enquiries, CP plans, closure.

Everything is integer days since 1970-01-01. Social work happens on working days, so each date is
drawn from the one before it and moved to a working day (np.busday_offset): forward when following an
event, backward when leading up to a fixed one (a child coming into care). Moving never changes the
order of two dates, so every block stays coherent by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from journeys.synth import cin_tables as C
from journeys.synth.draw import IntArray, draw_rows

Table = dict[str, npt.NDArray[np.int64]]
BLOCK_KEYS = ("child", "ref", "closure", "reason", "route", "need", "source_ctx", "factor_ctx", "early", "nfa",
              "care")
MODULE_KEYS = {"asm": ("block", "start", "auth"), "plan": ("block", "start", "end"),
               "s47": ("block", "start", "icpc", "not_required", "concluded"),
               "cp": ("block", "start", "end", "cat0", "cat1", "change")}


def _empty(keys: tuple[str, ...]) -> Table:
    return {k: np.zeros(0, dtype=np.int64) for k in keys}


@dataclass
class Parts:
    """CINdetails blocks and their modules; each module row's `block` is a row number in `blocks`."""

    blocks: Table = field(default_factory=lambda: _empty(BLOCK_KEYS))
    asm: Table = field(default_factory=lambda: _empty(MODULE_KEYS["asm"]))
    plan: Table = field(default_factory=lambda: _empty(MODULE_KEYS["plan"]))
    s47: Table = field(default_factory=lambda: _empty(MODULE_KEYS["s47"]))
    cp: Table = field(default_factory=lambda: _empty(MODULE_KEYS["cp"]))

    @property
    def n(self) -> int:
        """Number of blocks."""
        return len(self.blocks["ref"])

    def modules(self) -> dict[str, Table]:
        """The module tables by name."""
        return {"asm": self.asm, "plan": self.plan, "s47": self.s47, "cp": self.cp}

    @staticmethod
    def concat(parts: list[Parts]) -> Parts:
        """All parts as one, block numbers shifted."""
        out = Parts()
        offsets = np.cumsum([0] + [p.n for p in parts])
        out.blocks = {k: np.concatenate([p.blocks[k] for p in parts]).astype(np.int64) for k in BLOCK_KEYS}
        for name, keys in MODULE_KEYS.items():
            tables = [getattr(p, name) for p in parts]
            joined = {k: np.concatenate([t[k] + (offsets[i] if k == "block" else 0) for i, t in enumerate(tables)])
                      for k in keys}
            setattr(out, name, {k: v.astype(np.int64) for k, v in joined.items()})
        return out

    def keep(self, mask: npt.NDArray[np.bool_]) -> Parts:
        """Only the blocks in `mask` (and their modules), renumbered."""
        new_no = np.cumsum(mask) - 1
        out = Parts(blocks={k: v[mask] for k, v in self.blocks.items()})
        for name, table in self.modules().items():
            rows = mask[table["block"]]
            kept = {k: v[rows] for k, v in table.items()}
            kept["block"] = new_no[kept["block"]]
            setattr(out, name, kept)
        return out


# --- dates ---------------------------------------------------------------------------------------------------
def days_of(values: pd.Series) -> IntArray:
    """Dates as days since 1970-01-01 (-1 for missing)."""
    raw = values.to_numpy(dtype="datetime64[D]")
    return np.where(np.isnat(raw), -1, raw.astype(np.int64))


def fwd(days: npt.ArrayLike) -> IntArray:
    """The same day if a working day, else the next one."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    return np.busday_offset(d, 0, roll="forward").astype(np.int64)


def bwd(days: npt.ArrayLike) -> IntArray:
    """The same day if a working day, else the one before."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    return np.busday_offset(d, 0, roll="backward").astype(np.int64)


def add_working_days(days: npt.ArrayLike, n: int) -> IntArray:
    """`n` working days after each day (from the next working day if it is not one)."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    return np.busday_offset(d, n, roll="forward").astype(np.int64)


def span(rng: np.random.Generator, spec: C.Span, n: int) -> IntArray:
    """Log-normal durations in whole days around a median, clipped to [lowest, highest]."""
    median, sigma, lo, hi = spec
    return np.clip(np.rint(median * np.exp(sigma * rng.standard_normal(n))), lo, hi).astype(np.int64)


def uniform(rng: np.random.Generator, lo: int, hi: int, n: int) -> IntArray:
    """Whole days from lo to hi inclusive."""
    return rng.integers(lo, hi + 1, n).astype(np.int64)


def categories(rng: np.random.Generator, n: int) -> tuple[IntArray, IntArray]:
    """Initial and latest category of abuse of n CP plans."""
    first = draw_rows(rng, C.CATEGORY_WEIGHTS, np.zeros(n, dtype=np.int64))
    later = draw_rows(rng, C.CATEGORY_WEIGHTS, np.zeros(n, dtype=np.int64))
    return first, np.where(rng.random(n) < C.P_CATEGORY_CHANGES, later, first)


def cp_rows(rng: np.random.Generator, block: IntArray, start: IntArray, end: IntArray) -> Table:
    """CP plan rows with categories and the day the latest category was set."""
    cat0, cat1 = categories(rng, len(block))
    change = start + np.floor(rng.random(len(block)) * (end - start)).astype(np.int64)
    return {"block": block, "start": start, "end": end, "cat0": cat0, "cat1": cat1,
            "change": np.where(cat1 == cat0, start, change)}


def _rows(block: IntArray, mask: npt.NDArray[np.bool_], **cols: IntArray) -> Table:
    return {"block": block[mask], **{k: np.asarray(v)[mask].astype(np.int64) for k, v in cols.items()}}


def _blocks(n: int, **cols: npt.ArrayLike) -> Table:
    out = {k: np.zeros(n, dtype=np.int64) for k in BLOCK_KEYS}
    for k, v in cols.items():
        out[k] = np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)).copy()
    return out


def forward_blocks(rng: np.random.Generator, child: IntArray, ref: IntArray, route: IntArray) -> Parts:
    """Blocks starting with a referral on `ref`, following their route to closure (never into care)."""
    n = len(ref)
    idx = np.arange(n)
    is_ = {r: route == r for r in range(len(C.ROUTES))}
    s47, in_need = is_[C.S47], is_[C.IN_NEED] | is_[C.DISABLED]
    assessed = is_[C.NO_NEED] | in_need | (s47 & (rng.random(n) < C.P_ASSESS_S47))
    # the enquiry, or the assessment, starts on the day of the referral or within two weeks
    lag = np.where(rng.random(n) < 0.5, 0, uniform(rng, 1, 14, n))
    s_start = fwd(ref + lag)
    a_start = np.where(s47, fwd(s_start + uniform(rng, 0, 2, n)), fwd(ref + lag))
    a_auth = fwd(a_start + span(rng, C.ASSESSMENT_DAYS, n))
    closure = ref.copy()
    reason = np.full(n, C.RC["RC8"], dtype=np.int64)
    early = np.zeros(n, dtype=bool)
    # not found in need: closed at assessment (RC8, or RC9 once it exists)
    closure = np.where(is_[C.NO_NEED], fwd(a_auth + uniform(rng, 0, 10, n)), closure)
    early |= is_[C.NO_NEED] & (rng.random(n) < C.P_EARLY_HELP)
    # in need: a CIN plan, or support without one
    plan_p = np.where(is_[C.DISABLED], C.P_PLAN_DISABLED, C.P_PLAN_IN_NEED)
    planned = in_need & (rng.random(n) < plan_p)
    p0 = fwd(a_auth + uniform(rng, 0, 21, n))
    length = np.where(is_[C.DISABLED], span(rng, C.DISABLED_PLAN_DAYS, n), span(rng, C.CIN_PLAN_DAYS, n))
    p1 = fwd(p0 + length)
    closure = np.where(in_need, np.where(planned, fwd(p1 + uniform(rng, 0, 30, n)),
                                         fwd(a_auth + span(rng, C.CIN_NO_PLAN_DAYS, n))), closure)
    # section 47: a conference or not; a CP plan or not; a CIN plan after, or closure
    conf = s47 & (rng.random(n) < C.P_ICPC)
    icpc = fwd(s_start + span(rng, C.ICPC_DAYS, n))
    concluded = np.where(conf, icpc, fwd(s_start + span(rng, C.S47_NO_ICPC_DAYS, n)))
    protected = conf & (rng.random(n) < C.P_CP)
    cp1 = fwd(icpc + span(rng, C.CP_DAYS, n))
    after = np.where(protected, cp1, concluded)
    p_after = np.where(protected, C.P_PLAN_AFTER["cp"], np.where(conf, C.P_PLAN_AFTER["icpc"],
                                                                 C.P_PLAN_AFTER["no_icpc"]))
    stepped = s47 & (rng.random(n) < p_after)
    sp0 = np.where(protected, cp1, fwd(after + uniform(rng, 0, 14, n)))
    sp1 = fwd(sp0 + span(rng, C.STEP_DOWN_DAYS, n))
    s47_close = np.where(stepped, fwd(sp1 + uniform(rng, 0, 30, n)), fwd(after + uniform(rng, 0, 30, n)))
    closure = np.where(s47, s47_close, closure)
    early |= s47 & assessed & ~conf & ~stepped & (rng.random(n) < C.P_EARLY_HELP)
    # referrals closed without assessment or enquiry: advice, transfers
    closure = np.where(is_[C.OTHER], fwd(ref + span(rng, C.OTHER_DAYS, n)), closure)
    closure = np.where(assessed, np.maximum(closure, a_auth), closure)
    transferred = rng.random(n) < C.P_TRANSFERRED
    reason = np.where(in_need | s47, np.where(transferred, C.RC["RC5"], C.RC["RC7"]), reason)
    reason = np.where(is_[C.OTHER], np.where(rng.random(n) < 0.3, C.RC["RC5"], C.RC["RC7"]), reason)
    need_row = np.select([is_[C.NO_NEED], in_need, s47], [0, 1, 2], 3)
    need = draw_rows(rng, C.NEED_WEIGHTS, need_row)
    need = np.where(is_[C.DISABLED], C.NEEDS.index("N2"), np.where(is_[C.NFA], -1, need))
    factor_ctx = np.select([is_[C.NO_NEED], is_[C.DISABLED], s47], [C.FACTORS_NOT_IN_NEED, C.FACTORS_DISABLED,
                                                                     C.FACTORS_ABUSE], C.FACTORS_IN_NEED)
    blocks = _blocks(n, child=child, ref=ref, closure=closure, reason=reason, route=route, need=need,
                     source_ctx=C.SOURCE_GENERAL, factor_ctx=factor_ctx, early=early, nfa=is_[C.NFA])
    plan = {k: np.concatenate([a, b]) for (k, a), b in zip(
        _rows(idx, planned, start=p0, end=p1).items(), _rows(idx, stepped, start=sp0, end=sp1).values())}
    return Parts(
        blocks=blocks, asm=_rows(idx, assessed, start=a_start, auth=a_auth), plan=plan,
        s47=_rows(idx, s47, start=s_start, icpc=np.where(conf, icpc, -1), not_required=~conf, concluded=concluded),
        cp=cp_rows(rng, idx[protected], icpc[protected], cp1[protected]))


def fit_after(floor: IntArray, care: IntArray, *days: IntArray) -> list[IntArray]:
    """Squeeze dates leading up to `care` so that none falls before `floor` (order kept, -1 left alone)."""
    present = [d >= 0 for d in days]
    earliest = np.min([np.where(p, d, care) for d, p in zip(days, present)], axis=0)
    room = np.maximum(care - floor, 0)
    scale = np.where(care - earliest > room, room / np.maximum(care - earliest, 1), 1.0)
    out = []
    for d, p in zip(days, present):
        squeezed = care - np.floor((care - d) * scale).astype(np.int64)
        out.append(np.where(p, np.maximum(bwd(squeezed), floor), -1))
    return out
