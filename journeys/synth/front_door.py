"""generate_front_door: a council's own front-door record of the same children as the CIN census, step by step.

A local case system records the front door as steps: a contact, perhaps early help, a referral, an
assessment, child-in-need work, section 47 enquiries, child protection plans. The referral and what
followed it are those of the CIN census generator (generate_cin): each CINdetails block becomes one
case. Added here, from their own random stream, is what the census does not hold:

- a contact before each referral (the same day, or a few working days before), or an early help case
  that stepped up into it;
- child-in-need support without a plan where the census has a gap inside a block (after an
  assessment, before a plan; after care, before closure), so that the steps of a case follow on;
- early help after a closure that refers to it (RC9, and its like before RC9 existed);
- contacts that go no further (60% of all contacts) and early help cases that never reach a referral,
  for children the census knows and for children it never sees.

A step's outcome is written only on the last step of a case (how the case ended); steps that led on to
another step have none. Periods of care (from the episodes) join the steps around them but are never
written: the care extract holds them. Everything is vectorised over all cases at once.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt
import pandas as pd

from journeys.synth import cin_tables as C
from journeys.synth import front_door_tables as F
from journeys.synth.cin import CinTables, generate_cin
from journeys.synth.cin_care import care_periods
from journeys.synth.cin_paths import Table, bwd, days_of, fwd, span, uniform
from journeys.synth.cin_people import new_ids, referral_day_weights
from journeys.synth.draw import IntArray, add_years, day_of, draw, draw_days
from journeys.synth.front_door_steps import concat_steps, cummax_by, group_starts, names_of, step_table, take_steps
from journeys.synth.generate import _dates, window

INF = np.iinfo(np.int64).max // 4
KEY = 1 << 20  # child * KEY + day: one sortable key (days stay below 2**20 until the year 4840)
FRONT_DOOR_COLUMNS = ("child", "in_care", "case", "step", "start", "end", "outcome", "source")


# --- cases from CINdetails blocks --------------------------------------------------------------------------------
def _blocks(cin: CinTables, children: pd.Index) -> dict[str, np.ndarray]:
    d = cin.cin_details
    if not (d["cin_id"].to_numpy() == np.arange(1, len(d) + 1)).all():
        raise ValueError("cin_details must be in cin_id order, as generate_cin returns it")
    reason = d["ReasonForClosure"].astype("str").map({c: i for i, c in enumerate(C.REASONS)})
    return {
        "child": children.get_indexer(d["LAchildID"].astype("str")).astype(np.int64),
        "ref": days_of(d["CINreferralDate"]), "closure": days_of(d["CINclosureDate"]),
        "reason": reason.fillna(-1).to_numpy(dtype=np.int64),
        "route": d["route"].cat.codes.to_numpy(dtype=np.int64), "nfa": d["ReferralNFA"].to_numpy(dtype=bool),
        "source": d["ReferralSource"].astype("str").map({c: i for i, c in enumerate(C.SOURCES)})
        .fillna(C.SRC["10"]).to_numpy(dtype=np.int64),
        "need": d["PrimaryNeedCode"].astype("str").to_numpy(dtype=object),
    }


def _module_steps(cin: CinTables, episodes: pd.DataFrame, b: dict[str, np.ndarray],
                  children: pd.Index) -> Table:
    """Assessments, plans, enquiries and CP plans of each block, and its periods of care (kind CARE)."""
    parts = []
    for frame, kind, start, end in (
            (cin.assessments, F.ASSESSMENT, "AssessmentActualStartDate", "AssessmentAuthorisationDate"),
            (cin.cin_plans, F.CIN_PLAN, "CINPlanStartDate", "CINPlanEndDate"),
            (cin.section47, F.SECTION_47, "S47ActualStartDate", "concluded"),
            (cin.cp_plans, F.CP_PLAN, "CPPstartDate", "CPPendDate")):
        block = frame["cin_id"].to_numpy(dtype=np.int64) - 1
        parts.append(step_table(case=block, child=b["child"][block], kind=kind, start=days_of(frame[start]),
                            end=days_of(frame[end])))
    # each period of care belongs to the block open on the day it starts
    per = care_periods(episodes, children)
    known = per["child"] >= 0
    p_child, p_start, p_end = per["child"][known], per["start"][known], per["end"][known]
    block_key = b["child"] * KEY + b["ref"]
    order = np.argsort(block_key, kind="stable")
    at = np.searchsorted(block_key[order], p_child * KEY + p_start, side="right") - 1
    block = order[np.maximum(at, 0)]
    inside = (at >= 0) & (b["child"][block] == p_child) & ((b["closure"][block] < 0) |
                                                           (b["closure"][block] >= p_start))
    parts.append(step_table(case=block[inside], child=p_child[inside], kind=F.CARE, start=p_start[inside],
                        end=p_end[inside]))
    return concat_steps(parts)


def _case_steps(rng: np.random.Generator, b: dict[str, np.ndarray], modules: Table, dob: IntArray) -> Table:
    """Every block's steps, joined up, with how it ended and how it began (periods of care still in, as CARE)."""
    n = len(b["ref"])
    first_other = np.full(n, INF, dtype=np.int64)
    np.minimum.at(first_other, modules["case"], modules["start"])
    ref_end = np.where(first_other < INF, np.maximum(first_other, b["ref"]), b["closure"])
    referral = step_table(case=np.arange(n), child=b["child"], kind=F.REFERRAL, start=b["ref"], end=ref_end)
    steps = concat_steps([referral, modules])
    end_inf = np.where(steps["end"] < 0, INF, steps["end"])
    order = np.lexsort((steps["kind"], end_inf, steps["start"], steps["case"]))
    steps, end_inf = take_steps(steps, order), end_inf[order]
    case = steps["case"]
    cover = cummax_by(case, end_inf)
    head = group_starts(case)
    prev_cover = np.where(head, INF, np.r_[INF, cover[:-1]])
    # a gap inside a case (after an assessment, before a plan; after care): child in need without a plan
    gap = steps["start"] > prev_cover
    inner = step_table(case=case[gap], child=steps["child"][gap], kind=F.CHILD_IN_NEED, start=prev_cover[gap],
                   end=steps["start"][gap])
    # the step that ends last (of those ending together, the one of the highest-ranked stage, as journeys
    # take a case's outcome from it) and where the case stands then
    by_end = np.lexsort((steps["start"], steps["kind"], end_inf, case))
    last_row = by_end[np.r_[case[by_end][1:] != case[by_end][:-1], True]] if len(case) else by_end
    cover_end = np.full(n, INF, dtype=np.int64)
    cover_end[case[last_row]] = end_inf[last_row]
    last_kind = np.full(n, -1, dtype=np.int64)
    last_kind[case[last_row]] = steps["kind"][last_row]
    row_of_last = np.full(n, -1, dtype=np.int64)
    row_of_last[case[last_row]] = last_row
    closed = b["closure"] >= 0
    wait = np.where(closed & (cover_end < INF), b["closure"] - cover_end, 0)
    in_need = np.isin(b["route"], [C.IN_NEED, C.DISABLED])
    tail = closed & (wait > 0) & ((wait > F.TAIL_DAYS) | (last_kind == F.CARE) |
                                 (in_need & (last_kind == F.ASSESSMENT)))
    # still open at the extract with every step ended: support goes on, or (no need found) closure is pending
    pending = ~closed & (cover_end < INF)
    short_route = np.isin(b["route"], [C.NFA, C.NO_NEED, C.OTHER])
    reopen = pending & short_route
    steps["end"][row_of_last[reopen]] = -1
    open_tail = pending & ~short_route
    tail_rows = np.flatnonzero(tail | open_tail)
    outer = step_table(case=tail_rows, child=b["child"][tail_rows], kind=F.CHILD_IN_NEED, start=cover_end[tail_rows],
                   end=np.where(tail[tail_rows], b["closure"][tail_rows], -1))
    # how the case ended, and on which step that is written
    outcome = np.where(b["reason"] >= 0, np.array([F.REASON_OUTCOME[r] for r in C.REASONS])[np.maximum(b["reason"], 0)],
                       -1)
    outcome = np.where(b["nfa"] & closed, F.NFA, np.where(closed, outcome, -1))
    u = rng.random(n)
    step_down = closed & ~b["nfa"] & ((b["reason"] == C.RC["RC9"]) |
                          ((b["reason"] == C.RC["RC8"]) & (b["closure"] < C.RC9_FROM) &
                           (u < F.P_STEP_DOWN_RC8_BEFORE_RC9)) |
                          ((b["reason"] == C.RC["RC7"]) & np.isin(b["route"], [C.IN_NEED, C.S47]) &
                           (u < F.P_STEP_DOWN_RC7)))
    case_end = np.where(tail, b["closure"], np.where(closed, cover_end, INF))
    # early help after the closure; one that runs into the next referral steps up into it
    same_next = np.r_[b["child"][1:] == b["child"][:-1], False]
    next_ref = np.where(same_next, np.r_[b["ref"][1:], INF], INF)
    eh_end = fwd(case_end + span(rng, F.EARLY_HELP_DAYS, n)) if n else case_end
    joins = step_down & (eh_end >= next_ref - F.STEP_DOWN_JOIN_DAYS)
    eh_end = np.where(joins, next_ref, eh_end)
    eh_outcome = np.where(rng.random(n) < F.P_EH_WITHDRAWN, F.EH_WITHDRAWN, F.EH_NEEDS_MET)
    sd = np.flatnonzero(step_down)
    after = step_table(case=sd, child=b["child"][sd], kind=F.EARLY_HELP, start=case_end[sd], end=eh_end[sd],
                   outcome=np.where(joins[sd], -1, eh_outcome[sd]))
    case_end = np.where(step_down, eh_end, case_end)
    on_last = closed & ~step_down & ~tail & (last_kind != F.CARE) & (last_kind >= 0)
    steps["outcome"][row_of_last[on_last]] = outcome[on_last]
    outer["outcome"] = np.where(tail[tail_rows] & ~step_down[tail_rows], outcome[tail_rows], -1)
    entry = _entries(rng, b, np.r_[False, joins[:-1]] if n else joins, case_end, dob, ref_end == b["ref"])
    return concat_steps([steps, inner, outer, after, entry])


