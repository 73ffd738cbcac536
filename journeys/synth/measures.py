"""Realism measures of SSDA903-style episodes, computed the way the DfE's tables count them.

Used by the tests (with tolerances) and to write the figures in data_samples/README.md. They read
only the episode and header columns, so they work on any SSDA903 data, not just ours.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

PLACE_GROUPS = {
    "foster_kinship": ("U1", "U2", "U3"), "foster_other": ("U4", "U5", "U6"), "childrens_home": ("K2", "R1"),
    "supported_living": ("H5", "K3", "P2"), "placed_with_parents": ("P1",),
    "placed_for_adoption": ("A3", "A4", "A5", "A6"), "secure": ("K1", "R5"), "residential_school": ("S1",),
    "other": ("Z1", "Z11", "Z12", "Z13", "Z14", "R2", "R3", "P3"), "temporary": ("T0", "T1", "T2", "T3", "T4"),
}
REC_GROUPS = {
    "returned_home": ("E4A", "E4B"), "special_guardianship": ("E45", "E46", "E47", "E48"), "adopted": ("E11", "E12"),
    "independent_living": ("E5", "E6"), "turned_18_stayed": ("E17",), "lives_with_relatives": ("E13",),
    "child_arrangements_order": ("E41",), "other": ("E2", "E3", "E7", "E8", "E9", "E14", "E15", "E16"),
}
SHORT_BREAKS = ("V3", "V4")


def _group(values: pd.Series, groups: dict[str, tuple[str, ...]]) -> pd.Series:
    lookup = {code: name for name, codes in groups.items() for code in codes}
    return values.astype("str").map(lookup).fillna("unmapped")


def care_episodes(episodes: pd.DataFrame) -> pd.DataFrame:
    """Episodes without short breaks, sorted by child and start."""
    care = episodes[~episodes["LS"].isin(SHORT_BREAKS)]
    return care.sort_values(["CHILD", "DECOM"], kind="stable")


def open_at(episodes: pd.DataFrame, date: dt.date) -> pd.DataFrame:
    """Episodes open on `date` (one per child looked after that day)."""
    day = pd.Timestamp(date)
    care = care_episodes(episodes)
    return care[(care["DECOM"] <= day) & (care["DEC"].isna() | (care["DEC"] > day))]


def placement_mix(episodes: pd.DataFrame, date: dt.date) -> dict[str, float]:
    """Shares of children looked after on `date` by placement group."""
    return _group(open_at(episodes, date)["PLACE"], PLACE_GROUPS).value_counts(normalize=True).to_dict()


def _period_ends(episodes: pd.DataFrame) -> pd.DataFrame:
    care = care_episodes(episodes)
    return care[care["REC"].notna() & (care["REC"].astype("str") != "X1")]


def outcome_mix(episodes: pd.DataFrame, since: dt.date | None = None) -> dict[str, float]:
    """Shares of periods of care that ended (on or after `since`) by reason."""
    ends = _period_ends(episodes)
    if since is not None:
        ends = ends[ends["DEC"] >= pd.Timestamp(since)]
    return _group(ends["REC"], REC_GROUPS).value_counts(normalize=True).to_dict()


def ls_mix(episodes: pd.DataFrame) -> dict[str, float]:
    """Shares of episodes (short breaks left out) by legal status."""
    return care_episodes(episodes)["LS"].astype("str").value_counts(normalize=True).to_dict()


def placements_in_year(episodes: pd.DataFrame, year: int) -> pd.Series:
    """Placements during the year ending 31 March `year` of each child looked after on that day.

    Temporary moves (T0-T4) are not placements, and coming back from one to the same placement
    (same PLACE and PL_POST) is not a new one; a change of legal status only (RNE L) is not either.
    """
    first, last = pd.Timestamp(dt.date(year - 1, 4, 1)), pd.Timestamp(dt.date(year, 3, 31))
    care = care_episodes(episodes)
    temp = care["PLACE"].astype("str").str.startswith("T")
    care = care[~temp]
    child = care["CHILD"].astype("str")
    same_child = child.eq(child.shift())
    where = care["PLACE"].astype("str") + "|" + care["PL_POST"].astype("str")
    new = ~same_child | (care["RNE"].astype("str") != "L") & where.ne(where.shift())
    in_year = (care["DECOM"] <= last) & (care["DEC"].isna() | (care["DEC"] >= first))
    counted = care[in_year].assign(new=new[in_year])
    first_in_year = ~counted["CHILD"].astype("str").duplicated()
    placements = (counted["new"] | first_in_year).groupby(counted["CHILD"].astype("str")).sum()
    at_end = open_at(episodes, dt.date(year, 3, 31))["CHILD"].astype("str").unique()
    return placements.reindex(at_end).fillna(1).astype(int)


def reentry_share(episodes: pd.DataFrame) -> float:
    """Share of children whose data show a new period of care (RNE S) after an earlier one ended."""
    care = care_episodes(episodes)
    later_start = (care["RNE"].astype("str") == "S") & care["CHILD"].eq(care["CHILD"].shift())
    return float(care.loc[later_start, "CHILD"].nunique() / care["CHILD"].nunique())


def period_lengths(episodes: pd.DataFrame, started_from: dt.date, started_to: dt.date) -> pd.Series:
    """Days in care of periods that started (RNE S) between the dates; NaN while still open."""
    care = care_episodes(episodes).reset_index(drop=True)
    starts = care["RNE"].astype("str") == "S"
    period = starts.cumsum()
    grouped = care.groupby(period)
    first = grouped["DECOM"].first()
    end = grouped["DEC"].last()
    begun = grouped["RNE"].first().astype("str") == "S"
    chosen = begun & (first >= pd.Timestamp(started_from)) & (first <= pd.Timestamp(started_to))
    return (end - first).dt.days[chosen]


def entry_profile(episodes: pd.DataFrame, header: pd.DataFrame) -> dict[str, float]:
    """Of periods starting in the data: shares by age at entry, male share, white British share."""
    care = care_episodes(episodes)
    starts = care[care["RNE"].astype("str") == "S"].merge(header[["CHILD", "SEX", "DOB", "ETHNIC"]], on="CHILD")
    age = (starts["DECOM"] - starts["DOB"]).dt.days / 365.25
    bands = pd.cut(age, [-1, 1, 5, 10, 16, 19], right=False, labels=["under 1", "1-4", "5-9", "10-15", "16+"])
    out = {f"age {k}": float(v) for k, v in bands.value_counts(normalize=True).items()}
    out["male"] = float((starts["SEX"].astype("str").isin(["M", "1"])).mean())
    out["white british"] = float((starts["ETHNIC"].astype("str") == "WBRI").mean())
    out["august share"] = float((starts["DECOM"].dt.month == 8).mean())
    return out
