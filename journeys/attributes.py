"""Who each journey belongs to: age band at entry, sex, ethnicity group, legal status and need, for filters.

One row per journey, computed once per build and cached, so that a filter in the app is a mask
over categorical codes, never a join or a scan of episodes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NOT_KNOWN = "Not known"
FILTER_COLUMNS: dict[str, str] = {  # column -> label shown beside its filter
    "age_band": "Age at start",
    "sex": "Sex",
    "ethnicity_group": "Ethnicity",
    "legal_status": "Legal status",
    "need_code": "Category of need",
}
AGE_BANDS = ("Under 1", "1 to 4", "5 to 9", "10 to 15", "16 and over", NOT_KNOWN)
_AGE_EDGES = np.array([1, 5, 10, 16])
SEXES = {"M": "Male", "F": "Female", "1": "Male", "2": "Female"}
ETHNICITY_GROUPS = ("White", "Mixed", "Asian or Asian British", "Black or Black British", "Other ethnic group",
                    "Refused or not obtained", NOT_KNOWN)
_ETHNICITY_PREFIX = {  # DfE codes by first letter; local free text by its first word
    "W": "White", "M": "Mixed", "A": "Asian or Asian British", "B": "Black or Black British",
    "C": "Other ethnic group", "O": "Other ethnic group",
    "WHITE": "White", "MIXED": "Mixed", "ASIAN": "Asian or Asian British", "BLACK": "Black or Black British",
    "CHINESE": "Other ethnic group", "ANY": "Other ethnic group", "OTHER": "Other ethnic group",
    "REFU": "Refused or not obtained", "NOBT": "Refused or not obtained", "REFUSED": "Refused or not obtained",
}
LEGAL_STATUS_LABELS = {
    "C1": "C1 Interim care order", "C2": "C2 Full care order", "D1": "D1 Freeing order",
    "E1": "E1 Placement order", "J1": "J1 Remanded to LA", "J2": "J2 Police protection (PACE)",
    "J3": "J3 Sentenced (CYPA 1969)", "L1": "L1 Police protection", "L2": "L2 Emergency protection order",
    "L3": "L3 Child assessment order", "V2": "V2 Section 20 (single period)",
    "V3": "V3 Short breaks (single)", "V4": "V4 Short breaks (series)",
}
NOT_IN_CARE = "Not in care"
NEED_LABELS = {
    "N1": "N1 Abuse or neglect", "N2": "N2 Child's disability", "N3": "N3 Parental illness or disability",
    "N4": "N4 Family in acute stress", "N5": "N5 Family dysfunction", "N6": "N6 Socially unacceptable behaviour",
    "N7": "N7 Low income", "N8": "N8 Absent parenting", "N9": "N9 Cases other than children in need",
}
NOT_RECORDED = "Not recorded"
JOURNEY_KEY = ["authority", "person_id", "journey_no"]


def age_band(birth_month: pd.Series, start: pd.Series) -> pd.Series:
    """DfE age bands from month of birth and the journey's start (completed years; 'Not known' when missing).

    >>> b = pd.to_datetime(pd.Series(["2020-01-01", "2010-06-01", None]))
    >>> age_band(b, pd.to_datetime(pd.Series(["2020-06-01", "2026-05-31", "2020-01-01"]))).tolist()
    ['Under 1', '10 to 15', 'Not known']
    """
    born = pd.to_datetime(birth_month)
    at = pd.to_datetime(start)
    years = at.dt.year - born.dt.year - ((at.dt.month * 100 + at.dt.day) < (born.dt.month * 100 + born.dt.day))
    codes = np.searchsorted(_AGE_EDGES, years.to_numpy(dtype="float64", na_value=np.nan), side="right")
    codes = np.where(years.isna().to_numpy(), len(AGE_BANDS) - 1, codes)
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(AGE_BANDS)), index=start.index)


def ethnicity_group(ethnicity: pd.Series) -> pd.Series:
    """Five DfE groups from DfE codes (WBRI, MWBC...) or local text ('WHITE - ANY OTHER'); else 'Not known'.

    >>> ethnicity_group(pd.Series(["WBRI", "BLACK AFRICAN", "REFU", None, "??"])).tolist()
    ['White', 'Black or Black British', 'Refused or not obtained', 'Not known', 'Not known']
    """
    text = ethnicity.astype("str").str.strip().str.upper()
    word = text.str.extract(r"^([A-Z]+)", expand=False)
    whole = word.map(_ETHNICITY_PREFIX)
    first = text.str[:1].map({k: v for k, v in _ETHNICITY_PREFIX.items() if len(k) == 1})
    # a four-letter DfE code takes its group from the first letter; a word from the word itself
    is_code = text.str.fullmatch(r"[A-Z]{4}") & ~text.isin(["REFU", "NOBT"])
    group = whole.where(~is_code, first).fillna(first.where(is_code)).fillna(NOT_KNOWN)
    group = group.where(ethnicity.notna(), NOT_KNOWN)
    return pd.Series(pd.Categorical(group, categories=list(ETHNICITY_GROUPS)), index=ethnicity.index)


def _first_per_journey(episodes: pd.DataFrame, journeys: pd.DataFrame, column: str) -> pd.Series:
    """The first non-missing value of `column` among each journey's episodes (episodes placed by date)."""
    values = episodes.loc[episodes[column].notna(), ["authority", "person_id", "start", column]]
    if values.empty:
        return pd.Series(pd.NA, index=journeys.index, dtype="str")  # nobody has a value: all fall back
    values = values.astype({"authority": "str", "person_id": "str"}).assign(start=pd.to_datetime(values["start"]))
    values = values.sort_values("start", kind="stable")
    # place each episode in the latest journey that started on or before it (same child)
    placed = pd.merge_asof(values, journeys[["authority", "person_id", "start", "journey_no"]]
                           .astype({"authority": "str", "person_id": "str"})
                           .assign(start=pd.to_datetime(journeys["start"])).sort_values("start", kind="stable"),
                           on="start", by=["authority", "person_id"], direction="backward")
    first = placed.dropna(subset=["journey_no"]).drop_duplicates(JOURNEY_KEY[:2] + ["journey_no"])
    first = first.astype({"journey_no": "int64"})
    merged = journeys[JOURNEY_KEY].astype({"journey_no": "int64"}).merge(
        first[JOURNEY_KEY + [column]], on=JOURNEY_KEY, how="left")
    return pd.Series(merged[column].to_numpy(), index=journeys.index).astype("str")