def _entries(rng: np.random.Generator, b: dict[str, np.ndarray], joined: npt.NDArray[np.bool_],
             case_end: IntArray, dob: IntArray, instant: npt.NDArray[np.bool_]) -> Table:
    """The contact before each referral, or the early help case (with its own contact) it stepped up from.

    A referral decided the day it came (`instant`: no further action, or an enquiry the same day) has its
    contact at least a day before: same-day steps that all end that day would show only the last of them.
    """
    n = len(b["ref"])
    ref, child = b["ref"], b["child"]
    same_prev = np.r_[False, child[1:] == child[:-1]]
    prev_end = np.where(same_prev, np.r_[-INF, case_end[:-1]], -INF)
    born = (dob[child] >= 0) & (ref >= dob[child])
    step_up = ~joined & born & (b["need"] != "N8") & (rng.random(n) < F.P_STEP_UP)
    eh_start = np.maximum(bwd(ref - span(rng, F.STEP_UP_EH_DAYS, n)), prev_end + 7)
    step_up &= ref - eh_start >= 14
    anchor = np.where(step_up, eh_start, ref)
    contact = _contact_days(rng, anchor, instant & ~step_up)
    contact = np.minimum(np.maximum(contact, prev_end + 1), anchor)
    c, s = np.flatnonzero(~joined), np.flatnonzero(step_up)
    return concat_steps([
        step_table(case=c, child=child[c], kind=F.CONTACT, start=contact[c], end=anchor[c], source=b["source"][c]),
        step_table(case=s, child=child[s], kind=F.EARLY_HELP, start=eh_start[s], end=ref[s])])


