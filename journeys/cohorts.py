"""Two cohorts side by side (DESIGN 5): where their journeys are a fixed time after they start, and how long they stay.

A cohort is the children whose journey starts (a genuine entry, not one already under way when the
data begins) in a window of dates, optionally narrowed by a mask (an attribute, a council). Each
child counts once, by the first of their journeys to start in the window, so the cohorts are
samples of children and the tests' independence holds within a cohort.

Where they are `horizon_months` after the start is counted only for journeys followed that long:
the start plus the horizon must fall on or before `followed_until` (the earliest extract date), or
the journey is "not followed up yet" and counted apart. That depends only on when a journey
started, never on how it went, so the shares of the others are not biased towards quick endings.
Time in a stage (or in the whole journey) uses every member, with stays still open at the extract
date censored (Kaplan-Meier).

Disclosure control (DESIGN 6): the cohort x state table of the followed-up journeys is a fixed table
(`suppress.suppress_table`); the journeys not followed up yet are a one-way table of their own (the
cohorts' sizes are not published, so neither can be taken from the other). Shares and intervals
are published only where their counts are. The test of chance sees only what the table publishes:
states hidden in either cohort are pooled, and the pool is a cohort's total less its published
states, so the p-value tells nothing the table does not.
Survival is shown for groups of at least 10, by whole month, and a month is withheld while fewer
than threshold + 1 children have left since the last one shown, so no step shows one child.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from journeys.chance import ChanceTest, kaplan_meier, log_rank, newcombe, table_test, wilson
from journeys.derived import MIN_GROUP_FOR_DURATIONS
from journeys.stages import OPEN, StageModel
from journeys.steps import journey_order
from journeys.suppress import DEFAULT_THRESHOLD, SuppressedTable, suppress_series, suppress_table

NOT_FOLLOWED = "not_followed_up"
NOT_FOLLOWED_LABEL = "Not followed up yet"
POOLED = "pooled"  # the test's column of the states a cohort's table hides
_DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class Cohort:
    """Children whose journey starts between `first` and `last` (whole days, both included)."""

    label: str
    first: dt.date
    last: dt.date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"cohort {self.label!r} ends ({self.last}) before it starts ({self.first})")


def around(date: dt.date, months: int = 12, labels: tuple[str, str] = ("Before", "After")) -> tuple[Cohort, Cohort]:
    """The `months` before an intervention date and the `months` from it: the evaluator's before and after."""
    if months < 1:
        raise ValueError(f"a cohort window is at least 1 month, got {months}")
    day = pd.Timestamp(date)
    before = Cohort(labels[0], (day - pd.DateOffset(months=months)).date(), (day - pd.Timedelta(days=1)).date())
    after = Cohort(labels[1], day.date(), (day + pd.DateOffset(months=months) - pd.Timedelta(days=1)).date())
    return before, after


@dataclass(frozen=True)
class Members:
    """Each cohort's journeys (one per child) and their spells, journey by journey in step order."""

    rows: np.ndarray  # positions (iloc) into spells of every member journey's spells
    begins: np.ndarray  # where each member journey's spells begin in rows
    cohort: np.ndarray  # 0 or 1: the cohort of each member journey
    start: np.ndarray  # datetime64: each member journey's start

    @cached_property
    def journey_of_row(self) -> np.ndarray:
        """The member journey (0..) each of rows belongs to (worked out once: the horizon and the timing use it)."""
        return np.repeat(np.arange(self.begins.size), np.diff(np.append(self.begins, self.rows.size)))


def members(spells: pd.DataFrame, cohorts: Sequence[Cohort],
            keep: Sequence[np.ndarray | None] | None = None) -> Members:
    """The journeys of two cohorts; `keep[i]` (a bool mask over spells' rows, or None) narrows cohort i."""
    if len(cohorts) != 2:
        raise ValueError(f"a comparison has two cohorts, got {len(cohorts)}")
    order, begins = journey_order(spells)
    heads = np.flatnonzero(begins)
    lengths = np.diff(np.append(heads, order.size))
    first_rows = order[heads]
    start = spells["start"].to_numpy()[first_rows]
    genuine = ~spells["left_truncated"].to_numpy(bool)[first_rows]
    picked: list[np.ndarray] = []
    for i, cohort in enumerate(cohorts):
        inside = genuine & (start >= np.datetime64(cohort.first)) & (start < np.datetime64(cohort.last)
                                                                       + np.timedelta64(1, "D"))
        if keep is not None and keep[i] is not None:
            inside &= np.asarray(keep[i], dtype=bool)[first_rows]
        journeys = np.flatnonzero(inside)
        picked.append(journeys[_first_per_child(spells, first_rows[journeys], start[journeys])])
    journey = np.concatenate(picked)
    sizes = lengths[journey]
    offsets = np.cumsum(sizes) - sizes
    within = np.arange(sizes.sum()) - np.repeat(offsets, sizes)
    rows = order[np.repeat(heads[journey], sizes) + within]
    return Members(rows=rows, begins=offsets, cohort=np.repeat([0, 1], [p.size for p in picked]),
                   start=start[journey])


