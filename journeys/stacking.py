"""Stack several annual returns: the latest return's version of an episode wins, repeats are reported."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from journeys.issues import combine_issues, issue_frame


@dataclass(frozen=True)
class Stacked:
    """The rows kept (one per key, sorted by key), the issues, and the row ids to mark in the ledger."""

    kept: pd.DataFrame
    issues: pd.DataFrame
    superseded: np.ndarray  # repeats from an older return
    repeats: np.ndarray  # repeats within the same return (quarantined)


def stack_episodes(frame: pd.DataFrame) -> Stacked:
    """Keep one row per (child, start): the latest return's; the result is sorted by child and start."""
    return _stack(frame, ["person_id", "start"], "duplicate-episode", "episodes", "DECOM",
                  lambda dup: dup["start"].dt.strftime("%d/%m/%Y"))


def stack_header(frame: pd.DataFrame) -> Stacked:
    """Keep one header row per child: the latest return's; repeats within one return are quarantined."""
    return _stack(frame, ["person_id"], "duplicate-header", "header", "CHILD", lambda dup: None)


def _sort_key(column: pd.Series) -> np.ndarray:
    """A numeric sort key (pseudonyms are 64-bit numbers, dates count microseconds)."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.to_numpy().view(np.int64)
    return column.to_numpy(dtype=np.uint64, na_value=0)


def _stack(frame: pd.DataFrame, keys: list[str], code: str, table: str, column: str,
           value: Callable[[pd.DataFrame], pd.Series | None]) -> Stacked:
    """Order rows winner-first within each key (latest return, then first row read) in one lexsort."""
    key_arrays = [_sort_key(frame[k]) for k in keys]
    year = frame["return_year"].to_numpy(dtype=np.int64)
    row_id = frame["row_id"].to_numpy(dtype=np.int64)
    order = np.lexsort((row_id, -year, *reversed(key_arrays)))
    sorted_keys = [k[order] for k in key_arrays]
    repeat = np.zeros(len(order), dtype=bool)
    if len(order) > 1:
        repeat[1:] = np.logical_and.reduce([k[1:] == k[:-1] for k in sorted_keys])
    winner = np.maximum.accumulate(np.where(repeat, 0, np.arange(len(order))))
    same_return = repeat & (year[order] == year[order][winner])
    # every column taken once, for the rows kept; the repeats (few) apart
    dup = frame.iloc[order[same_return]]
    won = frame.iloc[order[winner[same_return]]]
    detail = " (row " + won["row"].astype("str").to_numpy() + " of " + won["file"].astype("str").to_numpy() + ")"
    issues = issue_frame(code, dup["file"], table, dup["row"], column, value(dup), detail)
    return Stacked(frame.iloc[order[~repeat]], combine_issues([issues]), row_id[order][repeat & ~same_return],
                   row_id[order][same_return])