def _contact_days(rng: np.random.Generator, decided: IntArray, not_same_day: npt.NDArray[np.bool_]) -> IntArray:
    """When contacts decided on `decided` came in: the same day, or a few working days before."""
    n = len(decided)
    lo, hi = F.CONTACT_LEAD_DAYS
    lead = np.where((rng.random(n) < F.P_CONTACT_SAME_DAY) & ~not_same_day, 0, uniform(rng, lo, hi, n))
    back = np.busday_offset(decided.astype("datetime64[D]"), -lead, roll="backward").astype(np.int64)
    return np.where(lead == 0, decided, np.minimum(back, decided))


# --- contacts that go no further, early help on its own ------------------------------------------------------------
def _standalone(rng: np.random.Generator, child: IntArray, day: IntArray, eh: npt.NDArray[np.bool_],
                case0: int) -> Table:
    """A contact on each `day` (moved to a working day mostly); early help after it where `eh`."""
    n = len(day)
    day = np.where(rng.random(n) < F.P_CONTACT_ON_WORKDAY, fwd(day), day)
    decided = np.where(rng.random(n) < 0.7, day, fwd(day + 1))
    eh_end = fwd(decided + span(rng, F.EARLY_HELP_DAYS, n))
    eh_out = np.where(rng.random(n) < F.P_EH_WITHDRAWN, F.EH_WITHDRAWN, F.EH_NEEDS_MET)
    no_further = np.where(rng.random(n) < F.P_ADVICE, F.ADVICE, F.NFA)
    source = draw(rng, C.SOURCE_WEIGHTS[C.SOURCE_GENERAL], n)
    case = case0 + np.arange(n)
    e = np.flatnonzero(eh)
    return concat_steps([
        step_table(case=case, child=child, kind=F.CONTACT, start=day, end=decided,
               outcome=np.where(eh, -1, no_further), source=source),
        step_table(case=case[e], child=child[e], kind=F.EARLY_HELP, start=decided[e], end=eh_end[e],
               outcome=eh_out[e])])


