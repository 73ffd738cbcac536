"""From mapped episodes to journeys and stage spells, vectorised over all children at once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from journeys.issues import combine_issues, issue_frame
from journeys.stages import OPEN, UNKNOWN_EXIT

#: RNE values that mean the child changed placement (S starts a period; L is legal status only).
PLACEMENT_CHANGE_RNE = ["P", "B", "T", "U"]
SPELL_COLUMNS = ["person_id", "authority", "journey_no", "step", "stage", "start", "end", "next_stage",
                 "exit_detail", "moves", "left_truncated", "re_entry", "days_since_previous"]


@dataclass(frozen=True)
class JourneyRules:
    """The config settings that shape journeys."""

    merge_gap_days: int
    extract_date: dt.date
    new_period_column: str | None = None  # canonical column, e.g. rne
    new_period_values: tuple[str, ...] = ()
    data_start: dt.date | None = None


def _fmt(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%d/%m/%Y").fillna("open")


def resolve_overlaps(ep: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An episode that runs past the start of the child's next one is cut at that start (a warning)."""
    same_next = (ep["person_id"].shift(-1) == ep["person_id"]).fillna(False)
    next_start = ep["start"].shift(-1)
    overlap = (same_next & (ep["end"].isna() | (ep["end"] > next_start))).to_numpy()
    sub = ep[overlap]
    issues = issue_frame("overlapping-episode", sub["file"], "episodes", sub["row"], "end",
                         _fmt(sub["end"]), next_start[overlap].dt.strftime("%d/%m/%Y"))
    ep = ep.copy()
    ep.loc[overlap, "end"] = next_start[overlap]
    ep.loc[overlap, "outcome"] = None
    ep.loc[overlap, "continues"] = True
    return ep, issues


