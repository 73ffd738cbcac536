"""generate_cin: the front door (CIN census) of the same fictional children, plus children never in care.

Children in care get the referrals and work that led to each period of care (cin_care.py), earlier
closed referrals, and sometimes referrals after they leave. Many more children are only ever known to
the front door: each has a chain of referrals (cin_paths.py), most closed at or soon after assessment.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from journeys.synth import cin_tables as C
from journeys.synth.cin_care import care_blocks, care_periods, earlier_blocks, short_break_blocks
from journeys.synth.cin_frames import to_frames
from journeys.synth.cin_paths import Parts, days_of, forward_blocks, fwd, span
from journeys.synth.cin_people import Children, care_children, cin_only_children
from journeys.synth.draw import IntArray, add_years, draw_rows
from journeys.synth.generate import window
from journeys.synth.ssda903 import infer_years

CIN_STREAM = 0x43494E  # mixed into the seed: the CIN draws never share a stream with the care histories
CIN_ONLY_PER_CARE_CHILD = 8


@dataclass
class CinTables:
    """The CIN census content of every child, one frame per element group (dates censored at the extract).

    children: one row per child (`LAchildID` equals the SSDA903 `CHILD` of children in care).
    cin_details: one row per referral (CINdetails block), `cin_id` its key; `route` and `care` say how it
    was drawn (not census items). assessments, cin_plans, section47, cp_plans: one row per module, with
    `cin_id`; cp_reviews: one row per CP plan review, with `cpp_id`. Columns are named as the census
    elements, plus (not census items) section47 `concluded` (the conference, or the decision that none
    is needed) and cp_plans `latest_from` (when LatestCategoryOfAbuse took effect). Missing dates are
    NaT: still open at the extract date, or never happened. `AssessmentFactors` and `Disabilities` are
    space-separated codes; children not yet born at the extract have only ExpectedPersonBirthDate.
    """

    children: pd.DataFrame
    cin_details: pd.DataFrame
    assessments: pd.DataFrame
    cin_plans: pd.DataFrame
    section47: pd.DataFrame
    cp_plans: pd.DataFrame
    cp_reviews: pd.DataFrame
    first_year: int
    last_year: int

    def as_dict(self) -> dict[str, pd.DataFrame]:
        """The frames by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("first_year", "last_year")}


def chains(rng: np.random.Generator, child: IntArray, ref: IntArray, ctx: IntArray, dob: IntArray,
           extract: int) -> Parts:
    """Referral after referral for each child, from `ref`, until no further one comes (or age 18)."""
    parts = []
    eighteen = add_years(dob, 18) - 30
    now = ctx[child]
    for _ in range(C.MAX_REFERRALS):
        if not len(child):
            break
        route = draw_rows(rng, C.ROUTE_WEIGHTS, now)
        block = forward_blocks(rng, child, ref, route)
        parts.append(block)
        n = len(child)
        nxt = block.blocks["closure"] + span(rng, C.REREFERRAL_GAP_DAYS, n)
        nxt = np.where(rng.random(n) < C.P_REFERRAL_ON_WORKDAY, fwd(nxt), nxt)
        # a child who has been on a CP plan is referred again more often, and more often for an enquiry
        protected = np.zeros(n, dtype=bool)
        protected[block.cp["block"]] = True
        now = np.where(protected & (now != C.CTX_DISABLED), C.CTX_KNOWN, now)
        p_next = np.where(protected, C.P_NEXT_AFTER_CP, C.P_NEXT_REFERRAL[now])
        go = (rng.random(n) < p_next) & (nxt <= extract) & (nxt < eighteen[child])
        child, ref, now = child[go], nxt[go], now[go]
    return Parts.concat(parts) if parts else Parts()


