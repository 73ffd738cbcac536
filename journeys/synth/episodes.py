"""Episodes from periods: placement changes, temporary moves and legal-status changes as one event list.

Every period gets events at day offsets: a new placement (BASE), a legal status (LS), the start or
end of a temporary move (TSTART, TEND). Sorting them once and forward-filling each kind gives the
state on every day something changed; each such day starts an episode (SSDA903: a new row whenever
the placement, carer or legal status changes), with RNE saying what changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from journeys.synth import tables as T
from journeys.synth.draw import IntArray, draw, draw_rows, lognormal_days, member
from journeys.synth.periods import AGE_EDGES, BoolArray, Cohort

BASE, LS_EVENT, TEND, TSTART = range(4)
RNE_CODES = ("S", "P", "T", "L", "B", "U")


@dataclass
class Segments:
    """Placements (with a carer) inside periods, sorted by period then start offset."""

    period: IntArray
    offset: IntArray
    kind: IntArray
    same_carer: BoolArray


def _uniform_int(rng: np.random.Generator, lo: IntArray, hi: IntArray) -> IntArray:
    """One integer in [lo, hi) per element (hi > lo)."""
    return (lo + np.floor(rng.random(len(lo)) * (hi - lo))).astype(np.int64)


def _final_placements(rng: np.random.Generator, co: Cohort, age: IntArray,
                      court: BoolArray) -> tuple[IntArray, IntArray]:
    """Offset of a forced last placement (or -1) and the kind row it is drawn from."""
    n = len(co.start)
    d, o = co.dur, co.outcome
    t_final = np.full(n, -1, dtype=np.int64)
    row = np.full(n, -1, dtype=np.int64)
    adopt = o == T.ADOPT
    t_final[adopt] = (d - rng.integers(60, 260, n))[adopt]
    row[adopt] = T.FINAL_ADOPT
    trial = (o == T.HOME_P) & (rng.random(n) < 0.4) & (d > 80) & court
    t_final[trial] = (d - _uniform_int(rng, np.full(n, 45), np.minimum(270, d - 20)))[trial]
    row[trial] = T.FINAL_HOME
    sgo = (o == T.SGO) & (rng.random(n) < 0.2) & (d > 90)
    t_final[sgo] = (d - _uniform_int(rng, np.full(n, 60), np.minimum(365, d - 20)))[sgo]
    row[sgo] = T.FINAL_SGO
    move_on = (member(o, [T.AT18, T.INDEP])) & (co.group >= 3) & (rng.random(n) < 0.4) & ~co.short_break
    t_move = ((16.0 + 1.6 * rng.random(n)) * T.YEAR).astype(np.int64) - age
    move_on &= (t_move > 1) & (t_move < d - 30)
    t_final[move_on] = t_move[move_on]
    row[move_on] = T.FINAL_SUPP
    t_final[t_final < 2] = -1
    row[t_final < 0] = -1
    # the last placement of an SGO or CAO period is with the carers who get the order
    row[(row < 0) & (o == T.SGO)] = T.FINAL_SGO
    row[(row < 0) & (o == T.CAO)] = T.FINAL_CAO
    row[co.short_break] = T.SHORT_BREAK
    return t_final, row


def draw_segments(rng: np.random.Generator, co: Cohort, age: IntArray, route: IntArray) -> Segments:
    """Placements of every period: a first one, moves spread over the period, maybe a forced last.

    Placement with parents (P1) needs a care order, so periods on another legal route never have
    one: those draws become foster care.
    """
    n = len(co.start)
    d = co.dur
    court = route == T.COURT
    t_final, final_row = _final_placements(rng, co, age, court)
    forced = t_final > 0
    t_hi = np.where(forced, t_final, d)
    rate = np.minimum(8.0, T.MOVE_RATE[co.group] * rng.gamma(T.MOVE_RATE_SHAPE, 1 / T.MOVE_RATE_SHAPE, n))
    moves = rng.poisson(rate * np.maximum(0, t_hi - 1) / T.YEAR)
    moves[(t_hi <= 2) | co.short_break] = 0
    moves = np.minimum(moves, 40)
    emergency = (rng.random(n) < T.EMERGENCY_MOVE_P) & (t_hi > 20) & ~co.short_break
    p_move = np.repeat(np.arange(n), moves)
    t_move = _uniform_int(rng, np.ones(len(p_move), dtype=np.int64), t_hi[p_move])
    p_em = np.flatnonzero(emergency)
    t_em = _uniform_int(rng, np.ones(len(p_em), dtype=np.int64), np.minimum(45, t_hi[p_em]))
    p_ff = np.flatnonzero(forced)
    period = np.concatenate([np.arange(n), p_move, p_em, p_ff])
    offset = np.concatenate([np.zeros(n, dtype=np.int64), t_move, t_em, t_final[p_ff]])
    tie = np.concatenate([np.zeros(n), np.ones(len(p_move) + len(p_em)), np.full(len(p_ff), 2)]).astype(np.int64)
    order = np.lexsort((tie, offset, period))
    period, offset = period[order], offset[order]
    # two changes on one day are one change: keep the later
    keep = np.r_[(period[1:] != period[:-1]) | (offset[1:] != offset[:-1]), True]
    period, offset = period[keep], offset[keep]
    last = np.r_[period[1:] != period[:-1], True]
    seg_age = age[period] + offset
    ctx = np.where(co.group[period] == 5, 5, np.searchsorted(AGE_EDGES, seg_age, side="right"))
    use_final = last & (final_row[period] >= 0)
    ctx = np.where(use_final, final_row[period], ctx)
    ctx = np.where(co.short_break[period], T.SHORT_BREAK, ctx)
    kind = draw_rows(rng, T.KIND_WEIGHTS, ctx)
    no_order = (kind == T.K["P1"]) & ~court[period]
    kind[no_order] = np.where(rng.random(int(no_order.sum())) < 0.5, T.K["U3"], T.K["U6"])
    prev = np.r_[-1, kind[:-1]]
    first = np.r_[True, period[1:] != period[:-1]]
    kin, other = np.array(T.FOSTER_KINDS[:3]), np.array(T.FOSTER_KINDS[3:])
    same_family = (member(prev, kin) & member(kind, kin)) | (member(prev, other) & member(kind, other))
    same = (same_family & (prev != kind) & (rng.random(len(kind)) < 0.6))
    same |= member(kind, [T.K["A3"], T.K["A5"]]) & member(prev, T.FOSTER_KINDS)
    return Segments(period=period, offset=offset, kind=kind, same_carer=same & ~first)


def draw_routes(rng: np.random.Generator, co: Cohort, window_start: int) -> tuple[IntArray, IntArray]:
    """Legal route of each period (tables.ROUTE_WEIGHTS) and, for youth justice, which J code.

    A PACE transfer (J2) lasts a night or two, so it shortens its period in place (only for periods
    starting in the window: one already under way must stay open when the window opens).
    """
    n = len(co.start)
    route = draw_rows(rng, T.ROUTE_WEIGHTS, co.outcome)
    route[(route == T.YOUTH) & (co.group < 3)] = T.S20
    route[(route == T.EMERGENCY) & (co.dur > 21)] = T.COURT
    route[co.uasc[co.child]] = T.S20  # unaccompanied children are accommodated under section 20
    youth = draw(rng, [0.6, 0.15, 0.25], n)  # J1, J2, J3
    pace = (route == T.YOUTH) & (youth == 1) & (co.start >= window_start)
    co.dur[pace] = np.minimum(co.dur, rng.integers(1, 4, n))[pace]
    return route, youth


def _snap_to_moves(rng: np.random.Generator, seg: Segments, at: IntArray, share: float,
                   within: int = 60) -> IntArray:
    """Move a share of legal-status changes onto the nearest placement change of their period.

    Courts and moves often coincide (a care order and a new placement the same day): SSDA903 then
    has one episode with RNE B or U rather than two.
    """
    n = len(at)
    moves = seg.offset > 0
    if not moves.any():
        return at
    key = (seg.period[moves] << 26) | seg.offset[moves]
    query = (np.arange(n, dtype=np.int64) << 26) | np.maximum(at, 0)
    after = np.minimum(np.searchsorted(key, query), len(key) - 1)
    best = np.full(n, -1, dtype=np.int64)
    gap = np.full(n, within + 1, dtype=np.int64)
    for idx in (after, np.maximum(after - 1, 0)):
        same = (key[idx] >> 26) == np.arange(n)
        dist = np.abs((key[idx] & ((1 << 26) - 1)) - at)
        better = same & (dist < gap)
        best[better], gap[better] = (key[idx] & ((1 << 26) - 1))[better], dist[better]
    snap = (best > 0) & (rng.random(n) < share)
    return np.where(snap, best, at)


def draw_legal_events(rng: np.random.Generator, co: Cohort, seg: Segments, route: IntArray,
                      youth: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """(period, offset, LS code) of every legal-status start."""
    n = len(co.start)
    d = co.dur
    first_code = np.select(
        [co.short_break, route == T.S20, route == T.YOUTH, route == T.EMERGENCY],
        [np.where(rng.random(n) < 0.85, T.LS["V3"], T.LS["V4"]), np.full(n, T.LS["V2"]), T.LS["J1"] + youth,
         T.LS["L1"] + draw(rng, [0.6, 0.35, 0.05], n)],
        T.LS["C1"])
    court = (route == T.COURT) & ~co.short_break
    police_first = court & (rng.random(n) < 0.14) & (d > 10)
    first_code[police_first] = np.where(rng.random(n) < 0.7, T.LS["L2"], T.LS["L1"])[police_first]
    converted = (route == T.S20) & (rng.random(n) < 0.12) & (d > 90) & ~co.short_break
    c1_at = np.zeros(n, dtype=np.int64)
    c1_at[police_first] = rng.integers(1, 8, n)[police_first]
    c1_at[converted] = _uniform_int(rng, np.full(n, 30), d)[converted]
    c1_at = np.where(converted, _snap_to_moves(rng, seg, c1_at, 0.5), c1_at)
    c2_at = c1_at + lognormal_days(rng, T.INTERIM_ORDER_MEDIAN_DAYS, 0.4, n).astype(np.int64) + 1
    snapped = _snap_to_moves(rng, seg, c2_at, 0.5, within=90)
    c2_at = np.where(snapped > c1_at + 10, snapped, c2_at)
    # placement order (E1) some weeks before the child is placed for adoption
    last_seg = np.r_[seg.period[1:] != seg.period[:-1], True]
    adopt_from = np.zeros(n, dtype=np.int64)
    adopt_from[seg.period[last_seg]] = seg.offset[last_seg]
    e1_at = adopt_from - rng.integers(60, 420, n)
    adopt = (co.outcome == T.ADOPT) & (e1_at > c1_at + 10) & ~co.short_break
    has_c1 = police_first | converted
    has_c2 = (court | converted) & (c2_at < d) & ~(adopt & (c2_at >= e1_at - 10))
    parts = [(np.arange(n), np.zeros(n, dtype=np.int64), first_code),
             (np.flatnonzero(has_c1), c1_at[has_c1], np.full(int(has_c1.sum()), T.LS["C1"])),
             (np.flatnonzero(has_c2), c2_at[has_c2], np.full(int(has_c2.sum()), T.LS["C2"])),
             (np.flatnonzero(adopt), e1_at[adopt], np.full(int(adopt.sum()), T.LS["E1"]))]
    period = np.concatenate([p[0] for p in parts])
    offset = np.concatenate([p[1] for p in parts])
    code = np.concatenate([p[2] for p in parts]).astype(np.int64)
    return period, offset, code


def draw_temporary_moves(rng: np.random.Generator, co: Cohort,
                         d: IntArray) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """(period, start offset, end offset, T code) of temporary moves, inside their periods."""
    n = len(co.start)
    count = rng.poisson(T.TEMP_RATE[co.group] * d / T.YEAR)
    count[(d < 30) | co.short_break] = 0
    count = np.minimum(count, 6)
    period = np.repeat(np.arange(n), count)
    code = draw(rng, T.TEMP_WEIGHTS, len(period))
    length = _uniform_int(rng, T.TEMP_DAYS[code, 0], T.TEMP_DAYS[code, 1] + 1)
    room = d[period] - length - 2
    ok = room >= 1
    start = 1 + np.floor(rng.random(len(period)) * np.maximum(room, 1)).astype(np.int64)
    return period[ok], start[ok], start[ok] + length[ok], code[ok]
