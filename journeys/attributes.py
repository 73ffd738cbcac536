"""Who each journey belongs to: age band at entry, sex, ethnicity group, legal status and need, for filters.

One row per journey, computed once per build and cached, so that a filter in the app is a mask
over categorical codes, never a join or a scan of episodes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeys.pseudonymise import pseudonym_order

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

    Worked out once per distinct value (a few dozen, for hundreds of thousands of children).

    >>> ethnicity_group(pd.Series(["WBRI", "BLACK AFRICAN", "REFU", None, "??"])).tolist()
    ['White', 'Black or Black British', 'Refused or not obtained', 'Not known', 'Not known']
    """
    codes, distinct = pd.factorize(ethnicity)
    text = pd.Series(distinct, dtype="str").str.strip().str.upper()
    word = text.str.extract(r"^([A-Z]+)", expand=False)
    whole = word.map(_ETHNICITY_PREFIX)
    first = text.str[:1].map({k: v for k, v in _ETHNICITY_PREFIX.items() if len(k) == 1})
    # a four-letter DfE code takes its group from the first letter; a word from the word itself
    is_code = text.str.fullmatch(r"[A-Z]{4}") & ~text.isin(["REFU", "NOBT"])
    group = whole.where(~is_code, first).fillna(first.where(is_code)).fillna(NOT_KNOWN)
    return pd.Series(_from_codes(codes, group.tolist(), list(ETHNICITY_GROUPS), NOT_KNOWN), index=ethnicity.index)


def _from_codes(codes: np.ndarray, named: list[str], categories: list[str], missing: str) -> pd.Categorical:
    """A categorical over `categories` from factorized codes and the name of each distinct value: a name not
    among the categories, or a missing value (code -1), is `missing`. No text is hashed again."""
    position = {category: i for i, category in enumerate(categories)}
    lookup = np.array([position.get(name, position[missing]) for name in named] + [position[missing]], dtype=np.int64)
    return pd.Categorical.from_codes(lookup[codes], categories=categories)  # code -1 takes the last entry


def _labelled(values: pd.Series, labels: dict[str, str], missing: str,
              categories: list[str] | None = None) -> pd.Categorical:
    """Each value upper-cased and named by `labels` (else itself), `missing` where there is none, as a
    categorical over `categories` (else the names present, sorted, then `missing`); worked out per distinct
    value."""
    codes, distinct = pd.factorize(values)
    named = [labels.get(v.upper(), v.upper()) for v in map(str, distinct)]
    if categories is None:
        categories = [*sorted(set(named) - {missing}), missing]
    return _from_codes(codes, named, categories, missing)


def _children(*frames: pd.DataFrame) -> list[np.ndarray]:
    """One integer per child (authority, person_id) across `frames`, in (authority, person_id) order.

    The joins below then match integers, not text (the keys' hashing was most of their cost).
    """
    authority = pd.concat([f["authority"].astype("str") for f in frames], ignore_index=True)
    person = pd.concat([f["person_id"].astype("str") for f in frames], ignore_index=True)
    a, _ = pd.factorize(authority, sort=True)
    p, people = pd.factorize(person, sort=True)
    child = a.astype(np.int64) * max(len(people), 1) + p
    return np.split(child, np.cumsum([len(f) for f in frames])[:-1])


