"""Journey attributes for filters (age band, sex, ethnicity group, legal status, need) and fast selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeys.attributes import combine_attributes, journey_attributes
from journeys.selection import JourneyData, Selection


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    t = pd.Timestamp
    spells = pd.DataFrame({
        "authority": ["a", "a", "a", "a"], "person_id": ["p1", "p1", "p1", "p2"], "journey_no": [1, 1, 2, 1],
        "step": [1, 2, 1, 1], "stage": ["referral", "foster_other", "foster_other", "child_in_need"],
        "start": [t("2020-01-01"), t("2020-02-01"), t("2023-05-01"), t("2021-01-01")],
        "end": [t("2020-02-01"), t("2021-01-01"), t("2024-03-31"), t("2021-06-01")],
        "next_stage": ["foster_other", "returned_home", "open", "case_closed"]})
    episodes = pd.DataFrame({
        "authority": ["a", "a", "a", "a", "a"], "person_id": ["p1", "p1", "p1", "p2", "p2"],
        "start": [t("2020-01-01"), t("2020-02-01"), t("2023-05-01"), t("2021-01-01"), t("2021-02-01")],
        "sex": [None, "F", "F", None, None], "birth_month": [pd.NaT, t("2010-03-01"), t("2010-03-01"), pd.NaT, pd.NaT],
        "ethnicity": [None, "MWBC", "MWBC", "WHITE - ANY OTHER", None],
        "legal_status": [None, "C1", "C2", None, None], "need_code": ["N5", "N1", "N1", None, "N4"]})
    return spells, episodes


def test_one_row_per_journey_with_its_first_values() -> None:
    spells, episodes = frames()
    attrs = journey_attributes(episodes, spells)
    assert attrs[["person_id", "journey_no"]].values.tolist() == [["p1", 1], ["p1", 2], ["p2", 1]]
    assert attrs["age_band"].tolist() == ["5 to 9", "10 to 15", "Not known"]  # 9 on 1 Jan 2020, 13 in May 2023
    assert attrs["sex"].tolist() == ["Female", "Female", "Not known"]
    assert attrs["ethnicity_group"].tolist() == ["Mixed", "Mixed", "White"]
    assert attrs["legal_status"].tolist() == ["C1 Interim care order", "C2 Full care order", "Not in care"]
    assert attrs["need_code"].tolist() == ["N5 Family dysfunction", "N1 Abuse or neglect", "N4 Family in acute stress"]


def test_no_spells_give_no_journeys_with_the_same_columns() -> None:
    """A build whose every row was quarantined or ignored has no spells: no journeys, not an error."""
    spells, episodes = frames()
    some = journey_attributes(episodes, spells)
    none = journey_attributes(episodes.iloc[:0], spells.iloc[:0])
    assert none.empty and none.columns.tolist() == some.columns.tolist()
    assert none.dtypes.astype(str).tolist() == some.dtypes.astype(str).tolist()
    assert none["sex"].cat.categories.tolist() == ["Female", "Male", "Not known"]
    none_of_theirs = journey_attributes(episodes, spells.iloc[:0])  # episodes, but none made a spell
    assert none_of_theirs.empty and none_of_theirs.columns.tolist() == some.columns.tolist()


def test_selection_masks_whole_journeys() -> None:
    spells, episodes = frames()
    data = JourneyData(spells, journey_attributes(episodes, spells))
    assert data.mask(Selection()).all()
    assert data.mask(Selection.from_values(filters={"sex": ["Female"]})).tolist() == [True, True, True, False]
    assert data.mask(Selection(through_stage="referral")).tolist() == [True, True, False, False]  # journey 1 only
    assert not data.mask(Selection(through_stage="adopted")).any()
    both = Selection.from_values(["a"], {"sex": ["Female"], "age_band": ["10 to 15"]}, "foster_other")
    assert data.mask(both).tolist() == [False, False, True, False]
    with pytest.raises(ValueError, match="unknown filter"):
        Selection.from_values(filters={"postcode": ["X"]})


def test_combined_authorities_keep_categories_in_order() -> None:
    spells, episodes = frames()
    first = journey_attributes(episodes, spells)
    second = journey_attributes(episodes.assign(authority="b", legal_status="S20"), spells.assign(authority="b"))
    combined = combine_attributes([first, second])
    assert list(combined["legal_status"].cat.categories) == ["C1 Interim care order", "C2 Full care order", "S20",
                                                             "Not in care"]
    data = JourneyData(pd.concat([spells, spells.assign(authority="b")]), [first, second])
    assert data.authorities == ["a", "b"]
    assert int(data.mask(Selection(authorities=("b",))).sum()) == 4
    assert np.array_equal(data.mask(Selection.from_values(filters={"legal_status": ["S20"]})),
                          np.array([False] * 4 + [True] * 4))  # every b row says S20


def test_spells_out_of_journey_order_are_joined_the_same() -> None:
    """The working set counts journeys and children along the spells when they come as builds write them,
    and joins on the text keys otherwise: both give each spell the same journey, attributes and child."""
    spells, episodes = frames()
    spells = pd.concat([spells, spells.assign(authority="b")], ignore_index=True)
    episodes = pd.concat([episodes, episodes.assign(authority="b")], ignore_index=True)
    attributes = [journey_attributes(episodes[episodes.authority == a], spells[spells.authority == a]) for a in "ab"]
    in_order = JourneyData(spells, attributes)
    shuffled = spells.sample(frac=1.0, random_state=3)
    assert not shuffled.index.equals(spells.index)
    joined = JourneyData(shuffled, attributes).spells.set_index(shuffled.index).sort_index()
    columns = ["journey", "sex", "legal_status", "stage", "next_stage"]
    pd.testing.assert_frame_equal(joined[columns].astype(str), in_order.spells[columns].astype(str))
    pairs = joined.groupby(["authority", "person_id"], observed=True)["child"]  # numbered as first met: one each
    assert (pairs.nunique() == 1).all() and joined["child"].nunique() == len(pairs) == 4
    split = pd.concat([spells.iloc[:2], spells.iloc[4:], spells.iloc[2:4]])  # a's p1 before and after b's rows
    pairs = JourneyData(split, attributes).spells.groupby(["authority", "person_id"], observed=True)["child"]
    assert (pairs.nunique() == 1).all() and pairs.first().nunique() == 4
    assert in_order.spells["journey"].tolist() == [0, 0, 1, 2, 3, 3, 4, 5]
    assert in_order.spells["child"].tolist() == [0, 0, 0, 1, 2, 2, 2, 3]  # per authority and child
    assert isinstance(in_order.spells["stage"].dtype, pd.CategoricalDtype)
    assert list(in_order.spells["stage"].cat.categories) == sorted(set(spells["stage"]))


def test_cin_census_children_bring_their_characteristics(tmp_path) -> None:
    """Joined-up journeys that start at a referral are filterable by sex, age and ethnicity from the census."""
    from journeys.config import load_config
    from journeys.pipeline import run_pipeline
    from tests.conftest import KEY, ROOT

    census = sorted((ROOT / "data_samples" / "northgate").glob("cin_census_2024-25.xml"))
    result = run_pipeline(census, load_config(ROOT / "pathway_configs" / "northgate.yaml"), key=KEY)
    cin = result.episodes[result.episodes["source"] == "cin"]
    assert cin["sex"].isin(["M", "F", "U"]).all() and cin["ethnicity"].notna().all()
    assert (pd.to_datetime(cin["birth_month"]).dropna().dt.day == 1).all()
    attrs = journey_attributes(result.episodes, result.spells)
    assert (attrs["sex"] != "Not known").mean() > 0.99