def _care_parts(rng: np.random.Generator, episodes: pd.DataFrame, people: Children, extract: int) -> Parts:
    """Blocks of the children in care: their care, short breaks, earlier referrals, referrals after care."""
    per = care_periods(episodes, people.index)
    care = care_blocks(rng, per, people.dob)
    people.death[per["child"][per["rec"] == "E2"]] = per["end"][per["rec"] == "E2"]
    people.disabled[per["child"][per["need"] == C.NEEDS.index("N2")]] = True
    breaks = episodes[episodes["LS"].astype("str").isin(("V3", "V4"))]
    only_breaks = np.setdiff1d(people.index.get_indexer(breaks["CHILD"].astype("str").unique()), per["child"])
    people.disabled[only_breaks] = True
    if len(only_breaks):
        rows = breaks.assign(_c=people.index.get_indexer(breaks["CHILD"].astype("str")))
        rows = rows[rows["_c"].isin(only_breaks)]
        first = rows.groupby("_c")["DECOM"].min()
        still_open = rows["DEC"].isna().groupby(rows["_c"]).any()
        last = np.where(still_open.to_numpy(), -1, days_of(rows.groupby("_c")["DEC"].max()))
        sb = short_break_blocks(rng, first.index.to_numpy(np.int64), days_of(first), last)
    else:
        sb = Parts()
    own = Parts.concat([care, sb])
    b = own.blocks
    order = np.lexsort((b["ref"], b["child"]))
    first_of = order[np.r_[True, b["child"][order][1:] != b["child"][order][:-1]]]
    earlier = earlier_blocks(rng, b["child"][first_of], b["ref"][first_of], people.dob, people.ctx)
    last_of = order[np.r_[b["child"][order][1:] != b["child"][order][:-1], True]]
    closed = b["closure"][last_of]
    child = b["child"][last_of]
    n = len(child)
    nxt = fwd(closed + span(rng, C.REREFERRAL_GAP_DAYS, n))
    young = nxt < add_years(people.dob[child], 18) - 30
    go = (closed >= 0) & young & (nxt <= extract) & (rng.random(n) < C.P_REFERRAL_AFTER_CARE)
    after = chains(rng, child[go], nxt[go], people.ctx, people.dob, extract)
    return Parts.concat([own, earlier, after])


def _cin_only_parts(rng: np.random.Generator, n: int, people: Children, window_start: int,
                    extract: int) -> tuple[Parts, Children]:
    """n children only ever known to the front door, each with a referral open at some time in the window."""
    taken: list[Parts] = []
    chosen: list[Children] = []
    offset = len(people.dob)
    got = 0
    while got < n:
        taken_ids = np.concatenate([people.ids] + [c.ids for c in chosen])
        batch = cin_only_children(rng, max(2000, int(1.3 * (n - got))), window_start, extract, taken_ids)
        local = np.arange(len(batch.dob))
        blocks = chains(rng, local, batch.first_ref, batch.ctx, batch.dob, extract)
        b = blocks.blocks
        seen = (b["closure"] >= window_start) & (b["ref"] <= extract)
        accepted = np.zeros(len(local), dtype=bool)
        accepted[b["child"][seen]] = True
        accepted &= np.cumsum(accepted) <= n - got
        new_no = offset + got + np.cumsum(accepted) - 1
        kept = blocks.keep(accepted[b["child"]])
        kept.blocks["child"] = new_no[kept.blocks["child"]]
        taken.append(kept)
        chosen.append(batch.take(accepted))
        got += int(accepted.sum())
    return Parts.concat(taken), Children.concat(chosen)


def generate_cin(episodes: pd.DataFrame, header: pd.DataFrame, n_cin_only_children: int | None = None,
                 seed: int = 1, first_year: int | None = None, last_year: int | None = None) -> CinTables:
    """The CIN census content of the children in `episodes`/`header` and of children never in care.

    Every child in care gets a CINdetails block for each period of care (about 70% with a CIN plan,
    s47 enquiry or CP plan in the months before; the rest referred days before an emergency entry), open
    while they are in care and closed after they leave. `n_cin_only_children` (default 8 per child in
    `header`) children are only known to the front door. The window is that of the episodes
    (`episodes.attrs` from generate_care_episodes, else their dates). Same arguments, same frames; the
    draws use their own stream, so they never change the care histories.
    """
    inferred = infer_years(episodes)
    first = first_year if first_year is not None else inferred[0]
    last = last_year if last_year is not None else inferred[1]
    window_start, extract = window(first, last)
    n_cin = CIN_ONLY_PER_CARE_CHILD * len(header) if n_cin_only_children is None else n_cin_only_children
    if n_cin < 0:
        raise ValueError("n_cin_only_children must not be negative")
    rng = np.random.default_rng(np.random.SeedSequence([seed, CIN_STREAM]))
    people = care_children(rng, header)
    care = _care_parts(rng, episodes, people, extract)
    if n_cin:
        cin_only, others = _cin_only_parts(rng, n_cin, people, window_start, extract)
        people = Children.concat([people, others])
        parts = Parts.concat([care, cin_only])
    else:
        parts = care
    frames = to_frames(rng, parts, people, window_start, extract)
    return CinTables(**frames, first_year=first, last_year=last)