def _span_of(steps: Table) -> tuple[IntArray, IntArray, IntArray]:
    """Per case: (child, first day, last day or INF), cases sorted by child then first day."""
    n = int(steps["case"].max()) + 1 if len(steps["case"]) else 0
    first = np.full(n, INF, dtype=np.int64)
    last = np.full(n, -INF, dtype=np.int64)
    np.minimum.at(first, steps["case"], steps["start"])
    np.maximum.at(last, steps["case"], np.where(steps["end"] < 0, INF, steps["end"]))
    child = np.full(n, -1, dtype=np.int64)
    child[steps["case"]] = steps["child"]
    used = child >= 0
    order = np.lexsort((first[used], child[used]))
    return child[used][order], first[used][order], last[used][order]


def _free(spans: tuple[IntArray, IntArray, IntArray], child: IntArray, start: IntArray,
          end: IntArray) -> npt.NDArray[np.bool_]:
    """Whether [start, end] keeps at least a day away from every case of the child."""
    s_child, s_first, s_last = spans
    keys = s_child * KEY + s_first
    at = np.searchsorted(keys, child * KEY + np.minimum(end + 1, KEY - 1), side="right") - 1
    j = np.maximum(at, 0)
    return (at < 0) | (s_child[j] != child) | (s_last[j] < start - 1)


def _known_children(rng: np.random.Generator, n: int, b: dict[str, np.ndarray], dob: IntArray, spans: tuple,
                    window_start: int, extract: int, case0: int, p_eh: float) -> Table:
    """n contacts going no further / early help cases of children the census knows, between their cases."""
    m = 2 * n + 100
    child = b["child"][rng.integers(0, len(b["child"]), m)] if len(b["child"]) else np.zeros(0, dtype=np.int64)
    born = dob[child]
    lo = np.maximum(born, window_start)
    hi = np.where(born >= 0, np.minimum(add_years(born, 18) - 30, extract), lo)
    day = lo + np.floor(rng.random(m) * np.maximum(hi - lo, 0)).astype(np.int64)
    eh = rng.random(m) < p_eh
    drawn = _standalone(rng, child, day, eh, case0)
    ok = (hi > lo) & _case_free(drawn, spans, case0, m)
    chosen = np.flatnonzero(ok)[:n]
    keep = np.zeros(m, dtype=bool)
    keep[chosen] = True
    return _apart(take_steps(drawn, keep[drawn["case"] - case0]))