def _per_child(episodes: pd.DataFrame, journeys: pd.DataFrame, column: str) -> pd.Series:
    """A child's first recorded value of `column` (sex and birth month do not change between journeys)."""
    known = episodes.loc[episodes[column].notna(), ["authority", "person_id", column]].astype(
        {"authority": "str", "person_id": "str"})
    first = known.drop_duplicates(["authority", "person_id"])
    merged = journeys[["authority", "person_id"]].astype("str").merge(first, on=["authority", "person_id"], how="left")
    return pd.Series(merged[column].to_numpy(), index=journeys.index)


def journey_attributes(episodes: pd.DataFrame, spells: pd.DataFrame) -> pd.DataFrame:
    """One row per journey: authority, person_id, journey_no, start, and the five filter columns (categorical)."""
    first = spells.sort_values(["authority", "person_id", "journey_no", "step"], kind="stable")
    journeys = first.drop_duplicates(JOURNEY_KEY)[JOURNEY_KEY + ["start"]].reset_index(drop=True)
    out = journeys.copy()
    birth = _per_child(episodes, journeys, "birth_month")
    out["age_band"] = age_band(pd.to_datetime(birth), journeys["start"])
    sex = _per_child(episodes, journeys, "sex").astype("str").str.upper().map(SEXES).astype("str").fillna(NOT_KNOWN)
    out["sex"] = pd.Categorical(sex, categories=["Female", "Male", NOT_KNOWN])
    out["ethnicity_group"] = ethnicity_group(_per_child(episodes, journeys, "ethnicity"))
    legal = _first_per_journey(episodes, journeys, "legal_status")
    legal = legal.astype("str").str.upper().map(lambda c: LEGAL_STATUS_LABELS.get(c, c)).astype("str").fillna(NOT_IN_CARE)
    out["legal_status"] = pd.Categorical(legal, categories=_sorted_with_last(legal, NOT_IN_CARE))
    need = _first_per_journey(episodes, journeys, "need_code")
    need = need.astype("str").str.upper().map(lambda c: NEED_LABELS.get(c, c)).astype("str").fillna(NOT_RECORDED)
    out["need_code"] = pd.Categorical(need, categories=_sorted_with_last(need, NOT_RECORDED))
    return out


def _sorted_with_last(values: pd.Series, last: str) -> list[str]:
    found = sorted(set(values.dropna().unique()) - {last})
    return [*found, last]


def filter_options(attributes: pd.DataFrame) -> dict[str, list[str]]:
    """The values each filter offers: every category present in the data, in display order."""
    options: dict[str, list[str]] = {}
    for column in FILTER_COLUMNS:
        present = set(attributes[column].dropna().unique())
        options[column] = [c for c in attributes[column].cat.categories if c in present]
    return options


def combine_attributes(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack several authorities' attributes, keeping each filter column categorical in display order."""
    combined = pd.concat(frames, ignore_index=True)
    for column in FILTER_COLUMNS:
        seen: dict[str, None] = {}
        for frame in frames:
            cats = frame[column].cat.categories if isinstance(frame[column].dtype, pd.CategoricalDtype) \
                else pd.Index(frame[column].dropna().unique())
            seen.update(dict.fromkeys(str(c) for c in cats))
        tail = [c for c in (NOT_KNOWN, NOT_IN_CARE, NOT_RECORDED) if c in seen]
        order = [c for c in seen if c not in tail] + tail
        if column in ("legal_status", "need_code"):
            order = sorted(c for c in seen if c not in tail) + tail
        combined[column] = pd.Categorical(combined[column].astype("str"), categories=order)
    return combined
