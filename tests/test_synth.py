"""The synthetic data generator: determinism, SSDA903 rules, realism within tolerances, configs that map it."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import journeys.synth as synth
from journeys.config import PathwayConfig, load_config
from journeys.synth import generate_care_episodes, write_samples, write_ssda903_returns
from journeys.synth import measures as M
from journeys.synth.local import riverside_rows

ROOT = Path(__file__).resolve().parent.parent
WINDOW_START = pd.Timestamp(2016, 4, 1)
EXTRACT = pd.Timestamp(2025, 3, 31)


@pytest.fixture(scope="module")
def mid() -> tuple[pd.DataFrame, pd.DataFrame]:
    """About 65,000 episodes of 20,000 children."""
    return generate_care_episodes(20_000, seed=11)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    return write_samples(tmp_path_factory.mktemp("samples"), seed=3, scale=0.2)


@pytest.fixture(scope="module")
def westmoor(samples: dict[str, list[Path]]) -> pd.DataFrame:
    return pd.read_excel(samples["westmoor"][0], engine="calamine", sheet_name="Care history",
                         dtype={"End Reason": str, "Placement Type": str})


def _digest(paths: list[Path], root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_public_api() -> None:
    assert sorted(synth.__all__) == ["AUTHORITIES", "generate_care_episodes", "write_samples", "write_ssda903_returns"]
    assert [a.name for a in synth.AUTHORITIES] == ["northgate", "riverside", "westmoor"]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        written = write_samples(tmp_path / name, seed=seed, scale=0.05)
        runs[name] = _digest([p for ps in written.values() for p in ps], tmp_path / name)
    assert runs["a"] == runs["b"]
    assert runs["a"].keys() == runs["c"].keys()
    assert all(runs["a"][k] != runs["c"][k] for k in runs["a"])


def test_generator_is_deterministic() -> None:
    a, ha = generate_care_episodes(3_000, seed=2)
    b, hb = generate_care_episodes(3_000, seed=2)
    c, _ = generate_care_episodes(3_000, seed=4)
    assert a.equals(b) and ha.equals(hb)  # (assert_frame_equal is slow on categoricals)
    assert not a.equals(c)


def test_frames_have_the_ssda903_columns_and_compact_dtypes(mid: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    episodes, header = mid
    assert list(episodes.columns) == ["CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
                                      "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN"]
    assert list(header.columns) == ["CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"]
    assert all(pd.api.types.is_datetime64_any_dtype(episodes[c]) for c in ("DECOM", "DEC"))
    assert all(isinstance(episodes[c].dtype, pd.CategoricalDtype) for c in ("CHILD", "RNE", "LS", "PLACE", "REC"))
    # every child counted has an episode, and has a header row
    assert episodes["CHILD"].nunique() == len(header) == 20_000
    assert (episodes["DEC"].isna() == episodes["REC"].isna()).all()
    assert header["UPN"].str.len().isin([3, 13]).all()


def test_histories_are_consistent(mid: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    episodes, _ = mid
    e = episodes.reset_index(drop=True)
    assert (e["DEC"].isna() | (e["DEC"] > e["DECOM"])).all()
    same = e["CHILD"].eq(e["CHILD"].shift(-1))
    nxt = e.shift(-1)
    # no overlapping episodes within a child, and only a child's last episode can be open
    assert (nxt["DECOM"][same] >= e["DEC"][same]).all()
    assert not (e["DEC"].isna() & same).any()
    # X1 chains are contiguous; any other reason ends a period, and the next one starts with RNE S
    x1 = e["REC"].astype("str") == "X1"
    assert (same[x1]).all()
    assert (nxt["DECOM"][x1] == e["DEC"][x1]).all()
    assert (nxt["RNE"][x1].astype("str") != "S").all()
    ended = e["REC"].notna() & ~x1 & same
    assert (nxt["RNE"][ended].astype("str") == "S").all()
    assert (nxt["DECOM"][ended] > e["DEC"][ended]).all()


def test_data_window_and_children_already_in_care(mid: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    episodes, _ = mid
    assert (episodes["DEC"].isna() | (episodes["DEC"] >= WINDOW_START)).all()
    assert (episodes["DECOM"] <= EXTRACT).all() and (episodes["DEC"].dropna() <= EXTRACT).all()
    first = episodes.groupby("CHILD", observed=True).head(1)
    before = first[first["DECOM"] < WINDOW_START]
    assert 0.12 < len(before) / len(first) < 0.35
    assert (before["RNE"].astype("str") != "S").mean() > 0.5


def test_codes_follow_the_collection_years(mid: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    episodes, _ = mid
    place = episodes["PLACE"].astype("str")
    # a change of legal status, or coming back from a temporary move, keeps the placement's code
    new_placement = (episodes["RNE"].astype("str") != "L") & ~place.shift().fillna("").str.startswith("T")
    assert (episodes.loc[(place == "K3"), "DECOM"] >= pd.Timestamp(2024, 4, 1)).all()
    assert (episodes.loc[(place == "H5") & new_placement, "DECOM"] < pd.Timestamp(2024, 4, 1)).all()
    assert (place == "K3").any() and (place == "H5").any()
    assert not place.isin(["Z11", "Z12", "Z13", "Z14"]).any()  # only from 2025-26


def test_placement_mix_at_31_march(mid: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    mix = M.placement_mix(mid[0], dt.date(2024, 3, 31))
    foster = mix["foster_kinship"] + mix["foster_other"]
    assert 0.62 < foster < 0.76
    assert 0.13 < mix["foster_kinship"] < 0.24
    assert 0.07 < mix["childrens_home"] < 0.15
    assert 0.03 < mix["supported_living"] < 0.10
    assert 0.03 < mix["placed_with_parents"] < 0.10
    assert 0.005 < mix["placed_for_adoption"] < 0.04
    assert mix.get("secure", 0) < 0.015


def test_outcomes(mid: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    out = M.outcome_mix(mid[0], since=dt.date(2016, 4, 1))
    assert 0.24 < out["returned_home"] < 0.38
    assert 0.08 < out["special_guardianship"] < 0.17
    assert 0.06 < out["adopted"] < 0.13
    assert 0.06 < out["independent_living"] < 0.16
    assert 0.04 < out["turned_18_stayed"] < 0.13
    assert 0.03 < out["lives_with_relatives"] < 0.08
    # adoption follows a placement for adoption; E17 happens on the 18th birthday
    episodes, header = mid
    rec = episodes["REC"].astype("str")
    assert episodes.loc[rec.isin(["E11", "E12"]), "PLACE"].astype("str").isin(["A3", "A4", "A5", "A6"]).all()
    e17 = episodes[rec == "E17"].merge(header[["CHILD", "DOB"]], on="CHILD")
    age = (e17["DEC"] - e17["DOB"]).dt.days / 365.25
    assert age.between(17.99, 18.01).all()


def test_moves_reentries_and_durations(mid: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    episodes, header = mid
    counts = M.placements_in_year(episodes, 2023)
    assert 0.62 < (counts == 1).mean() < 0.78
    assert 0.06 < (counts >= 3).mean() < 0.14
    assert 0.03 < M.reentry_share(episodes) < 0.10
    days = M.period_lengths(episodes, dt.date(2016, 4, 1), dt.date(2019, 3, 31)).fillna(1e9)
    assert 0.10 < (days < 30).mean() < 0.22
    assert 365 < days.median() < 800
    entry = M.entry_profile(episodes, header)
    assert 0.15 < entry["age under 1"] < 0.25 and 0.34 < entry["age 10-15"] < 0.46
    assert 0.52 < entry["male"] < 0.59 and 0.64 < entry["white british"] < 0.78
    assert entry["august share"] < 1 / 12
    ls = M.ls_mix(episodes)
    assert ls["C2"] > ls["C1"] > ls["E1"] and 0.18 < ls["V2"] < 0.32
    assert (episodes["LS"].astype("str").isin(["V3", "V4"])).any()


def _read_returns(paths: list[Path], table: str) -> dict[str, pd.DataFrame]:
    return {p.stem.rsplit("_", 1)[1]: pd.read_csv(p, dtype=str, keep_default_na=False)
            for p in paths if f"_{table}_" in p.name}


def test_annual_returns_repeat_open_episodes(samples: dict[str, list[Path]]) -> None:
    returns = _read_returns(samples["northgate"], "episodes")
    assert list(returns) == [f"{y - 1}-{y % 100:02d}" for y in range(2017, 2026)]
    later_ends = 0
    years = list(returns)
    for label, following in zip(years, years[1:]):
        year = int(label[:4]) + 1
        this = returns[label]
        decom = pd.to_datetime(this["DECOM"], format="%d/%m/%Y")
        dec = pd.to_datetime(this["DEC"], format="%d/%m/%Y")
        assert (decom <= pd.Timestamp(year, 3, 31)).all()
        assert (dec.isna() | ((dec >= pd.Timestamp(year - 1, 4, 1)) & (dec <= pd.Timestamp(year, 3, 31)))).all()
        assert ((this["DEC"] == "") == (this["REC"] == "")).all()
        still_open = this[this["DEC"] == ""]
        again = still_open.merge(returns[following], on=["CHILD", "DECOM"], suffixes=("", "_next"))
        assert len(again) == len(still_open)  # open on 31 March: in the next return too
        assert (again["PLACE"] == again["PLACE_next"]).all()
        later_ends += int((again["DEC_next"] != "").sum())
    assert later_ends > 0


def test_sex_coding_switches_in_2024_25(samples: dict[str, list[Path]]) -> None:
    headers = _read_returns(samples["northgate"], "header")
    assert set(headers["2023-24"]["SEX"]) == {"1", "2"}
    assert set(headers["2024-25"]["SEX"]) == {"M", "F"}
    episodes = _read_returns(samples["northgate"], "episodes")
    for label, frame in episodes.items():
        assert set(frame["CHILD"]) == set(headers[label]["CHILD"])
        if label < "2024-25":
            assert "K3" not in set(frame["PLACE"])


def _normalise(values: pd.Series) -> pd.Series:
    return values.fillna("").astype("str").str.strip().str.upper()


def _unmapped(config: PathwayConfig, rows: pd.DataFrame) -> list[str]:
    """Row values no rule maps: episodes need a stage, absorb or ignore rule; end reasons an outcome."""
    episode_rules = [r for r in config.rules if r.action != "outcome" and r.source is None]  # CIN rules: own test
    columns = sorted({r.column for r in episode_rules})
    problems = []
    for combo in rows[columns].apply(_normalise).drop_duplicates().itertuples(index=False):
        values = dict(zip(columns, combo))
        if not any(rule.matches(values[rule.column]) for rule in episode_rules):
            problems.append(f"episode {values}")
    columns_named = config.source.columns
    exit_column = columns_named.exit_code if columns_named is not None and columns_named.exit_code else "REC"
    continuation = {c.upper() for c in config.source.continuation_codes}
    outcome_rules = [r for r in config.rules if r.action == "outcome" and r.column == exit_column and r.source is None]
    for code in set(_normalise(rows[exit_column])) - {""} - continuation:
        if not any(rule.matches(code) for rule in outcome_rules):
            problems.append(f"end reason {code}")
    return problems


def test_every_written_code_is_mapped_by_its_config(samples: dict[str, list[Path]], westmoor: pd.DataFrame) -> None:
    northgate = pd.concat(_read_returns(samples["northgate"], "episodes").values())
    riverside = pd.read_csv(samples["riverside"][0], dtype=str, keep_default_na=False, encoding="cp1252")
    for name, rows in (("northgate", northgate), ("riverside", riverside), ("westmoor", westmoor)):
        config = load_config(ROOT / "pathway_configs" / f"{name}.yaml")
        assert config.authority == name
        assert _unmapped(config, rows) == [], name
        if config.source.columns is not None:
            assert set(config.source.columns.mapping()) <= set(rows.columns)


def test_riverside_extract(samples: dict[str, list[Path]]) -> None:
    raw = samples["riverside"][0].read_bytes()
    assert b"\x96" in raw and b"\r\n" in raw  # Windows-1252 en dash, Windows line ends
    rows = pd.read_csv(samples["riverside"][0], dtype=str, keep_default_na=False, encoding="cp1252")
    code = rows["ServiceCode"]
    assert (code != code.str.strip().str.upper()).any()  # a few hand-keyed codes for the loader to tidy
    expected = {"FC-KIN", "FC-INH", "FC-IFA", "RES-PVI", "SIL", "PWP", "ADOPT-PL", "HOSP", "RESPITE"}
    assert expected <= set(_normalise(code))
    start = pd.to_datetime(rows["ServiceStart"], format="%Y-%m-%d")
    data_start = load_config(ROOT / "pathway_configs" / "riverside.yaml").source.data_start
    assert (start < pd.Timestamp(data_start)).any()
    # MOVE: the next row of the same child starts the day this one ends
    moved = _normalise(rows["EndReason"]) == "MOVE"
    nxt = rows.shift(-1)
    assert (nxt["ClientRef"][moved] == rows["ClientRef"][moved]).all()
    assert (nxt["ServiceStart"][moved] == rows["ServiceEnd"][moved]).all()


def test_riverside_rows_join_changes_of_legal_status(mid: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    episodes, header = mid
    rows = riverside_rows(episodes, header, seed=1)
    child = episodes["CHILD"].astype("str")
    new_row = (episodes["RNE"].astype("str") != "L") | child.ne(child.shift())
    assert len(rows) == new_row.sum()
    assert (rows["ServiceEnd"] == "").sum() == episodes["DEC"].isna().sum()


def test_westmoor_extract(westmoor: pd.DataFrame) -> None:
    rows = westmoor
    assert pd.api.types.is_datetime64_any_dtype(rows["Placement Start"])
    config = load_config(ROOT / "pathway_configs" / "westmoor.yaml")
    go_live = pd.Timestamp(config.source.data_start)
    assert (rows["Placement End"].isna() | (rows["Placement End"] >= go_live)).all()
    assert (rows["Placement Start"] < go_live).any()
    assert rows["Placement End"].isna().any() and set(rows["Locality"]) == {"North", "Central", "South"}
    assert {"R00", "R01"} <= set(rows["End Reason"].dropna())


def test_write_ssda903_returns_infers_years_without_attrs(tmp_path: Path) -> None:
    episodes, header = generate_care_episodes(300, seed=9, first_year=2018, last_year=2021)
    plain = episodes.copy()
    plain.attrs = {}
    paths = write_ssda903_returns(plain, header, tmp_path)
    assert [p.name for p in paths] == [f"ssda903_{t}_{y}.csv" for y in ("2018-19", "2019-20", "2020-21")
                                       for t in ("episodes", "header")]


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_children"):
        generate_care_episodes(0, seed=1)
    with pytest.raises(ValueError, match="last_year"):
        generate_care_episodes(10, seed=1, first_year=2020, last_year=2020)
    with pytest.raises(ValueError, match="scale"):
        write_samples(tmp_path, scale=0)


def test_sizes_scale_with_children() -> None:
    small, _ = generate_care_episodes(1_000, seed=1)
    large, _ = generate_care_episodes(10_000, seed=1)
    assert 2.5 < len(small) / 1_000 < 4 and 2.5 < len(large) / 10_000 < 4
    assert np.isclose(len(large) / len(small), 10, rtol=0.15)