def _first_per_child(spells: pd.DataFrame, rows: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Positions into rows of each child's earliest journey (children are authority + person_id)."""
    if rows.size == 0:
        return rows
    person = pd.factorize(spells["person_id"].array.take(rows))[0].astype(np.int64)
    council = pd.factorize(spells["authority"].array.take(rows))[0].astype(np.int64)
    child = council * (person.max() + 1) + person
    by_start = np.argsort(start, kind="stable")
    first = np.unique(child[by_start], return_index=True)[1]
    return np.sort(by_start[first])


def horizon_states(spells: pd.DataFrame, m: Members, horizon_months: int, followed_until: dt.date) -> np.ndarray:
    """Where each member journey is `horizon_months` after its start: its stage, its outcome, or NOT_FOLLOWED.

    The stage of the last spell started by then; past that spell's end, the stage or outcome it led to.
    """
    if horizon_months < 1:
        raise ValueError(f"the horizon is at least 1 month, got {horizon_months}")
    moment = (pd.DatetimeIndex(m.start) + pd.DateOffset(months=horizon_months)).to_numpy()
    journey = m.journey_of_row
    started = spells["start"].to_numpy()[m.rows] <= moment[journey]
    last = m.rows[m.begins + np.add.reduceat(started.astype(np.int64), m.begins) - 1] if m.begins.size else m.begins
    stage = spells["stage"].to_numpy(dtype=object)[last]
    after = spells["next_stage"].to_numpy(dtype=object)[last]
    beyond = (moment >= spells["end"].to_numpy()[last]) & (after != OPEN)
    state = np.where(beyond, after, stage)
    return np.where(moment <= np.datetime64(followed_until), state, NOT_FOLLOWED)


def state_counts(states: np.ndarray, cohort: np.ndarray, cohorts: Sequence[Cohort], model: StageModel) -> pd.DataFrame:
    """Cohort x state counts: rows the cohorts' labels, columns the states in stage-model order, NOT_FOLLOWED last."""
    codes, found = pd.factorize(states)
    counts = np.bincount(cohort * max(len(found), 1) + codes, minlength=2 * max(len(found), 1)).reshape(2, -1)
    table = pd.DataFrame(counts[:, : len(found)], index=pd.Index([c.label for c in cohorts], name="cohort"),
                         columns=pd.Index(found, dtype="str"))
    known = [s for s in model.ids if s in table.columns and s != NOT_FOLLOWED]
    other = sorted(set(table.columns) - set(known) - {NOT_FOLLOWED})
    table = table.reindex(columns=[*known, *other, NOT_FOLLOWED], fill_value=0)
    table.columns.name = "state"
    return table.astype(np.int64)


@dataclass(frozen=True)
class CohortComparison:
    """Everything the comparison publishes, after disclosure control."""

    cohorts: tuple[Cohort, Cohort]
    horizon_months: int
    followed_until: dt.date
    table: SuppressedTable  # cohort x state of the journeys followed up to the horizon
    not_followed: SuppressedTable  # per cohort: journeys that started too late to be followed that long
    shares: pd.DataFrame  # one row per state: each cohort's share with its 95% interval, the difference b - a
    test: ChanceTest | None  # None where the table leaves nothing to test
    pooled: tuple[str, ...]  # states the test pooled because the table hides them
    stage: str | None  # the stage timed (None: the whole journey)
    survival: pd.DataFrame  # cohort, month, share still in the stage (NaN where withheld)
    medians: pd.DataFrame  # cohort, median_weeks (NaN where not published or not reached)
    survival_test: ChanceTest | None  # log-rank, where both groups have at least 10 children


def compare_cohorts(spells: pd.DataFrame, model: StageModel, cohorts: Sequence[Cohort], *, followed_until: dt.date,
                    horizon_months: int = 12, stage: str | None = None,
                    keep: Sequence[np.ndarray | None] | None = None,
                    threshold: int = DEFAULT_THRESHOLD) -> CohortComparison:
    """Compare two cohorts' journeys: where they are after `horizon_months`, and time in `stage`."""
    a, b = cohorts
    m = members(spells, cohorts, keep)
    counts = state_counts(horizon_states(spells, m, horizon_months, followed_until), m.cohort, cohorts, model)
    table = suppress_table(counts.drop(columns=NOT_FOLLOWED), threshold)
    not_followed = suppress_series(counts[NOT_FOLLOWED].rename("journeys"), threshold)
    shares = share_table(table, model)
    pooled_table, pooled = chance_table(table)
    days, ended, group = stage_times(spells, m, stage)
    survival, medians, survival_test = survival_tables(days, ended, group, (a, b), threshold)
    return CohortComparison(cohorts=(a, b), horizon_months=horizon_months, followed_until=followed_until,
                            table=table, not_followed=not_followed, shares=shares,
                            test=None if pooled_table is None else table_test(pooled_table),
                            pooled=pooled, stage=stage, survival=survival, medians=medians,
                            survival_test=survival_test)


def share_table(table: SuppressedTable, model: StageModel) -> pd.DataFrame:
    """Each state's share of each cohort's followed-up journeys, with 95% Wilson intervals and the
    difference (second cohort less first) with Newcombe's interval; NaN wherever a count is hidden."""
    states = list(table.cells.columns)
    cells = table.cells.to_numpy(dtype="float64", na_value=np.nan)
    totals = _totals(table)[:, None] * np.ones((1, len(states)))
    labels = {s.id: s.label for s in model.stages}
    out = pd.DataFrame({"state": states, "label": [labels.get(s, s) for s in states]})
    for i, name in enumerate(("a", "b")):
        lower, upper = wilson(cells[i], totals[i])
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"share_{name}"] = np.where(totals[i] > 0, cells[i] / totals[i], np.nan)
        out[f"lower_{name}"], out[f"upper_{name}"] = lower, upper
    out["difference"], out["difference_lower"], out["difference_upper"] = newcombe(cells[0], totals[0],
                                                                                   cells[1], totals[1])
    return out