def mark_journeys(ep: pd.DataFrame, rules: JourneyRules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Number journeys per child, find where each starts and how it ends; report gaps and truncation."""
    person, start, end = ep["person_id"], ep["start"], ep["end"]
    if ep.empty:
        return ep.assign(journey_id=0, journey_no=0, journey_start=False, journey_end=False, journey_outcome=None,
                         left_truncated=False, days_since_previous=pd.NA), combine_issues([])
    first = (person != person.shift()).fillna(True).to_numpy(dtype=bool)
    prev_exit = ep["outcome"].shift().notna().to_numpy()
    gap = (start - end.shift()).dt.days.to_numpy()
    gap_break = ~first & ~prev_exit & (gap > rules.merge_gap_days)
    new_journey = first | prev_exit | gap_break
    last = np.append(new_journey[1:], True)
    journey_id = np.cumsum(new_journey)
    first_id = pd.Series(np.where(first, journey_id, np.nan)).ffill().to_numpy()
    if rules.new_period_column and rules.new_period_column in ep:
        starts_period = ep[rules.new_period_column].isin(rules.new_period_values).to_numpy()
        truncated = new_journey & ~starts_period
        why = "RNE is " + ep.loc[truncated, rules.new_period_column].astype("object").fillna("blank")
    elif rules.data_start is not None:
        truncated = new_journey & (start < pd.Timestamp(rules.data_start)).to_numpy()
        why = pd.Series(f"it began before the data starts on {rules.data_start:%d/%m/%Y}", index=ep.index[truncated])
    else:
        truncated = np.zeros(len(ep), dtype=bool)
        why = pd.Series("", index=ep.index[truncated])
    outcome = ep["outcome"].to_numpy(dtype=object).copy()
    is_open = end.isna().to_numpy()
    unknown = last & ~is_open & pd.isna(outcome)
    outcome[last & is_open] = OPEN
    outcome[unknown] = UNKNOWN_EXIT
    outcome[~last] = None
    gap_next = np.append(gap_break[1:], False)
    gap_after = np.append(gap[1:], np.nan)
    silent_end = unknown & ~gap_next
    g, s, t = ep[gap_next & unknown], ep[silent_end], ep[truncated]
    issues = [
        issue_frame("journey-gap", g["file"], "episodes", g["row"], "end", _fmt(g["end"]),
                    pd.Series(gap_after[gap_next & unknown]).astype("int64").astype("str") + " days"),
        issue_frame("missing-end-reason", s["file"], "episodes", s["row"], "exit_code", _fmt(s["end"]),
                    np.where(s["continues"], " (it says a new episode follows, but none does)", "")),
        issue_frame("left-truncated-journey", t["file"], "episodes", t["row"], rules.new_period_column, None, why),
    ]
    # per journey (its rows are consecutive): truncated if its first row is, and the gap before it on every row
    starts = np.flatnonzero(new_journey)
    lengths = np.diff(np.append(starts, len(ep)))
    since = pd.array(np.repeat(np.where(first[starts], np.nan, gap[starts]), lengths), dtype="Int64")
    marked = ep.assign(journey_id=journey_id, journey_no=(journey_id - first_id + 1).astype(np.int32),
                       journey_start=new_journey, journey_end=last, journey_outcome=outcome,
                       left_truncated=np.repeat(truncated[starts], lengths),
                       days_since_previous=since)
    return marked, combine_issues(issues)


def absorb_stages(ep: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Absorbed episodes take the stage before them in the journey (else the one after).

    Returns the episodes and a mask of journeys made only of absorbed episodes (to quarantine).
    """
    stage = ep["stage"].where(ep["action"] != "absorb")
    grouped = stage.groupby(ep["journey_id"])
    stage = grouped.ffill()
    stage = stage.fillna(stage.groupby(ep["journey_id"]).bfill())
    return ep.assign(stage=stage), stage.isna()


def build_spells(ep: pd.DataFrame, authority: str, extract_date: dt.date) -> pd.DataFrame:
    """One row per continuous stay in one stage, with the stage or outcome that came next."""
    new_spell = (ep["journey_start"] | (ep["stage"] != ep["stage"].shift())).to_numpy()
    spell_id = np.cumsum(new_spell)
    absorbed = (ep["action"] == "absorb").to_numpy()
    settled_code = _settled_before(ep["code"], absorbed, ep["journey_start"].to_numpy(dtype=bool))
    if "rne" in ep and ep["rne"].notna().any():
        change = ep["rne"].isin(PLACEMENT_CHANGE_RNE).to_numpy()
    else:
        change = (ep["code"] != settled_code).to_numpy()
    back_from_temporary = np.append(False, absorbed[:-1]) & (ep["code"] == settled_code).to_numpy()
    move = ~new_spell & ~absorbed & change & ~back_from_temporary
    frame = ep.assign(spell_id=spell_id, move=move)
    agg = frame.groupby("spell_id", sort=True).agg(
        person_id=("person_id", "first"), journey_no=("journey_no", "first"), stage=("stage", "first"),
        start=("start", "first"), end=("end", "last"), moves=("move", "sum"),
        left_truncated=("left_truncated", "first"), days_since_previous=("days_since_previous", "first"),
        journey_end=("journey_end", "last"), outcome=("journey_outcome", "last"),
        exit_detail=("outcome_detail", "last"), journey_id=("journey_id", "first"))
    step = agg.groupby("journey_id").cumcount() + 1
    next_stage = agg["stage"].shift(-1).where(~agg["journey_end"], agg["outcome"])
    end = agg["end"].where(next_stage != OPEN, pd.Timestamp(extract_date))
    spells = pd.DataFrame({
        "person_id": agg["person_id"], "authority": authority, "journey_no": agg["journey_no"].astype(np.int32),
        "step": step.astype(np.int32), "stage": agg["stage"].astype("str"), "start": agg["start"], "end": end,
        "next_stage": next_stage.astype("str"),
        "exit_detail": agg["exit_detail"].astype("object").where(agg["journey_end"] & agg["exit_detail"].notna(),
                                                                  None),
        "moves": agg["moves"].astype(np.int32), "left_truncated": agg["left_truncated"].astype(bool),
        "re_entry": agg["journey_no"] > 1, "days_since_previous": agg["days_since_previous"],
    })
    return spells.reset_index(drop=True)[SPELL_COLUMNS]


def _settled_before(code: pd.Series, absorbed: np.ndarray, journey_start: np.ndarray) -> pd.Series:
    """Each episode's last placement code before it in its own journey, not counting absorbed (temporary)
    episodes; <NA> where there is none. (A forward fill across the frame let one child's code decide
    another's moves: it showed as a difference between the embedded and the partitioned builds.)

    >>> _settled_before(pd.Series(["A", "T", "A", "B", "T", "C"]), np.array([0, 1, 0, 0, 1, 0], dtype=bool),
    ...                 np.array([1, 0, 0, 1, 0, 0], dtype=bool)).tolist()
    [nan, 'A', 'A', nan, 'B', 'B']
    """
    n = len(code)
    position = np.arange(n)
    before = np.maximum.accumulate(np.concatenate([[-1], np.where(~absorbed, position, -1)[:-1]]))
    journey_first = np.maximum.accumulate(np.where(journey_start, position, 0))
    inside = (before >= journey_first) & (before >= 0)
    out = code.iloc[np.where(inside, before, 0)].copy() if n else code.copy()
    out.index = code.index
    return out.where(inside)


def empty_spells() -> pd.DataFrame:
    """A spells table with no rows and the contract's types (a build with no care episodes)."""
    types = {"person_id": "UInt64", "authority": "str", "journey_no": "int32", "step": "int32", "stage": "str",
             "start": "datetime64[us]", "end": "datetime64[us]", "next_stage": "str", "exit_detail": "object",
             "moves": "int32", "left_truncated": "bool", "re_entry": "bool", "days_since_previous": "Int64"}
    return pd.DataFrame({c: pd.Series(dtype=types[c]) for c in SPELL_COLUMNS})
