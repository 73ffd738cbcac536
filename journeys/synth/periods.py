"""Children and their periods of care (start, length, outcome), before any episode is drawn.

Children already in care when the data window opens are drawn from the entries of the 18 years
before it, kept only when their period is still open at the window start (so the stock at the start
has the long-stay bias real stocks have); the rest enter during the window on seasonal days. After
some outcomes a child comes back into care: a new period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from journeys.synth import tables as T
from journeys.synth.draw import (IntArray, add_years, draw, draw_days, draw_rows, entry_day_weights,
                                  lognormal_days, member)

BoolArray = npt.NDArray[np.bool_]
MAX_LAG = int(18 * T.YEAR)          # how far before the window a child still in care may have entered
SHORT_BREAK_SHARE = 0.012           # children who only have short breaks (LS V3/V4)
AGE_EDGES = np.array([365.25, 5 * T.YEAR, 10 * T.YEAR, 16 * T.YEAR])


@dataclass
class Cohort:
    """Children (indexed 0..n-1) and their periods, sorted by child then start day."""

    dob: IntArray
    male: BoolArray
    ethnic: IntArray
    uasc: BoolArray
    child: IntArray
    start: IntArray
    dur: IntArray
    group: IntArray
    outcome: IntArray
    short_break: BoolArray

    @property
    def n_children(self) -> int:
        """Number of children."""
        return len(self.dob)


def _ages(rng: np.random.Generator, group: IntArray) -> IntArray:
    """Age at entry in days: uniform within the group, with a spike of newborns among babies."""
    lo = np.array([a for a, _ in T.AGE_GROUP_YEARS])[group] * T.YEAR
    hi = np.array([b for _, b in T.AGE_GROUP_YEARS])[group] * T.YEAR
    age = lo + rng.random(len(group)) * (hi - lo)
    newborn = (group == 0) & (rng.random(len(group)) < 0.45)
    age[newborn] = rng.integers(0, 14, int(newborn.sum()))
    uasc_16 = (group == 5) & (rng.random(len(group)) < 0.8)
    age[uasc_16] = (16.0 + 1.9 * rng.random(int(uasc_16.sum()))) * T.YEAR
    return age.astype(np.int64)


def _durations(rng: np.random.Generator, outcome: IntArray, age: IntArray, cap: IntArray) -> tuple[IntArray, IntArray]:
    """Length of a period (days) given its outcome; capped at the 18th birthday (then it ends at 18)."""
    n = len(outcome)
    dur = np.full(n, np.inf)
    short_kind = member(outcome, [T.HOME_P, T.HOME_U, T.REL, T.OTHER, T.TRANSFER, T.ABROAD])
    short = short_kind & (rng.random(n) < 0.22)
    dur[short] = 1 + rng.exponential(12.0, int(short.sum()))
    settled = short_kind & ~short
    dur[settled] = lognormal_days(rng, 520.0, 0.95, int(settled.sum()))
    for kind, median, sigma, floor in ((T.ADOPT, 780.0, 0.33, 270.0), (T.SGO, 640.0, 0.55, 100.0),
                                       (T.CAO, 520.0, 0.65, 30.0), (T.CUSTODY, 180.0, 0.9, 2.0),
                                       (T.REMAND_END, 40.0, 1.0, 1.0), (T.AGE_ASSESSED, 120.0, 0.8, 7.0),
                                       (T.DIED, 400.0, 1.0, 1.0)):
        m = outcome == kind
        dur[m] = np.maximum(floor, lognormal_days(rng, median, sigma, int(m.sum())))
    indep = outcome == T.INDEP
    leave_age = (16.5 + 1.5 * rng.random(n)) * T.YEAR
    dur[indep] = np.maximum(30.0 + 120 * rng.random(n), leave_age - age)[indep]
    dur = np.minimum(dur, cap)
    at_cap = (dur >= cap) & ~member(outcome, [T.INDEP, T.AT18])
    outcome = np.where(at_cap, T.AT18, outcome)
    return np.maximum(1, dur).astype(np.int64), outcome


def _group_of(age: IntArray, uasc: BoolArray) -> IntArray:
    return np.where(uasc, 5, np.searchsorted(AGE_EDGES, age, side="right")).astype(np.int64)


def _periods_from(rng: np.random.Generator, start: IntArray, dob: IntArray,
                  group: IntArray) -> tuple[IntArray, IntArray]:
    """Outcome and length of periods starting on `start` for children born on `dob`."""
    outcome = draw_rows(rng, T.OUTCOME_WEIGHTS, group)
    cap = add_years(dob, 18) - start
    dur, outcome = _durations(rng, outcome, start - dob, cap)
    return dur, outcome


def _first_periods(rng: np.random.Generator, start: IntArray) -> dict[str, IntArray]:
    group = draw(rng, T.AGE_GROUP_WEIGHTS, len(start))
    dob = start - _ages(rng, group)
    dur, outcome = _periods_from(rng, start, dob, group)
    return {"start": start, "dob": dob, "group": group, "dur": dur, "outcome": outcome}


def _take(parts: list[dict[str, IntArray]], n: int) -> dict[str, IntArray]:
    joined = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return {k: v[:n] for k, v in joined.items()}


def _stock_and_entrants(rng: np.random.Generator, n: int, window_start: int, extract: int) -> dict[str, IntArray]:
    """First periods of n children: some in care at the window start, the rest entering during it."""
    span = extract - window_start + 1
    parts: list[dict[str, IntArray]] = []
    drawn = accepted = 0
    n_stock = n
    while accepted < n_stock:
        m = max(2000, n)
        cand = _first_periods(rng, window_start - 1 - rng.integers(0, MAX_LAG, m))
        keep = cand["start"] + cand["dur"] >= window_start
        parts.append({k: v[keep] for k, v in cand.items()})
        drawn += m
        accepted += int(keep.sum())
        share = MAX_LAG * accepted / drawn
        n_stock = int(round(n * share / (share + span)))
    stock = _take(parts, n_stock)
    entrants = _first_periods(rng, draw_days(rng, window_start, entry_day_weights(window_start, extract),
                                             n - n_stock))
    return {k: np.concatenate([stock[k], entrants[k]]) for k in stock}


def _reentries(rng: np.random.Generator, first: dict[str, IntArray], uasc: BoolArray,
               extract: int) -> list[dict[str, IntArray]]:
    """New periods after leaving care, up to three per child."""
    out = []
    last = {"child": np.arange(len(first["start"])), **{k: first[k] for k in ("start", "dur", "outcome")}}
    dob = first["dob"]
    for _ in range(3):
        n = len(last["child"])
        gap = np.maximum(7, lognormal_days(rng, T.REENTRY_GAP_MEDIAN_DAYS, 1.0, n)).astype(np.int64)
        start = last["start"] + last["dur"] + gap
        age = start - dob[last["child"]]
        back = (rng.random(n) < T.REENTRY_P[last["outcome"]]) & (start <= extract) & (age < 17.5 * T.YEAR)
        child = last["child"][back]
        start = start[back]
        group = _group_of(start - dob[child], uasc[child])
        dur, outcome = _periods_from(rng, start, dob[child], group)
        last = {"child": child, "start": start, "dur": dur, "outcome": outcome, "group": group}
        out.append(last)
    return out


def _short_breaks(rng: np.random.Generator, n: int, first_child: int, window_start: int,
                  extract: int) -> dict[str, IntArray]:
    """Children with only a series of short breaks (a few days each, LS V3/V4)."""
    first = draw_days(rng, window_start, np.ones(extract - window_start + 1), n)
    dob = first - ((5 + 11 * rng.random(n)) * T.YEAR).astype(np.int64)
    count = 2 + rng.poisson(5, n)
    child = np.repeat(np.arange(n), count)
    heads = np.cumsum(count) - count
    gap = rng.integers(20, 150, len(child))
    gap[heads] = 0
    total = np.cumsum(gap)
    offset = total - np.repeat(total[heads], count)
    start = first[child] + offset
    dur = rng.integers(1, 5, len(child))
    keep = (start <= extract) & (start + dur < add_years(dob, 18)[child])
    return {"child": first_child + child[keep], "start": start[keep], "dur": dur[keep], "dob": dob}


def simulate_cohort(rng: np.random.Generator, n: int, window_start: int, extract: int) -> Cohort:
    """n children with at least one episode open on or after the window start (all days as ints)."""
    n_sb = int(round(n * SHORT_BREAK_SHARE)) if n >= 50 else 0
    first = _stock_and_entrants(rng, n - n_sb, window_start, extract)
    uasc = first["group"] == 5
    again = _reentries(rng, first, uasc, extract)
    sb = _short_breaks(rng, n_sb, n - n_sb, window_start, extract)
    n_main = n - n_sb
    parts = [{"child": np.arange(n_main), **{k: first[k] for k in ("start", "dur", "outcome", "group")}}]
    parts += again
    child = np.concatenate([p["child"] for p in parts] + [sb["child"]])
    start = np.concatenate([p["start"] for p in parts] + [sb["start"]])
    dur = np.concatenate([p["dur"] for p in parts] + [sb["dur"]])
    outcome = np.concatenate([p["outcome"] for p in parts] + [draw(rng, [0.7, 0, 0, 0, 0, 0.3], len(sb["child"]))])
    group = np.concatenate([p["group"] for p in parts] + [np.full(len(sb["child"]), 3)])
    short_break = np.r_[np.zeros(len(child) - len(sb["child"]), dtype=bool), np.ones(len(sb["child"]), dtype=bool)]
    dob = np.concatenate([first["dob"], sb["dob"]])
    uasc = np.r_[uasc, np.zeros(n_sb, dtype=bool)]
    group_all = np.r_[first["group"], np.full(n_sb, 3)]
    male = rng.random(n) < T.MALE_SHARE[group_all]
    ethnic = draw_rows(rng, T.ETHNIC_WEIGHTS, uasc.astype(np.int64))
    # ids are handed out in a random order, so a child's id says nothing about how they came in
    perm = rng.permutation(n)
    inverse = np.argsort(perm)
    child = perm[child]
    order = np.lexsort((start, child))
    return Cohort(dob=dob[inverse], male=male[inverse], ethnic=ethnic[inverse], uasc=uasc[inverse],
                  child=child[order], start=start[order], dur=dur[order], group=group[order],
                  outcome=outcome[order], short_break=short_break[order])
