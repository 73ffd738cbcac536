"""Stack several annual returns: the latest return's version of an episode wins, repeats are reported."""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeys.issues import combine_issues, issue_frame


def stack_episodes(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Keep one row per (child, start): the latest return's.

    Returns the kept episodes, the issues, the row ids superseded by a later return, and the row ids
    quarantined as repeats within one return.
    """
    ordered, duplicate, superseded = _split(frame, ["person_id", "start"])
    dup = ordered[duplicate]
    issues = issue_frame("duplicate-episode", dup["file"], "episodes", dup["row"], "DECOM",
                         dup["start"].dt.strftime("%d/%m/%Y"), _kept_at(ordered, duplicate | superseded)[duplicate])
    kept = ordered[~(duplicate | superseded)].sort_values(["person_id", "start"], kind="stable")
    return kept, combine_issues([issues]), ordered.loc[superseded, "row_id"].to_numpy(), \
        dup["row_id"].to_numpy()


def stack_header(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Keep one header row per child: the latest return's; repeats within one return are quarantined."""
    ordered, duplicate, superseded = _split(frame, ["person_id"])
    dup = ordered[duplicate]
    issues = issue_frame("duplicate-header", dup["file"], "header", dup["row"], "CHILD", None,
                         _kept_at(ordered, duplicate | superseded)[duplicate])
    kept = ordered[~(duplicate | superseded)]
    return kept, combine_issues([issues]), ordered.loc[superseded, "row_id"].to_numpy(), \
        dup["row_id"].to_numpy()


def _kept_at(ordered: pd.DataFrame, repeat: pd.Series) -> pd.Series:
    """For each row, where the row that won its group is: ' (row 3 of episodes.csv)'."""
    row = ordered["row"].where(~repeat).ffill().astype("int64").astype("str")
    file = ordered["file"].where(~repeat).ffill().astype("str")
    return " (row " + row + " of " + file + ")"


def _split(frame: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Order rows winner-first within each key; flag repeats in the same return and older returns."""
    ordered = frame.sort_values([*keys, "return_year", "row_id"],
                                ascending=[*[True] * len(keys), False, True], kind="stable")
    repeat = ordered.duplicated(keys, keep="first")
    winner_year = ordered["return_year"].where(~repeat).ffill()
    same_return = repeat & (winner_year == ordered["return_year"])
    return ordered, same_return, repeat & ~same_return