def _first_known(known: np.ndarray, group_starts: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Per group of consecutive rows (each begins at `group_starts`), the least `position` among its rows where
    `known`; -1 where none is. One pass (`np.minimum.reduceat`), however many groups."""
    if not group_starts.size:
        return np.zeros(0, dtype=np.int64)
    beyond = np.int64(position.size)
    first = np.minimum.reduceat(np.where(known, position, beyond), group_starts)
    return np.where(first < beyond, first, -1)


def _picked(values: pd.Series, rows: np.ndarray) -> pd.Series:
    """`values` at positions `rows` (missing where a row is -1), indexed from 0."""
    found = rows >= 0
    picked = values.iloc[np.where(found, rows, 0)].reset_index(drop=True) if len(values) \
        else pd.Series(values.iloc[:0].reindex(range(len(rows))).to_numpy())
    return picked.where(pd.Series(found))


class _Grouped:
    """The episodes in order of (child, start, position), once: each child's rows, and each journey's (the
    episodes from its start until the child's next journey), are then consecutive, so the first known value
    of any column, per child or per journey, is one `np.minimum.reduceat` (no sort per column)."""

    def __init__(self, start: pd.Series, child: np.ndarray, journeys: pd.DataFrame, journey_child: np.ndarray):
        def keys(children: np.ndarray, starts: pd.Series) -> np.ndarray:
            day = pd.to_datetime(starts).to_numpy().astype("datetime64[D]").astype(np.int64)
            return (children.astype(np.int64) << 32) + (day + (1 << 31))  # any date pandas holds is within 2^31 days

        journey_keys = keys(journey_child, journeys["start"])
        by_journey = np.argsort(journey_keys, kind="stable")
        episode_keys = keys(child, start)
        self.order = np.argsort(episode_keys, kind="stable")  # timsort: the build's episodes are nearly in order
        ordered_child = child[self.order]
        # per child: the first known value in episode order, matched to each journey's child
        child_starts = np.flatnonzero(np.r_[True, ordered_child[1:] != ordered_child[:-1]]) if child.size \
            else np.zeros(0, dtype=np.int64)
        children = ordered_child[child_starts]
        at = np.minimum(np.searchsorted(children, journey_child), max(children.size - 1, 0))
        self._child_starts = child_starts
        self._journey_group = np.where(children[at] == journey_child, at, -1) if children.size \
            else np.full(journey_child.size, -1)
        # per journey: the latest journey of the child that started on or before each episode (a merge_asof by
        # child took 0.35 s at 10^6 episodes); its position among sorted keys rises with the episodes' order
        placed_at = np.searchsorted(journey_keys[by_journey], episode_keys[self.order], side="right") - 1
        if by_journey.size:
            journey = by_journey[np.maximum(placed_at, 0)]
            placed = (placed_at >= 0) & (journey_child[journey] == ordered_child)  # episodes before any journey: out
        else:  # no journeys (no spells): no episode is placed
            journey, placed = np.zeros(placed_at.size, np.int64), np.zeros(placed_at.size, bool)
        self._placed = np.flatnonzero(placed)
        group = placed_at[self._placed]
        self._journey_starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if group.size \
            else np.zeros(0, dtype=np.int64)
        self._journeys = journey[self._placed][self._journey_starts]
        self.size = len(journeys)

    def per_child(self, values: pd.Series) -> pd.Series:
        """A child's first recorded value (sex and birth month do not change between journeys), per journey."""
        known = values.notna().to_numpy()[self.order]
        first = _first_known(known, self._child_starts, self.order)
        has = self._journey_group >= 0
        return _picked(values, np.where(has, first[np.maximum(self._journey_group, 0)] if first.size else -1, -1))

    def per_journey(self, values: pd.Series) -> pd.Series:
        """The first non-missing value among each journey's episodes (by start, then position), as text."""
        rows = self.order[self._placed]
        first = _first_known(values.notna().to_numpy()[rows], self._journey_starts, rows)
        out = np.full(self.size, -1, dtype=np.int64)
        out[self._journeys] = first
        return _picked(values, out).astype("str")


def journey_attributes(episodes: pd.DataFrame, spells: pd.DataFrame) -> pd.DataFrame:
    """One row per journey: authority, person_id, journey_no, start, and the five filter columns (categorical)."""
    spell_child, child = _children(spells, episodes)
    journey_no, step = spells["journey_no"].to_numpy(), spells["step"].to_numpy()
    order = np.lexsort((step, journey_no, spell_child))  # stable: ties keep the spells' order
    ordered_child, ordered_no = spell_child[order], journey_no[order]
    firsts = order[np.r_[True, (ordered_child[1:] != ordered_child[:-1]) | (ordered_no[1:] != ordered_no[:-1])]] \
        if order.size else order  # no spells (every row quarantined or ignored): no journeys
    journeys = spells[JOURNEY_KEY + ["start"]].iloc[firsts].reset_index(drop=True)
    journey_child = spell_child[firsts]
    out = journeys.copy()
    grouped = _Grouped(episodes["start"], child, journeys, journey_child)
    birth = grouped.per_child(episodes["birth_month"])
    out["age_band"] = age_band(pd.to_datetime(birth), journeys["start"])
    out["sex"] = _labelled(grouped.per_child(episodes["sex"]), SEXES, NOT_KNOWN, ["Female", "Male", NOT_KNOWN])
    out["ethnicity_group"] = ethnicity_group(grouped.per_child(episodes["ethnicity"]))
    for column, labels, missing in (("legal_status", LEGAL_STATUS_LABELS, NOT_IN_CARE),
                                    ("need_code", NEED_LABELS, NOT_RECORDED)):
        out[column] = _labelled(grouped.per_journey(episodes[column]), labels, missing)
    return out


def joined_attributes(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Attributes worked out for separate sets of children as one table, as a build of them all makes it: in
    child order (each child's journeys as its part has them); the filters whose values depend on the data
    (legal status, need) take the values present."""
    joined = pd.concat(parts, ignore_index=True)
    joined = joined.take(np.argsort(pseudonym_order(joined["person_id"]), kind="stable")).reset_index(drop=True)
    for column, missing in (("legal_status", NOT_IN_CARE), ("need_code", NOT_RECORDED)):
        values = joined[column].astype("object")
        joined[column] = pd.Categorical(values, categories=_sorted_with_last(values, missing))
    return joined


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
        column_values = combined[column]
        if isinstance(column_values.dtype, pd.CategoricalDtype):  # recoded by codes: 10^7 rows as text took seconds
            combined[column] = column_values.cat.set_categories(order)
        else:
            combined[column] = pd.Categorical(column_values.astype("str"), categories=order)
    return combined
