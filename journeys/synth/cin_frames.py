"""Drawn blocks to CIN census frames: censored at the extract date, with codes, ids and review dates."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from journeys.synth import cin_tables as C
from journeys.synth import tables as T
from journeys.synth.cin_paths import Parts, Table, fwd, uniform
from journeys.synth.cin_people import Children
from journeys.synth.draw import IntArray, draw_rows
from journeys.synth.generate import _dates

DATE_COLUMNS = {"asm": ("start", "auth"), "plan": ("start", "end"), "s47": ("start", "icpc", "concluded"),
                "cp": ("start", "end", "change")}


def _join_codes(owner: IntArray, codes: IntArray, names: tuple[str, ...], n: int,
                empty: str = "") -> npt.NDArray[np.object_]:
    """Per owner 0..n-1, its distinct codes (in code-list order) joined by spaces.

    One sort of owner-and-code keys and one join of all names (owners split by newlines), not a join per owner.
    """
    out = np.full(n, empty, dtype=object)
    if not len(owner):
        return out
    width = len(names)
    key = np.unique(np.asarray(owner, dtype=np.int64) * width + np.asarray(codes, dtype=np.int64))
    who, code = key // width, key % width
    last = np.r_[who[1:] != who[:-1], True]
    tokens = np.asarray(names, dtype=object)[code] + np.where(last, "\n", " ").astype(object)
    out[who[last]] = "".join(tokens.tolist()).split("\n")[:-1]
    return out


def _settle(parts: Parts) -> None:
    """Closure on or after every date of its block; open modules of a closed block end at its closure."""
    b = parts.blocks
    latest = b["ref"].copy()
    for name, table in parts.modules().items():
        for col in DATE_COLUMNS[name]:
            np.maximum.at(latest, table["block"], table[col])
    cp = parts.cp
    cp["end"] = np.where(cp["end"] >= 0, np.maximum(cp["end"], cp["start"] + 1), cp["end"])
    np.maximum.at(latest, cp["block"], cp["end"])
    closed = b["closure"] >= 0
    b["closure"] = np.where(closed, np.maximum(b["closure"], latest), -1)
    for name, col in (("asm", "auth"), ("plan", "end"), ("cp", "end"), ("s47", "concluded")):
        table = parts.modules()[name]
        close = b["closure"][table["block"]]
        table[col] = np.where((table[col] < 0) & (close >= 0), close, table[col])


def _censor(parts: Parts, window_start: int, extract: int) -> Parts:
    """What the extract date knows: later events unknown, blocks closed before the window left out."""
    b = parts.blocks
    keep = (b["ref"] <= extract) & ((b["closure"] < 0) | (b["closure"] >= window_start))
    out = parts.keep(keep)
    b = out.blocks
    late = b["closure"] > extract
    b["closure"] = np.where(late, -1, b["closure"])
    b["reason"] = np.where(late | (b["closure"] < 0), -1, b["reason"])
    for name, table in out.modules().items():
        rows = table["start"] <= extract
        for key in table:
            table[key] = table[key][rows]
        for col in DATE_COLUMNS[name][1:]:
            table[col] = np.where(table[col] > extract, -1, table[col])
    out.s47["not_required"] = out.s47["not_required"] * (out.s47["concluded"] >= 0)
    cp = out.cp
    cp["cat1"] = np.where(cp["change"] < 0, cp["cat0"], cp["cat1"])
    cp["change"] = np.where(cp["change"] < 0, cp["start"], cp["change"])
    return out


def _factors(rng: np.random.Generator, asm: Table, factor_ctx: IntArray) -> npt.NDArray[np.object_]:
    """Factors identified at each authorised assessment (codes valid in the year it was authorised)."""
    n = len(asm["block"])
    ctx = factor_ctx[asm["block"]]
    first = draw_rows(rng, C.FACTOR_WEIGHTS, ctx)
    extra = np.where(first == C.FAC["21"], 0, np.minimum(rng.poisson(C.EXTRA_FACTORS[ctx]), 5))
    owner = np.repeat(np.arange(n), extra)
    more = draw_rows(rng, C.FACTOR_WEIGHTS, ctx[owner])
    keep = more != C.FAC["21"]
    owner = np.concatenate([np.arange(n), owner[keep]])
    code = np.concatenate([first, more[keep]])
    auth = asm["auth"][owner]
    early = auth < C.SPLIT_ABUSE_FACTORS_FROM
    for new, old in (("18B", "18A"), ("18C", "18A"), ("19B", "19A"), ("19C", "19A")):
        code = np.where(early & (code == C.FAC[new]), C.FAC[old], code)
    code = np.where((auth < C.FACTOR_24A_FROM) & (code == C.FAC["24A"]), C.FAC["20"], code)
    authorised = auth >= 0
    return _join_codes(owner[authorised], code[authorised], C.FACTORS, n)


def _disabilities(rng: np.random.Generator, disabled: npt.NDArray[np.bool_]) -> npt.NDArray[np.object_]:
    """Each child's recorded disabilities ("NONE" for most)."""
    n = len(disabled)
    count = np.where(disabled, 1 + rng.binomial(2, 0.35, n), (rng.random(n) < C.P_DISABILITY_RECORDED).astype(int))
    owner = np.repeat(np.arange(n), count)
    code = draw_rows(rng, C.DISABILITY_WEIGHTS, np.zeros(len(owner), dtype=np.int64))
    return _join_codes(owner, code, C.DISABILITIES, n, empty="NONE")


