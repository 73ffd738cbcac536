"""Write full histories as SSDA903 annual returns, one episodes and one header CSV per collection year."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from journeys.flows import year_label
from journeys.synth.generate import EPISODE_COLUMNS, HEADER_COLUMNS

#: Codes a return of a later collection year no longer accepts, and what the writer sends instead.
RECODE_FROM_2025_26 = {"H5": "K3", "P2": "K3", "Z1": "Z14"}


def format_dates(values: pd.Series, fmt: str = "%d/%m/%Y") -> pd.Series:
    """Dates as text (blank when missing), formatting each distinct date once."""
    codes, uniques = pd.factorize(values)
    text = np.asarray(pd.DatetimeIndex(uniques).strftime(fmt), dtype=object)
    out = np.where(codes >= 0, text[np.maximum(codes, 0)] if len(text) else "", "")
    return pd.Series(out, index=values.index, dtype="str")


def collection_label(year: int) -> str:
    """The collection year ending 31 March `year`.

    >>> collection_label(2025)
    '2024-25'
    """
    return year_label(year)


def infer_years(episodes: pd.DataFrame) -> tuple[int, int]:
    """(first_year, last_year) from the frame's attrs, else from its dates."""
    if "first_year" in episodes.attrs and "last_year" in episodes.attrs:
        return int(episodes.attrs["first_year"]), int(episodes.attrs["last_year"])
    latest = episodes["DECOM"].max()
    last = latest.year + (1 if latest.month >= 4 else 0)
    earliest = episodes["DEC"].min()
    if pd.isna(earliest):
        earliest = episodes["DECOM"].min()
    first = earliest.year - (1 if earliest.month <= 3 else 0)
    return first, last


def annual_return(episodes: pd.DataFrame, header: pd.DataFrame, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The episodes and header tables of the return for the year ending 31 March `year`, as text.

    Every episode open at some time in the year; one still open on 31 March has blank DEC, REC and
    REASON_PLACE_CHANGE. SEX is 1/2 before 2024-25 and M/F from it; codes follow the year's lists.
    """
    ref, begin = pd.Timestamp(dt.date(year, 3, 31)), pd.Timestamp(dt.date(year - 1, 4, 1))
    rows = episodes[(episodes["DECOM"] <= ref) & (episodes["DEC"].isna() | (episodes["DEC"] >= begin))]
    still_open = rows["DEC"].isna() | (rows["DEC"] > ref)
    out = pd.DataFrame({c: rows[c].astype("str") for c in EPISODE_COLUMNS}, index=rows.index)
    for column in ("REC", "REASON_PLACE_CHANGE"):
        out[column] = out[column].mask(still_open, "")
    out["DECOM"] = format_dates(rows["DECOM"])
    out["DEC"] = format_dates(rows["DEC"].where(~still_open))
    if year >= 2026:
        out["PLACE"] = out["PLACE"].replace(RECODE_FROM_2025_26)
    out = out.fillna("")
    children = header[header["CHILD"].isin(rows["CHILD"].unique())]
    head = pd.DataFrame({c: children[c].astype("str") for c in HEADER_COLUMNS}, index=children.index)
    if year < 2025:
        head["SEX"] = head["SEX"].map({"M": "1", "F": "2"})
    born = children["MC_DOB"].notna() & (children["MC_DOB"] <= ref)
    head["MOTHER"] = head["MOTHER"].where(~(head["MOTHER"] == "1") | born, "0")
    head["MC_DOB"] = format_dates(children["MC_DOB"].where(born))
    head["DOB"] = format_dates(children["DOB"])
    return out.reset_index(drop=True), head.fillna("").reset_index(drop=True)


def write_ssda903_returns(episodes: pd.DataFrame, header: pd.DataFrame, out_dir: Path, *,
                          first_year: int | None = None, last_year: int | None = None,
                          prefix: str = "ssda903") -> list[Path]:
    """Write one `<prefix>_episodes_YYYY-YY.csv` and `<prefix>_header_YYYY-YY.csv` per collection year.

    The years are those of the data window (`episodes.attrs`, set by generate_care_episodes, else
    inferred from the dates): first_year-(first_year+1) to (last_year-1)-last_year.
    """
    inferred = infer_years(episodes)
    first = first_year if first_year is not None else inferred[0]
    last = last_year if last_year is not None else inferred[1]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for year in range(first + 1, last + 1):
        eps, head = annual_return(episodes, header, year)
        label = collection_label(year)
        for table, frame in (("episodes", eps), ("header", head)):
            path = out_dir / f"{prefix}_{table}_{label}.csv"
            frame.to_csv(path, index=False, lineterminator="\n")
            paths.append(path)
    return paths
