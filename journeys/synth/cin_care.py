"""The front door of children who come into care: the referral and work that lead to each period of care.

Each period of care (from the SSDA903 episodes) gets the work done before it, drawn backward from the
day care started: an emergency (a referral days before), an assessment, a CIN plan, an s47 enquiry or
a child protection plan. The CINdetails block stays open while the child is in care and closes after
they leave (at once when adopted or on an order, after some support when they go home). A child who
comes back into care before that block has closed stays in it: the work before the new period then
happens inside the open block.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from journeys.synth import cin_tables as C
from journeys.synth.cin_paths import (Parts, Table, _blocks, _rows, bwd, cp_rows, days_of, fit_after,
                                      forward_blocks, fwd, span, uniform)
from journeys.synth.draw import IntArray, draw_rows

YEAR = 365.25
PRE_BIRTH_DAYS = 200  # the earliest a pre-birth referral comes (about 20 weeks into a pregnancy)
SHORT_BREAKS = ("V3", "V4")
_HOME = ("E4A", "E4B", "E13")
_ORDER = {"E11": "RC1", "E12": "RC1", "E45": "RC4", "E46": "RC4", "E47": "RC4", "E48": "RC4", "E41": "RC3",
          "E2": "RC2"}
_ADULT = ("E3", "E7")



def care_periods(episodes: pd.DataFrame, child_ids: pd.Index) -> dict[str, np.ndarray]:
    """Periods of care (short breaks left out): child (position in child_ids), start, end (-1 open), rec, need."""
    care = episodes[~episodes["LS"].astype("str").isin(SHORT_BREAKS)]
    child = care["CHILD"].astype("str").to_numpy()
    decom = days_of(care["DECOM"])
    order = np.lexsort((decom, child))
    child, decom = child[order], decom[order]
    dec = days_of(care["DEC"])[order]
    rec = care["REC"].astype("str").fillna("").to_numpy()[order]
    rec = np.where(pd.isna(rec), "", rec)
    rne = care["RNE"].astype("str").to_numpy()[order]
    need = care["CIN"].astype("str").to_numpy()[order]
    n = len(child)
    first_of_child = np.r_[True, child[1:] != child[:-1]] if n else np.zeros(0, dtype=bool)
    ended = (rec != "") & (rec != "X1")
    start_row = np.flatnonzero(first_of_child | np.r_[False, ended[:-1]])
    last_row = np.r_[start_row[1:] - 1, n - 1] if n else start_row
    closed = ended[last_row]
    need_code = pd.Series(need[start_row]).map({c: i for i, c in enumerate(C.NEEDS)}).fillna(0)
    return {"child": child_ids.get_indexer(child[start_row]).astype(np.int64), "start": decom[start_row],
            "end": np.where(closed, dec[last_row], -1), "rec": np.where(closed, rec[last_row], ""),
            "need": need_code.to_numpy(dtype=np.int64),
            "first": first_of_child[start_row], "truncated": first_of_child[start_row] & (rne[start_row] != "S")}


def lead_in(rng: np.random.Generator, care: IntArray, stage: IntArray, floor: IntArray, referral: bool,
            uasc: npt.NDArray[np.bool_]) -> tuple[IntArray, Parts]:
    """The work before each period of care; returns (referral day or -1, modules with block = period)."""
    n = len(care)
    idx = np.arange(n)
    prot, enq, planned_stage = stage == C.PROTECTED, stage == C.ENQUIRY, stage == C.PLANNED
    assessed_stage, direct = stage == C.ASSESSED, stage == C.DIRECT
    cp0 = bwd(care - span(rng, C.CP_BEFORE_CARE_DAYS, n))
    emergency_s47 = direct & ~uasc & (rng.random(n) < C.P_S47_AT_EMERGENCY)
    has_s47 = prot | enq | emergency_s47
    s_start = np.select([prot, enq], [bwd(cp0 - span(rng, C.ICPC_DAYS, n)), bwd(care - uniform(rng, 1, 45, n))],
                        bwd(care - uniform(rng, 0, 2, n)))
    plan_before = planned_stage | ((prot | enq) & (rng.random(n) < C.P_PLAN_BEFORE_S47))
    plan_len = span(rng, C.PLAN_BEFORE_CARE_DAYS, n)
    plan0 = np.where(planned_stage, bwd(care - plan_len), bwd(s_start - plan_len))
    asm_len = span(rng, C.ASSESSMENT_DAYS, n)
    auth_pre = bwd(plan0 - uniform(rng, 0, 7, n))
    start_pre = bwd(auth_pre - asm_len)
    with_pre = plan_before & referral
    cp0, s_start, plan0, start_pre, auth_pre = fit_after(
        floor, care, np.where(prot, cp0, -1), np.where(has_s47, s_start, -1), np.where(plan_before, plan0, -1),
        np.where(with_pre, start_pre, -1), np.where(with_pre, auth_pre, -1))
    # the assessment: before the plan, alongside the enquiry, in the weeks before care, or just after it
    has_asm = referral & (~direct | (rng.random(n) < 0.85))
    start_other = np.select([prot | enq, assessed_stage], [bwd(s_start - uniform(rng, 0, 3, n)),
                                                           bwd(care - uniform(rng, 0, 40, n))],
                            bwd(care - uniform(rng, 0, 2, n)))
    start_other = np.maximum(start_other, floor)
    a_start = np.where(with_pre, start_pre, start_other)
    a_auth = np.where(with_pre, auth_pre, fwd(start_other + asm_len))
    events = [np.where(has_asm, a_start, care), np.where(has_s47, s_start, care), np.where(plan_before, plan0, care)]
    first_event = np.min(events, axis=0)
    lag = np.where(direct, uniform(rng, 0, 1, n), np.where(rng.random(n) < 0.5, 0, uniform(rng, 1, 10, n)))
    ref = np.where(referral, bwd(first_event - lag), -1)
    concluded = np.select([prot, enq], [cp0, care], fwd(s_start + uniform(rng, 1, 10, n)))
    cp_end = np.where(rng.random(n) < C.P_CP_ENDS_AT_ENTRY, care, fwd(care + uniform(rng, 1, 60, n)))
    parts = Parts(
        asm=_rows(idx, has_asm, start=a_start, auth=a_auth),
        plan=_rows(idx, plan_before, start=plan0, end=np.where(prot, cp0, care)),
        s47=_rows(idx, has_s47, start=s_start, icpc=np.where(prot, cp0, -1), not_required=~prot, concluded=concluded),
        cp=cp_rows(rng, idx[prot], cp0[prot], np.maximum(cp_end[prot], cp0[prot] + 1)))
    return ref, parts


def post_care(rng: np.random.Generator, end: IntArray, rec: npt.NDArray[np.str_],
              age: IntArray) -> tuple[IntArray, IntArray, Table]:
    """(closure, reason, CIN plans with block = period) after periods of care ending on `end`."""
    n = len(end)
    reason = np.full(n, C.RC["RC7"], dtype=np.int64)
    for code, rc in _ORDER.items():
        reason[rec == code] = C.RC[rc]
    ordered = np.isin(rec, list(_ORDER))
    home = np.isin(rec, _HOME)
    reason[np.isin(rec, _ADULT)] = C.RC["RC6"]
    adult_age = ~ordered & ~home & (age >= 17.5 * YEAR) & (rng.random(n) < 0.15)
    reason[adult_age] = C.RC["RC6"]
    reason[home & (rng.random(n) < 0.05)] = C.RC["RC5"]
    delay = np.where(ordered & (rng.random(n) < 0.8), 0, uniform(rng, 0, 30, n))
    delay[~ordered & ~home] = uniform(rng, 0, 60, n)[~ordered & ~home]
    delay[np.isin(rec, ("E11", "E12", "E2"))] = 0
    planned = home & (rng.random(n) < C.P_PLAN_AFTER_HOME)
    p0 = fwd(end + uniform(rng, 0, 14, n))
    p1 = fwd(p0 + span(rng, C.STEP_DOWN_DAYS, n))
    closure = np.where(delay == 0, end, fwd(end + delay))
    closure = np.where(home, np.where(planned, fwd(p1 + uniform(rng, 0, 20, n)),
                                      fwd(end + span(rng, C.HOME_SUPPORT_DAYS, n))), closure)
    left_open = ~ordered & (rng.random(n) < C.P_LEFT_OPEN)
    closure = np.where(left_open, fwd(closure + span(rng, C.LEFT_OPEN_DAYS, n)), closure)
    return closure, reason, _rows(np.arange(n), planned, start=p0, end=p1)


def _select(parts: Parts, periods: npt.NDArray[np.bool_]) -> Parts:
    """The module rows of the chosen periods (block numbers kept)."""
    out = Parts()
    for name, table in parts.modules().items():
        rows = periods[table["block"]]
        setattr(out, name, {k: v[rows] for k, v in table.items()})
    return out


def _clip_to(parts: Parts, period_end: IntArray) -> None:
    """Work of a period that would run past the end of its care (a very short stay) ends with it."""
    for table, col in ((parts.asm, "auth"), (parts.s47, "concluded"), (parts.cp, "end")):
        limit = period_end[table["block"]]
        table[col] = np.where(limit >= 0, np.minimum(table[col], limit), table[col])
    cp = parts.cp
    cp["end"] = np.where(cp["end"] >= 0, np.maximum(cp["end"], cp["start"] + 1), cp["end"])
    cp["change"] = np.where(cp["end"] >= 0, np.minimum(cp["change"], np.maximum(cp["end"] - 1, cp["start"])),
                            cp["change"])


def care_blocks(rng: np.random.Generator, per: dict[str, np.ndarray], dob: IntArray) -> Parts:
    """One block per period of care, or per run of periods close enough to share one."""
    child, care, end = per["child"], per["start"], per["end"]
    n = len(care)
    age = care - dob[child]
    uasc = (per["need"] == C.NEEDS.index("N8")) & (age >= 14 * YEAR)
    newborn = age < 30
    ctx = np.select([uasc, newborn, age >= 14 * YEAR], [2, 1, 3], 0)
    stage = draw_rows(rng, C.STAGE_WEIGHTS, ctx)
    floor = dob[child] - PRE_BIRTH_DAYS
    ref, lead = lead_in(rng, care, stage, floor, True, uasc)
    ended = end >= 0
    closure, reason, after = post_care(rng, np.where(ended, end, care), per["rec"], np.where(ended, end, care) -
                                       dob[child])
    closure[~ended] = -1
    prev = np.maximum(np.arange(n) - 1, 0)
    merged = ~per["first"] & (ref <= np.where(closure[prev] < 0, np.iinfo(np.int64).max, closure[prev]))
    # a child back in care while their block is open: the work before it happens inside that block
    m = np.flatnonzero(merged)
    inside_floor = np.maximum(end[prev][m] + 1, floor[m])
    inner_stage = np.select([care[m] - inside_floor < 14, stage[m] == C.ASSESSED, stage[m] == C.ENQUIRY],
                            [C.DIRECT, C.DIRECT, C.PLANNED], stage[m])
    _, inner = lead_in(rng, care[m], inner_stage, inside_floor, False, uasc[m])
    for table in inner.modules().values():
        table["block"] = m[table["block"]]
    fresh = _select(lead, ~merged)
    last = np.r_[~merged[1:], True]
    before = Parts.concat([Parts(asm=fresh.asm, plan=fresh.plan, s47=fresh.s47, cp=fresh.cp),
                           Parts(asm=inner.asm, plan=inner.plan, s47=inner.s47, cp=inner.cp)])
    _clip_to(before, end)
    after_rows = last[after["block"]] & ended[after["block"]]
    work = Parts.concat([before, Parts(plan={k: v[after_rows] for k, v in after.items()})])
    block_of = np.cumsum(~merged) - 1
    for table in work.modules().values():
        table["block"] = block_of[table["block"]]
    firsts, lasts = np.flatnonzero(~merged), np.flatnonzero(last)
    source_ctx = np.select([uasc, newborn, stage == C.DIRECT], [C.SOURCE_UASC, C.SOURCE_BABY, C.SOURCE_EMERGENCY],
                           C.SOURCE_GENERAL)[firsts]
    need = per["need"][firsts]
    factor_ctx = np.select([uasc[firsts], need == C.NEEDS.index("N2")], [C.FACTORS_UASC, C.FACTORS_DISABLED],
                           C.FACTORS_ABUSE)
    work.blocks = _blocks(len(firsts), child=child[firsts], ref=ref[firsts], closure=closure[lasts],
                          reason=np.where(closure[lasts] < 0, -1, reason[lasts]), route=C.CARE, need=need,
                          source_ctx=source_ctx, factor_ctx=factor_ctx, care=1)
    return work


def short_break_blocks(rng: np.random.Generator, child: IntArray, first: IntArray, last_end: IntArray) -> Parts:
    """Disabled children known for short breaks only: one long block with a CIN plan around the breaks."""
    n = len(child)
    idx = np.arange(n)
    ref = bwd(first - span(rng, C.SHORT_BREAK_LEAD_DAYS, n))
    a0 = fwd(ref + uniform(rng, 0, 10, n))
    a1 = np.minimum(fwd(a0 + span(rng, C.ASSESSMENT_DAYS, n)), bwd(first - 1))
    a1 = np.maximum(a1, a0)
    p0 = np.minimum(fwd(a1 + uniform(rng, 0, 14, n)), first)
    closure = np.where(last_end >= 0, fwd(np.maximum(last_end, first) + span(rng, C.SHORT_BREAK_AFTER_DAYS, n)), -1)
    p1 = np.where(closure >= 0, np.maximum(bwd(closure - uniform(rng, 0, 14, n)), p0 + 1), -1)
    p1 = np.where((p1 >= 0) & (p1 > closure), closure, p1)
    blocks = _blocks(n, child=child, ref=ref, closure=closure, reason=np.where(closure < 0, -1, C.RC["RC7"]),
                     route=C.DISABLED, need=C.NEEDS.index("N2"), source_ctx=C.SOURCE_GENERAL,
                     factor_ctx=C.FACTORS_DISABLED, care=1)
    return Parts(blocks=blocks, asm=_rows(idx, np.ones(n, dtype=bool), start=a0, auth=a1),
                 plan=_rows(idx, np.ones(n, dtype=bool), start=p0, end=p1))


def earlier_blocks(rng: np.random.Generator, child: IntArray, before: IntArray, dob: IntArray,
                   ctx: IntArray) -> Parts:
    """Closed referrals of children in care before the referral that led to care (shifted by whole weeks)."""
    count = np.minimum(rng.poisson(C.EARLIER_REFERRALS, len(child)), 3)
    parts: list[Parts] = []
    active = count > 0
    child, target, count = child[active], before[active], count[active]
    for _ in range(3):
        if not len(child):
            break
        n = len(child)
        target = target - span(rng, C.REREFERRAL_GAP_DAYS, n)
        route = draw_rows(rng, C.ROUTE_WEIGHTS, ctx[child])
        block = forward_blocks(rng, child, target, route)
        shift = (target - block.blocks["closure"]) // 7 * 7
        _shift(block, shift)
        ok = block.blocks["ref"] >= dob[child] - PRE_BIRTH_DAYS
        parts.append(block.keep(ok))
        count = count - 1
        go = ok & (count > 0)
        child, target, count = child[go], block.blocks["ref"][go], count[go]
    return Parts.concat(parts) if parts else Parts()


def _shift(parts: Parts, by: IntArray) -> None:
    """Move whole blocks in time (by multiples of 7 days, so working days stay working days)."""
    for key in ("ref", "closure"):
        parts.blocks[key] = parts.blocks[key] + by
    for table in parts.modules().values():
        d = by[table["block"]]
        for key, values in table.items():
            if key in ("start", "end", "auth", "icpc", "concluded", "change"):
                table[key] = np.where(values >= 0, values + d, values)