def _reviews(rng: np.random.Generator, cp: Table, extract: int) -> tuple[IntArray, IntArray]:
    """(plan row, day) of CP plan reviews: the first within three months, then every six months."""
    limit = np.where(cp["end"] >= 0, cp["end"], extract + 1)
    count = np.maximum(0, (limit - cp["start"] - 70) // 165 + 1)
    plan = np.repeat(np.arange(len(limit)), count)
    head = np.r_[True, plan[1:] != plan[:-1]] if len(plan) else np.zeros(0, dtype=bool)
    step = np.where(head, uniform(rng, 70, 90, len(plan)), uniform(rng, 165, 182, len(plan)))
    total = np.cumsum(step)
    starts = np.flatnonzero(head)
    base = np.repeat(total[starts] - step[starts], np.diff(np.r_[starts, len(plan)]))
    day = fwd(cp["start"][plan] + total - base)
    keep = (day < limit[plan]) & (day <= extract)
    return plan[keep], day[keep]


def to_frames(rng: np.random.Generator, parts: Parts, people: Children, window_start: int,
              extract: int) -> dict[str, pd.DataFrame]:
    """The CinTables frames of the drawn blocks (see CinTables)."""
    _settle(parts)
    cp_child = parts.blocks["child"][parts.cp["block"]]
    order = np.lexsort((parts.cp["start"], cp_child))
    previous = np.empty(len(order), dtype=np.int64)
    heads = np.r_[True, cp_child[order][1:] != cp_child[order][:-1]] if len(order) else np.zeros(0, dtype=bool)
    run_start = np.maximum.accumulate(np.where(heads, np.arange(len(order)), 0)) if len(order) else order
    previous[order] = np.arange(len(order)) - run_start
    parts.cp["previous"] = previous
    out = _censor(parts, window_start, extract)
    b = out.blocks
    # ids and block order: by child id, then referral date
    rank = np.argsort(np.argsort(people.ids.astype(str), kind="stable"), kind="stable")
    order = np.lexsort((b["ref"], rank[b["child"]]))
    new_no = np.empty(out.n, dtype=np.int64)
    new_no[order] = np.arange(out.n)
    out.blocks = {k: v[order] for k, v in out.blocks.items()}
    for table in out.modules().values():
        table["block"] = new_no[table["block"]]
    b = out.blocks
    n = out.n
    ids = people.ids[b["child"]]
    nine = (b["early"] == 1) & (b["closure"] >= C.RC9_FROM) & np.isin(b["reason"], [C.RC["RC7"], C.RC["RC8"]])
    reason = np.where(nine, C.RC["RC9"], b["reason"])
    source = draw_rows(rng, C.SOURCE_WEIGHTS, b["source_ctx"])
    source = np.where((source == C.SRC["5D"]) & (b["ref"] < C.SOURCE_5D_FROM), C.SRC["5B"], source)
    codes = {"need": (b["need"], C.NEEDS), "reason": (reason, C.REASONS)}
    text = {k: np.where(v >= 0, np.asarray(names, dtype=object)[np.maximum(v, 0)], "")
            for k, (v, names) in codes.items()}
    cin_id = np.arange(1, n + 1)
    details = pd.DataFrame({
        "LAchildID": ids.astype(str), "cin_id": cin_id, "CINreferralDate": _dates(b["ref"]),
        "ReferralSource": np.asarray(C.SOURCES, dtype=object)[source], "PrimaryNeedCode": text["need"],
        "CINclosureDate": _dates(b["closure"]), "ReasonForClosure": text["reason"],
        "ReferralNFA": b["nfa"].astype(bool),
        "route": pd.Categorical.from_codes(b["route"], categories=list(C.ROUTES)), "care": b["care"].astype(bool)})

    def module(table: Table) -> dict[str, object]:
        return {"LAchildID": ids[table["block"]].astype(str), "cin_id": cin_id[table["block"]]}

    a, p, s, cp = out.asm, out.plan, out.s47, out.cp
    a_order, p_order = np.lexsort((a["start"], a["block"])), np.lexsort((p["start"], p["block"]))
    s_order, c_order = np.lexsort((s["start"], s["block"])), np.lexsort((cp["start"], cp["block"]))
    a, p = {k: v[a_order] for k, v in a.items()}, {k: v[p_order] for k, v in p.items()}
    s, cp = {k: v[s_order] for k, v in s.items()}, {k: v[c_order] for k, v in cp.items()}
    assessments = pd.DataFrame({**module(a), "AssessmentActualStartDate": _dates(a["start"]),
                                "AssessmentAuthorisationDate": _dates(a["auth"]),
                                "AssessmentFactors": _factors(rng, a, b["factor_ctx"])})
    plans = pd.DataFrame({**module(p), "CINPlanStartDate": _dates(p["start"]), "CINPlanEndDate": _dates(p["end"])})
    section47 = pd.DataFrame({
        **module(s), "S47ActualStartDate": _dates(s["start"]),
        "InitialCPCtarget": _dates(np.busday_offset(s["start"].astype("datetime64[D]"), 15, roll="forward")
                                   .astype(np.int64)),
        "DateOfInitialCPC": _dates(s["icpc"]), "ICPCnotRequired": s["not_required"].astype(bool),
        "concluded": _dates(s["concluded"])})
    cats = np.asarray(C.CATEGORIES, dtype=object)
    cpp_id = np.arange(1, len(cp["block"]) + 1)
    cp_plans = pd.DataFrame({
        **module(cp), "cpp_id": cpp_id, "CPPstartDate": _dates(cp["start"]), "CPPendDate": _dates(cp["end"]),
        "InitialCategoryOfAbuse": cats[cp["cat0"]], "LatestCategoryOfAbuse": cats[cp["cat1"]],
        "latest_from": _dates(cp["change"]), "NumberOfPreviousCPP": cp["previous"]})
    plan_row, review_day = _reviews(rng, cp, extract)
    owner = cp["block"][plan_row]
    reviews = pd.DataFrame({"LAchildID": ids[owner].astype(str), "cin_id": cin_id[owner], "cpp_id": cpp_id[plan_row],
                            "CPPreviewDate": _dates(review_day)})
    return {"children": _children(rng, people, b, extract), "cin_details": details, "assessments": assessments,
            "cin_plans": plans, "section47": section47, "cp_plans": cp_plans, "cp_reviews": reviews}


def _children(rng: np.random.Generator, people: Children, b: Table, extract: int) -> pd.DataFrame:
    """One row per child with a block in the data, in id order (not yet born at the extract: no birth date)."""
    n_all = len(people.dob)
    first_ref = np.full(n_all, np.iinfo(np.int64).max)
    np.minimum.at(first_ref, b["child"], b["ref"])
    present = first_ref < np.iinfo(np.int64).max
    disabilities = _disabilities(rng, people.disabled)
    expected = np.where(first_ref < people.dob, people.dob + uniform(rng, -14, 14, n_all), -1)
    order = np.flatnonzero(present)
    order = order[np.argsort(people.ids[order].astype(str), kind="stable")]
    return pd.DataFrame({
        "LAchildID": people.ids[order].astype(str), "in_care": people.in_care[order],
        "PersonBirthDate": _dates(np.where(people.dob[order] > extract, -1, people.dob[order])),
        "ExpectedPersonBirthDate": _dates(expected[order]),
        "Sex": np.where(people.male[order], "M", "F"),
        "Ethnicity": np.asarray(T.ETHNIC_CODES, dtype=object)[people.ethnic[order]],
        "UPN": people.upn[order].astype(str), "UPNunknown": people.upn_base[order].astype(str),
        "Disabilities": disabilities[order], "PersonDeathDate": _dates(people.death[order])}).reset_index(drop=True)