def _case_free(drawn: Table, spans: tuple, case0: int, m: int) -> npt.NDArray[np.bool_]:
    first = np.full(m, INF, dtype=np.int64)
    last = np.full(m, -INF, dtype=np.int64)
    child = np.zeros(m, dtype=np.int64)
    i = drawn["case"] - case0
    np.minimum.at(first, i, drawn["start"])
    np.maximum.at(last, i, drawn["end"])
    child[i] = drawn["child"]
    return _free(spans, child, first, last)


def _apart(drawn: Table) -> Table:
    """Drop drawn cases that overlap or touch an earlier drawn case of the same child."""
    if not len(drawn["case"]):
        return drawn
    cases = np.unique(drawn["case"])
    pos = np.searchsorted(cases, drawn["case"])
    first = np.full(len(cases), INF, dtype=np.int64)
    last = np.full(len(cases), -INF, dtype=np.int64)
    child = np.zeros(len(cases), dtype=np.int64)
    np.minimum.at(first, pos, drawn["start"])
    np.maximum.at(last, pos, drawn["end"])
    child[pos] = drawn["child"]
    order = np.lexsort((first, child))
    reach = cummax_by(child[order], last[order])
    before = np.where(group_starts(child[order]), -INF, np.r_[-INF, reach[:-1]])
    clash = np.zeros(len(cases), dtype=bool)
    clash[order] = first[order] <= before + 1
    return take_steps(drawn, ~clash[pos])


def _new_children(rng: np.random.Generator, n_cases: int, p_eh: float, taken: npt.NDArray[np.object_],
                  window_start: int, extract: int, child0: int, case0: int) -> tuple[Table, npt.NDArray[np.object_]]:
    """Children never referred, with n_cases cases in all: a contact each (some early help), a second case
    for some, first contacts in the window; returns (steps, ids)."""
    m = int(n_cases / (1 + F.P_SECOND_CASE) * 1.2) + 20
    day = draw_days(rng, window_start, referral_day_weights(window_start, extract), m)
    groups = C.CIN_AGE_WEIGHTS[1:] / C.CIN_AGE_WEIGHTS[1:].sum()
    group = 1 + draw(rng, groups, m)
    lo = np.array([a for a, _ in C.CIN_AGE_GROUPS])[group] * 365.25
    hi = np.array([b for _, b in C.CIN_AGE_GROUPS])[group] * 365.25
    dob = day - np.floor(lo + rng.random(m) * (hi - lo)).astype(np.int64)
    child = child0 + np.arange(m)
    one = _standalone(rng, child, day, rng.random(m) < p_eh, case0)
    ends = np.full(m, -INF, dtype=np.int64)
    np.maximum.at(ends, one["child"] - child0, one["end"])
    day2 = fwd(ends + 1 + span(rng, F.SECOND_CASE_GAP_DAYS, m))
    again = (rng.random(m) < F.P_SECOND_CASE) & (day2 <= extract) & (day2 < add_years(dob, 18) - 30)
    two = _standalone(rng, child, day2, rng.random(m) < p_eh, case0 + m)
    # the first children whose cases make up n_cases
    kept = np.cumsum(1 + again) <= n_cases
    one = take_steps(one, kept[one["child"] - child0])
    two = take_steps(two, (kept & again)[two["child"] - child0])
    ids = new_ids(rng, int(kept.sum()), taken)
    return concat_steps([one, two]), ids


