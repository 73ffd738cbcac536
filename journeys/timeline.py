"""One stage at a time per child: overlapping involvements from several sources, resolved by precedence.

A child can be on a child protection plan while a child-in-need plan is still open, or come into
care during a section 47 enquiry. Journeys count a child in one stage at a time: the stage
model's `precedence` decides which (in care outranks child protection, which outranks child in
need...). This module sweeps every child's intervals at once (no loop over children): each
interval adds +1 to its stage's column at its start and -1 at its end, a cumulative sum gives
the stages active after every event, and the highest-ranked active stage is the child's stage
until the next event.

Intervals are half-open, [start, end). An interval that starts and ends on the same day (a
referral closed with no further action that day) is an instant: it appears as a zero-length
segment unless a higher-ranked stage covers that moment, so a same-day handover (referral ->
section 47) keeps both stages in order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

SEGMENT_COLUMNS = ["person_id", "start", "end", "stage", "new_cover"]
# event kinds at the same moment, in the order they are applied
_END, _INSTANT_START, _INSTANT_END, _START = 0, 1, 2, 3


def flatten_timeline(intervals: pd.DataFrame, stage_order: Sequence[str]) -> pd.DataFrame:
    """Non-overlapping segments per child from overlapping `intervals` (person_id, start, end, stage).

    `stage_order` lists stages from lowest to highest precedence; ties are broken by that order.
    `end` must be filled (censor open intervals at the extract date first). Returns segments
    (person_id, start, end, stage, new_cover) in time order, consecutive equal stages merged;
    `new_cover` is True where the child was known to no service just before (a new journey).

    >>> iv = pd.DataFrame({"person_id": [1, 1], "stage": ["child_in_need", "child_protection"],
    ...                    "start": pd.to_datetime(["2024-01-01", "2024-02-01"]),
    ...                    "end": pd.to_datetime(["2024-06-01", "2024-03-01"])})
    >>> flatten_timeline(iv, ["child_in_need", "child_protection"])[["stage", "start", "end"]].astype(str).values.tolist()
    [['child_in_need', '2024-01-01', '2024-02-01'], ['child_protection', '2024-02-01', '2024-03-01'], \
['child_in_need', '2024-03-01', '2024-06-01']]
    """
    rank = {stage: i for i, stage in enumerate(stage_order)}
    unknown = set(intervals["stage"]) - set(rank)
    if unknown:
        raise ValueError(f"stages without a precedence: {', '.join(sorted(map(str, unknown)))}")
    if (intervals["end"].isna()).any() or (intervals["end"] < intervals["start"]).any():
        raise ValueError("every interval needs an end on or after its start (censor open ones first)")
    if intervals.empty:
        return pd.DataFrame({c: pd.Series(dtype=intervals[c].dtype if c in intervals else bool)
                             for c in SEGMENT_COLUMNS})
    events = _events(intervals, rank)
    state = _active_stage(events, len(stage_order))
    return _segments(events, state, list(stage_order))


def _events(intervals: pd.DataFrame, rank: dict[str, int]) -> pd.DataFrame:
    """Two events per interval, sorted by child, time and kind."""
    instant = (intervals["start"] == intervals["end"]).to_numpy()
    codes, names = pd.factorize(intervals["stage"])
    stage = np.array([rank[n] for n in names], dtype=np.int64)[codes]  # distinct stages, not rows
    person = intervals["person_id"].to_numpy()
    starts = pd.DataFrame({"person_id": person, "time": intervals["start"].to_numpy(), "stage": stage,
                           "delta": 1, "kind": np.where(instant, _INSTANT_START, _START)})
    ends = pd.DataFrame({"person_id": person, "time": intervals["end"].to_numpy(), "stage": stage,
                         "delta": -1, "kind": np.where(instant, _INSTANT_END, _END)})
    events = pd.concat([starts, ends], ignore_index=True)
    return events.sort_values(["person_id", "time", "kind", "stage"], kind="stable").reset_index(drop=True)


def _active_stage(events: pd.DataFrame, n_stages: int) -> np.ndarray:
    """The highest-ranked active stage after each event (-1 where none is active).

    Every child's events sum to zero per stage, so one running sum over all children resets by
    itself at each child's last event. One stage at a time (a loop over the ~20 stages, never
    over children) keeps memory to a few columns.
    """
    stage = events["stage"].to_numpy()
    delta = events["delta"].to_numpy().astype(np.int32)
    top = np.full(len(events), -1, dtype=np.int64)
    for rank in range(n_stages):
        running = np.cumsum(np.where(stage == rank, delta, 0), dtype=np.int32)
        top[running > 0] = rank  # later (higher) ranks overwrite lower ones
    return top


def _segments(events: pd.DataFrame, state: np.ndarray, stage_order: list[str]) -> pd.DataFrame:
    """Turn the state after each event into segments up to the next event, then merge repeats."""
    person = events["person_id"].to_numpy()
    time = events["time"].to_numpy()
    same_next = np.append(person[1:] == person[:-1], False)
    next_time = np.append(time[1:], time[-1:])
    kind = events["kind"].to_numpy()
    lasting = same_next & (next_time > time)
    next_kind = np.append(kind[1:], -1)
    # several instants at one moment: only the state after the last of them is shown
    instant = (kind == _INSTANT_START) & same_next & ~((next_kind == _INSTANT_START) & (next_time == time))
    keep = (lasting | instant) & (state >= 0)
    seg = pd.DataFrame({"person_id": person[keep], "start": time[keep],
                        "end": np.where(instant[keep] & ~lasting[keep], time[keep], next_time[keep]),
                        "stage_no": state[keep]})
    # a child is 'not known' between two kept segments when the state went to none in between
    uncovered = pd.Series((state < 0) & same_next & (next_time > time)).cumsum().to_numpy()[keep]
    first = np.append(True, seg["person_id"].to_numpy()[1:] != seg["person_id"].to_numpy()[:-1])
    new_cover = first | np.append(False, uncovered[1:] != uncovered[:-1])
    change = new_cover | np.append(True, seg["stage_no"].to_numpy()[1:] != seg["stage_no"].to_numpy()[:-1])
    block = np.cumsum(change)
    merged = seg.assign(block=block, new_cover=new_cover).groupby("block", sort=True).agg(
        person_id=("person_id", "first"), start=("start", "first"), end=("end", "last"),
        stage_no=("stage_no", "first"), new_cover=("new_cover", "first"))
    merged["stage"] = np.asarray(stage_order, dtype=object)[merged["stage_no"].to_numpy()]
    return merged[SEGMENT_COLUMNS].reset_index(drop=True)