def _totals(table: SuppressedTable) -> np.ndarray:
    """Each cohort's followed-up journeys (the row totals), NaN where hidden."""
    return table.row_totals.to_numpy(dtype="float64", na_value=np.nan)


def chance_table(table: SuppressedTable) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """The 2 x K table the test may use: published states, the others pooled (None if a total is hidden)."""
    followed = _totals(table)
    if np.isnan(followed).any():
        return None, ()
    states = list(table.cells.columns)
    cells = table.cells.to_numpy(dtype="float64", na_value=np.nan)
    shown = ~np.isnan(cells).any(axis=0)
    kept = cells[:, shown].astype(np.int64)
    pool = followed.astype(np.int64) - kept.sum(axis=1)
    pooled = tuple(s for s, ok in zip(states, shown) if not ok)
    return (np.column_stack([kept, pool]) if pooled else kept), pooled


def stage_times(spells: pd.DataFrame, m: Members, stage: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days in the timed stage of each member journey, whether that stay ended, and the journey's cohort.

    With a stage: the journey's first spell in it (journeys never in it are left out). Without: the
    whole journey, from its start to the end of its last spell.
    """
    if stage is None:
        first, last, group = m.rows[m.begins], m.rows[np.append(m.begins[1:], m.rows.size) - 1], m.cohort
    else:
        inside = np.flatnonzero(spells["stage"].to_numpy(dtype=object)[m.rows] == stage)
        journeys, firsts = np.unique(m.journey_of_row[inside], return_index=True)
        first = last = m.rows[inside[firsts]]
        group = m.cohort[journeys]
    days = (spells["end"].to_numpy()[last] - spells["start"].to_numpy()[first]) / np.timedelta64(1, "D")
    return days, spells["next_stage"].to_numpy(dtype=object)[last] != OPEN, group


def survival_tables(days: np.ndarray, ended: np.ndarray, group: np.ndarray, cohorts: tuple[Cohort, Cohort],
                    threshold: int) -> tuple[pd.DataFrame, pd.DataFrame, ChanceTest | None]:
    """The share still in the stage by whole month, the median in whole weeks, and the log-rank test,
    each where DESIGN 6 allows it (module docstring)."""
    curves, medians = [], []
    for i, cohort in enumerate(cohorts):
        km = kaplan_meier(days[group == i], ended[group == i])
        months = np.arange(0, int(km.durations[-1] // _DAYS_PER_MONTH) + 2 if km.size else 1)
        moments = months * _DAYS_PER_MONTH
        at_risk = km.at_risk_at(moments)
        shown = _months_shown(at_risk, km.left_by(moments), threshold)
        curves.append(pd.DataFrame({"cohort": cohort.label, "month": months,
                                    "survival": np.where(shown, np.round(km.at(moments), 3), np.nan)})[
                                        at_risk >= MIN_GROUP_FOR_DURATIONS])
        median = np.floor(km.median() / 7) if km.size >= MIN_GROUP_FOR_DURATIONS else np.nan
        medians.append({"cohort": cohort.label, "median_weeks": median})
    big = min(int((group == 0).sum()), int((group == 1).sum())) >= MIN_GROUP_FOR_DURATIONS
    survival = pd.concat(curves, ignore_index=True).astype({"cohort": "str", "month": np.int64,
                                                            "survival": "float64"})
    return survival, pd.DataFrame(medians), log_rank(days, ended, group) if big else None


def _months_shown(at_risk: np.ndarray, left: np.ndarray, threshold: int) -> np.ndarray:
    """Which whole months a curve shows: at least 10 still at risk, and none or more than threshold children
    gone since the last month shown (or since the start); one short loop over months, not children."""
    shown = np.zeros(at_risk.size, dtype=bool)
    before = 0
    for month in range(at_risk.size):
        if at_risk[month] < MIN_GROUP_FOR_DURATIONS:
            break
        gone = left[month] - before
        if gone == 0 or gone > threshold:
            shown[month], before = True, left[month]
    return shown