# --- the whole extract ------------------------------------------------------------------------------------------------
def generate_front_door(episodes: pd.DataFrame, header: pd.DataFrame, seed: int = 1, cin: CinTables | None = None,
                        data_start: dt.date | None = None) -> pd.DataFrame:
    """The front-door steps of the children in `episodes`/`header`, of the children only referred and of
    children only ever contacted, in shared terms (FRONT_DOOR_COLUMNS), sorted by child, start and step.

    `cin` is generate_cin's output for the same children (drawn with `seed` when not given). Steps that
    ended before `data_start` (default: the first day of the window) are left out; the extract date is
    that of the window (31 March of its last year): later events are unknown, steps open then have no end.
    Columns: child (the census LAchildID, which is the SSDA903 CHILD of children in care), in_care (the
    child is in the care histories), case (steps of one case share it), step (front_door_tables.STEPS),
    start, end (NaT while open), outcome (front_door_tables.OUTCOMES, on the last step of a closed case
    only), source (contacts: who made it). Same arguments, same frame.
    """
    cin = cin if cin is not None else generate_cin(episodes, header, seed=seed)
    window_start, extract = window(cin.first_year, cin.last_year)
    cut = day_of(data_start) if data_start is not None else window_start
    rng = np.random.default_rng(np.random.SeedSequence([seed, F.FRONT_DOOR_STREAM]))
    kids = cin.children
    children = pd.Index(kids["LAchildID"].astype("str"), dtype="object")
    dob = days_of(kids["PersonBirthDate"])
    b = _blocks(cin, children)
    modules = _module_steps(cin, episodes, b, children)
    steps = _case_steps(rng, b, modules, dob)
    steps = take_steps(steps, steps["kind"] != F.CARE)
    n_cases = len(b["ref"])
    # how many contacts go no further, and how many early help cases stand alone, per referral in the window
    in_window = (steps["start"] >= window_start) & (steps["start"] <= extract)
    n_ref = int((in_window & (steps["kind"] == F.REFERRAL)).sum())
    leading = int((in_window & (steps["kind"] == F.CONTACT)).sum())
    n_eh = int(round(F.EARLY_HELP_ONLY_PER_REFERRAL * n_ref))
    n_nfa = int(round(F.P_CONTACT_NO_FURTHER / (1 - F.P_CONTACT_NO_FURTHER) * (leading + n_eh)))
    p_eh = n_eh / max(n_eh + n_nfa, 1)
    n_known = int(round(F.P_KNOWN_CHILD * (n_eh + n_nfa)))
    spans = _span_of(steps)
    known = _known_children(rng, n_known, b, dob, spans, window_start, extract, n_cases, p_eh)
    n_fresh = n_eh + n_nfa - len(np.unique(known["case"]))
    taken = np.concatenate([children.to_numpy(dtype=object), header["CHILD"].astype("str").to_numpy(dtype=object)])
    fresh, new_id = _new_children(rng, n_fresh, p_eh, taken, window_start, extract, len(children),
                                  n_cases + 2 * n_known + 100)
    steps = concat_steps([steps, known, fresh])
    # what the extract knows: steps ended before the data start are gone, later events are unknown
    steps = take_steps(steps, (steps["start"] <= extract) & ((steps["end"] < 0) | (steps["end"] >= cut)))
    late = steps["end"] > extract
    steps["end"] = np.where(late, -1, steps["end"])
    steps["outcome"] = np.where(late | (steps["end"] < 0), -1, steps["outcome"])
    ids = np.concatenate([children.to_numpy(dtype=object), new_id]).astype(str)
    in_care = np.concatenate([kids["in_care"].to_numpy(dtype=bool), np.zeros(len(new_id), dtype=bool)])
    rank = np.argsort(np.argsort(ids, kind="stable"), kind="stable")
    order = np.lexsort((steps["end"], steps["kind"], steps["start"], rank[steps["child"]]))
    s = take_steps(steps, order)
    _, case_no = np.unique(s["case"], return_inverse=True)
    sources = [F.SOURCE_LABELS[c] for c in C.SOURCES]
    return pd.DataFrame({
        "child": ids[s["child"]], "in_care": in_care[s["child"]], "case": case_no.astype(np.int64),
        "step": pd.Categorical.from_codes(s["kind"], categories=list(F.STEPS)),
        "start": _dates(s["start"]), "end": _dates(s["end"]),
        "outcome": names_of(s["outcome"], F.OUTCOMES),
        "source": names_of(np.where(s["kind"] == F.CONTACT, s["source"], -1), sources),
    }).reset_index(drop=True)
