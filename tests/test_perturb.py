"""Tests for journeys.perturb: record and cell keys, the p-table's rules, consistency, differencing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeys.perturb import (
    MAX_PTABLE_COUNT,
    RECORD_KEY_BASE,
    PTable,
    cell_keys,
    keyed_counts,
    perturb_counts,
    record_keys,
)

SECRET = "0123456789abcdef"
ALL_KEYS = np.arange(RECORD_KEY_BASE)


def random_ids(rng: np.random.Generator, n: int) -> pd.Series:
    """n distinct pseudonym-like person ids (16 hex characters)."""
    values = rng.choice(2**62, size=n, replace=False)
    return pd.Series([f"{v:016x}" for v in values], dtype="str")


def journeys_frame() -> pd.DataFrame:
    """12 journeys of 8 children with two attributes that coincide for girls in care."""
    frame = pd.DataFrame({
        "person_id": [f"{i:016x}" for i in (1, 1, 2, 3, 3, 4, 5, 6, 7, 7, 8, 8)],
        "journey_no": [1, 2, 1, 1, 2, 1, 1, 1, 1, 2, 1, 2],
        "stage": ["care", "cin", "care", "care", "care", "cin", "care", "cpp", "care", "care", "cin", "care"],
        "sex": ["F", "F", "M", "F", "F", "F", "F", "M", "F", "M", "F", "F"],
        "placement": ["foster", "none", "resi", "foster", "foster", "none", "foster", "none", "foster", "resi",
                      "none", "foster"],
    })
    return frame.assign(record_key=record_keys(frame["person_id"], frame["journey_no"], SECRET))


def noise_grid(ptable: PTable, top: int = MAX_PTABLE_COUNT + 50) -> tuple[np.ndarray, np.ndarray]:
    """Every count 0..top against every cell key: (counts, perturbed), both (top + 1, 256)."""
    counts = np.repeat(np.arange(top + 1), RECORD_KEY_BASE).reshape(top + 1, RECORD_KEY_BASE)
    keys = np.broadcast_to(ALL_KEYS, counts.shape)
    perturbed = perturb_counts(counts.ravel(), keys.ravel(), ptable)
    return counts, np.asarray(perturbed).reshape(counts.shape)


# --- record keys ---------------------------------------------------------------------------------

def test_record_keys_are_pinned_keyed_hashes() -> None:
    # Pinned: changing the derivation would change every perturbed count a viewer has seen.
    person = pd.Series(["00a1b2c3d4e5f607", "00a1b2c3d4e5f607", "ffeeddccbbaa9988"], dtype="str")
    journey = pd.Series([1, 2, 1], dtype="int32")
    assert record_keys(person, journey, SECRET).tolist() == [91, 40, 126]
    assert record_keys(person, None, SECRET).tolist() == [196, 196, 215]
    assert record_keys(person, journey, "0123456789abcdeg").tolist() == [18, 99, 42]


def test_record_keys_follow_the_record_not_the_row_order() -> None:
    rng = np.random.default_rng(1)
    person = random_ids(rng, 500)
    journey = pd.Series(rng.integers(1, 4, 500), dtype="int32")
    keys = record_keys(person, journey, SECRET)
    order = rng.permutation(500)
    shuffled = record_keys(person.iloc[order].reset_index(drop=True), journey.iloc[order].reset_index(drop=True), SECRET)
    assert np.array_equal(shuffled, keys[order])
    assert keys.min() >= 0 and keys.max() < RECORD_KEY_BASE
    assert len(np.unique(keys)) > 200  # spread over 0..255, not a handful of values


def test_different_secret_or_journey_gives_different_keys() -> None:
    person = random_ids(np.random.default_rng(2), 1000)
    first = pd.Series(np.ones(1000, dtype="int32"))
    keys = record_keys(person, first, SECRET)
    assert (keys != record_keys(person, first, "fedcba9876543210")).mean() > 0.95
    assert (keys != record_keys(person, first + 1, SECRET)).mean() > 0.95
    assert (keys != record_keys(person, None, SECRET)).mean() > 0.95


def test_record_keys_refuse_a_bad_secret_or_missing_ids() -> None:
    person = pd.Series(["00a1b2c3d4e5f607"], dtype="str")
    with pytest.raises(ValueError, match="16 characters"):
        record_keys(person, None, "short")
    with pytest.raises(ValueError, match="missing"):
        record_keys(pd.Series(["00a1b2c3d4e5f607", None], dtype="str"), None, SECRET)


# --- cell keys -----------------------------------------------------------------------------------

def test_keyed_counts_sum_record_keys_mod_256() -> None:
    frame = pd.DataFrame({
        "stage": ["care", "cin", "care", "care", "cin"],
        "sex": ["F", "F", "F", "M", "F"],
        "record_key": [250, 100, 10, 7, 255],
    })
    out = keyed_counts(frame, ["stage", "sex"])
    expected = pd.DataFrame({"stage": ["care", "care", "cin"], "sex": ["F", "M", "F"],
                             "count": [2, 1, 2], "cell_key": [4, 7, 99]})
    pd.testing.assert_frame_equal(out, expected, check_dtype=False)
    assert out["count"].dtype == np.int64 and out["cell_key"].dtype == np.int64
    total = keyed_counts(frame, [])
    assert total.to_dict("list") == {"count": [5], "cell_key": [(250 + 100 + 10 + 7 + 255) % 256]}


def test_cell_keys_take_a_list_of_series() -> None:
    stage = pd.Series(["care", "cin", "care"], name="stage")
    out = cell_keys([stage], np.array([200, 3, 100]))
    assert out.to_dict("index") == {"care": {"count": 2, "cell_key": 44}, "cin": {"count": 1, "cell_key": 3}}
    with pytest.raises(ValueError, match="2 record keys for 3 rows"):
        cell_keys([stage], np.array([1, 2]))


def test_same_records_get_same_cell_key_and_count_whatever_the_filter() -> None:
    frame = journeys_frame()
    girls_in_care = frame[(frame["stage"] == "care") & (frame["sex"] == "F")]
    fostered = frame.iloc[::-1][frame.iloc[::-1]["placement"] == "foster"]  # other filter, other order
    assert sorted(zip(girls_in_care["person_id"], girls_in_care["journey_no"])) == sorted(
        zip(fostered["person_id"], fostered["journey_no"]))
    a, b = keyed_counts(girls_in_care, []), keyed_counts(fostered, [])
    assert a.equals(b) and a["count"].tolist() == [6]
    assert a["cell_key"].item() == girls_in_care["record_key"].sum() % 256
    assert perturb_counts(a["count"], a["cell_key"]).equals(perturb_counts(b["count"], b["cell_key"]))
    # The same cell reached as one row of a cross-tabulation gets the same key as well.
    by_stage = keyed_counts(frame[frame["sex"] == "F"], ["stage"]).set_index("stage")
    assert by_stage.loc["care"].tolist() == [6, a["cell_key"].item()]


# --- the p-table ---------------------------------------------------------------------------------

def test_default_ptable_rows_are_pinned() -> None:
    ptable = PTable.default()
    assert PTable.default() is ptable
    assert (ptable.max_noise, ptable.variance, ptable.table.shape) == (2, 1.0, (MAX_PTABLE_COUNT + 1, 256))

    def keys_per_noise(count: int) -> list[int]:
        return [int((ptable.table[count] == noise).sum()) for noise in range(-2, 3)]

    assert keys_per_noise(0) == [0, 0, 256, 0, 0]
    assert keys_per_noise(1) == [0, 171, 0, 0, 85]  # 1 -> 0 or 3
    assert keys_per_noise(2) == [85, 0, 0, 171, 0]  # 2 -> 0 or 3
    assert keys_per_noise(3) == [0, 0, 256, 0, 0]  # cannot move without bias or beyond 2
    assert keys_per_noise(4) == [0, 102, 77, 51, 26]
    for count in (5, 20, MAX_PTABLE_COUNT):
        assert keys_per_noise(count) == [15, 69, 88, 69, 15]
    assert not ptable.table.flags.writeable


def test_perturbed_counts_are_never_1_or_2_and_zero_stays_zero() -> None:
    counts, perturbed = noise_grid(PTable.default())
    assert not np.isin(perturbed, [1, 2]).any()
    assert (perturbed[0] == 0).all() and (perturbed >= 0).all()
    assert (perturbed[1:] > 0).mean() > 0.9  # most non-empty cells stay non-empty


def test_noise_is_bounded() -> None:
    for ptable in (PTable.default(), PTable.build(max_noise=3, variance=2.0, max_count=40)):
        counts, perturbed = noise_grid(ptable, 60)
        assert np.abs(perturbed - counts).max() == ptable.max_noise


def test_noise_is_unbiased_with_the_target_variance() -> None:
    ptable = PTable.default()
    noise = np.arange(-2, 3)
    assert np.abs(ptable.probabilities @ noise).max() < 1e-9
    variance = ptable.probabilities @ noise**2
    assert np.allclose(variance[[1, 2, 3]], [2.0, 2.0, 0.0], atol=1e-9)
    assert np.allclose(variance[4:], 1.0, atol=1e-9)
    counts, perturbed = noise_grid(ptable)
    empirical = (perturbed - counts).mean(axis=1)  # each cell key equally likely
    assert np.abs(empirical[5:]).max() < 0.02
    assert np.abs(empirical).max() <= 1 / 256


def test_counts_above_the_table_use_its_last_row() -> None:
    table = PTable.default().table
    counts = np.full(256, 10_000)
    assert np.array_equal(perturb_counts(counts, ALL_KEYS), counts + table[MAX_PTABLE_COUNT])


def test_ptable_is_deterministic_and_checks_its_parameters() -> None:
    again = PTable.build()
    assert np.array_equal(again.table, PTable.default().table)
    assert np.array_equal(again.probabilities, PTable.default().probabilities)
    with pytest.raises(ValueError, match="max_noise >= 2"):
        PTable.build(max_noise=1)


def test_perturb_counts_keeps_shape_and_index_and_refuses_bad_input() -> None:
    counts = pd.Series([0, 1, 1, 40], index=["a", "b", "c", "d"], name="n")
    out = perturb_counts(counts, pd.Series([7, 0, 255, 128], index=counts.index))
    pd.testing.assert_series_equal(out, pd.Series([0, 0, 3, 40], index=counts.index, name="n", dtype=np.int64))
    grid = perturb_counts(np.full((2, 3), 10), np.zeros((2, 3), dtype=np.int64))
    assert isinstance(grid, np.ndarray) and grid.shape == (2, 3) and grid.dtype == np.int64
    assert (grid == 8).all()  # key 0 takes the lowest noise, -2
    with pytest.raises(ValueError, match="counts >= 0"):
        perturb_counts(np.array([-1]), np.array([0]))
    with pytest.raises(ValueError, match="cell keys in 0..255"):
        perturb_counts(np.array([3]), np.array([256]))
    with pytest.raises(ValueError, match="shape"):
        perturb_counts(np.array([3, 4]), np.array([0]))


# --- the attack the method is for -----------------------------------------------------------------

def test_differencing_two_views_does_not_reveal_one_record() -> None:
    rng = np.random.default_rng(3)
    exact = 0
    for _ in range(200):
        people = random_ids(rng, 20)
        keys = record_keys(people, pd.Series(np.ones(20, dtype="int32")), SECRET)
        cell_a = keyed_counts(pd.DataFrame({"record_key": keys}), [])  # records r1..r20
        cell_b = keyed_counts(pd.DataFrame({"record_key": keys[:19]}), [])  # records r1..r19
        difference = perturb_counts(cell_a["count"], cell_a["cell_key"]) - perturb_counts(cell_b["count"],
                                                                                          cell_b["cell_key"])
        exact += int(difference.item() == 1)
    # With independent cell keys P(same noise) = sum of squared probabilities ~ 0.27.
    assert exact / 200 < 0.4
