"""Incremental builds: adding files to a build gives exactly the build of every input, reading only the new ones."""

from __future__ import annotations

import datetime as dt
import filecmp
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from journeys.cache import build_inputs, fingerprint, input_digest, write_build
from journeys.config import load_config
from journeys.incremental import STATE_DIR, NotExtendable, build_adding, build_keeping, extend
from journeys.pipeline import BuildResult, run_pipeline
from journeys.stages import load_stage_model
from tests.conftest import KEY, ROOT, write_episodes
from tests.test_partitioned import messy_inputs

SAMPLES = ROOT / "data_samples"
NORTHGATE = ROOT / "pathway_configs" / "northgate.yaml"
RIVERSIDE = ROOT / "pathway_configs" / "riverside.yaml"
OUTPUTS = ("episodes.parquet", "spells.parquet", "transitions.parquet", "report.json", "issues.csv",
           "journey_attributes.parquet")


def assert_same(expected: BuildResult, added: BuildResult, folder: Path) -> None:
    """The files a build writes are the same, byte for byte (frames read back from parquet may type an
    all-text column as str where the build of every row held it as object: the files are the contract)."""
    write_build(expected, folder / "expected")
    write_build(added, folder / "added")
    for name in OUTPUTS:
        assert filecmp.cmp(folder / "expected" / name, folder / "added" / name, shallow=False), name
    shutil.rmtree(folder / "expected")
    shutil.rmtree(folder / "added")


def by_year(paths: list[Path]) -> list[Path]:
    """Northgate's returns a year at a time: that year's episodes, then its header."""
    return sorted(paths, key=lambda p: (p.name.rsplit("_", 1)[-1], p.name))


def build(inputs: list[Path], config: Path = NORTHGATE, base: Path | None = None, messages: list[str] | None = None,
          **options: object) -> tuple[BuildResult, str | None]:
    model = load_stage_model()
    return build_adding(inputs, load_config(config, model), model, KEY, base=base, fingerprint=fingerprint(config),
                        digest=input_digest(), progress=(messages.append if messages is not None else lambda _: None),
                        **options)  # type: ignore[arg-type]


def full(inputs: list[Path], config: Path = NORTHGATE, **options: object) -> BuildResult:
    model = load_stage_model()
    return run_pipeline(inputs, load_config(config, model), stage_model=model, key=KEY, **options)  # type: ignore[arg-type]


def test_returns_added_one_file_at_a_time_give_the_build_of_them_all(tmp_path: Path) -> None:
    """Northgate's nine years of returns (later returns supersede earlier rows, the extract date moves each
    year), then a file of problems and one that cannot be read: every step equals the build of its inputs."""
    inputs = by_year(messy_inputs(tmp_path)[:-2]) + messy_inputs(tmp_path)[-2:]
    result, why = build(inputs[:2])
    assert why is None and result.kept is not None
    folder, before = tmp_path / "step-2", 2
    write_build(result, folder)
    for n in (3, 4, 8, 12, 18, len(inputs)):
        messages: list[str] = []
        result, why = build(inputs[:n], base=folder, messages=messages)
        assert why is None, why
        assert_same(full(inputs[:n]), result, tmp_path)
        assert [m for m in messages if m.startswith("Reading ")] == [f"Reading {p.name}" for p in inputs[before:n]]
        folder, before = tmp_path / f"step-{n}", n
        write_build(result, folder)
    report = json.loads((folder / "report.json").read_text())
    assert report["rows_read"] == report["rows_used"] + report["rows_superseded"] + report["rows_ignored"] + \
        report["rows_quarantined"]


def test_only_the_children_the_new_rows_touch_are_built_again(tmp_path: Path) -> None:
    """With the extract date fixed, a file of two new children builds two children again, not the history."""
    inputs = by_year(sorted((SAMPLES / "northgate").glob("ssda903_*.csv")))
    date = dt.date(2025, 3, 31)
    base = tmp_path / "base"
    write_build(build(inputs, extract_date=date)[0], base)
    extra = write_episodes(tmp_path / "ssda903_episodes_zz.csv", [
        ("N900002", "01/04/2021", "S", "C2", "U4", "01/06/2021", "E11"),
        ("N900003", "01/01/2022", "S", "C2", "U4", "", ""),
    ])
    messages: list[str] = []
    result, why = build([*inputs, extra], base=base, messages=messages, extract_date=date)
    assert why is None
    assert "Adding to the earlier build: 2 children to build again" in messages
    assert_same(full([*inputs, extra], extract_date=date), result, tmp_path)


def test_where_the_extract_date_moves_children_with_open_episodes_are_built_again(tmp_path: Path) -> None:
    inputs = by_year(sorted((SAMPLES / "northgate").glob("ssda903_*.csv")))
    base = tmp_path / "base"
    write_build(build(inputs[:-2])[0], base)
    messages: list[str] = []
    result, _ = build(inputs, base=base, messages=messages)
    touched = int(next(m for m in messages if m.startswith("Adding to")).split(": ")[1].split()[0].replace(",", ""))
    earlier = pd.read_parquet(base / "spells.parquet")
    new_children = set(pd.read_parquet(base / "spells.parquet")["person_id"]) ^ set(result.spells["person_id"])
    assert touched >= earlier.loc[earlier["next_stage"] == "open", "person_id"].nunique()
    assert touched < earlier["person_id"].nunique() + len(new_children)  # not everyone
    assert_same(full(inputs), result, tmp_path)


def test_children_left_open_are_censored_again_when_only_new_children_move_the_date(tmp_path: Path) -> None:
    """A file of new children only, in the next collection year: the extract date moves a year, so every
    child still open must be built again though no new row is theirs (their open spells end at the date)."""
    inputs = by_year(sorted((SAMPLES / "northgate").glob("ssda903_*.csv")))[:-2]
    base = tmp_path / "base"
    write_build(build(inputs)[0], base)
    extra = write_episodes(tmp_path / "ssda903_episodes_new_children.csv", [
        ("N900010", "01/06/2024", "S", "C2", "U4", "", ""),
        ("N900011", "01/07/2024", "S", "V2", "U1", "01/09/2024", "E11"),
    ])
    messages: list[str] = []
    result, why = build([*inputs, extra], base=base, messages=messages)
    assert why is None
    earlier = pd.read_parquet(base / "spells.parquet")
    still_open = earlier.loc[earlier["next_stage"] == "open", "person_id"].nunique()
    rebuilt = int(next(m for m in messages if m.startswith("Adding to")).split(": ")[1].split()[0].replace(",", ""))
    # every child still open, the two new ones, and (conservatively) any with a row once open or dated after
    assert still_open + 2 <= rebuilt < earlier["person_id"].nunique()
    assert result.report["extract_date"] == "2025-03-31" != json.loads((base / "report.json").read_text())[
        "extract_date"]
    assert_same(full([*inputs, extra]), result, tmp_path)


def test_front_door_added_to_care_episodes(tmp_path: Path) -> None:
    inputs = [SAMPLES / "riverside" / "placements.csv", SAMPLES / "riverside" / "front_door.csv"]
    base = tmp_path / "base"
    write_build(build(inputs[:1], RIVERSIDE)[0], base)
    result, why = build(inputs, RIVERSIDE, base=base)
    assert why is None
    assert_same(full(inputs, RIVERSIDE), result, tmp_path)


@pytest.mark.parametrize("case", ["changed", "order", "extract-date", "config", "cin", "not-a-build", "incomplete"])
def test_a_build_that_cannot_be_added_to_says_why_and_builds_every_input(tmp_path: Path, case: str) -> None:
    returns = by_year(sorted((SAMPLES / "northgate").glob("ssda903_*.csv")))
    inputs = [tmp_path / p.name for p in returns[:4]]
    for source, copy in zip(returns, inputs):
        shutil.copy(source, copy)
    config = tmp_path / "northgate.yaml"
    shutil.copy(NORTHGATE, config)
    base = tmp_path / "base"
    write_build(build(inputs[:2], config)[0], base)
    given, options = list(inputs), {}
    if case == "changed":
        inputs[0].write_text(inputs[0].read_text() + returns[2].read_text().split("\n", 1)[1])
    elif case == "order":
        given = [inputs[1], inputs[0], *inputs[2:]]
    elif case == "extract-date":
        options = {"extract_date": dt.date(2019, 3, 31)}
    elif case == "config":
        config.write_text(config.read_text() + "\n# a comment is a change too\n")
    elif case == "cin":
        given = [*inputs, SAMPLES / "northgate" / "cin_census_2016-17.xml"]
    elif case == "incomplete":
        next((base / STATE_DIR).glob("rows-header-*.parquet")).unlink()
    else:
        base = tmp_path
    result, why = build(given, config, base=base, **options)
    expected = {"changed": f"{inputs[0].name} changed since the earlier build read it",
                "order": f"the earlier build's inputs must come first, in its order: {inputs[0].name} was read where "
                         f"{inputs[1].name} is given",
                "extract-date": "--extract-date or --year differs from the earlier build's",
                "config": "the config, the stage model, the tool or the pseudonymisation key changed since",
                "cin": "the new inputs include CIN census XML, which is not added to a build yet",
                "not-a-build": f"{tmp_path} keeps nothing to add to: it is not a build folder, or it was built by an "
                               "older version or without care episodes",
                "incomplete": f"the earlier build in {base} is incomplete ({STATE_DIR}/rows-header-0.parquet missing)"}[case]
    assert why == expected
    assert_same(full(given, config, **options), result, tmp_path)  # type: ignore[arg-type]


def test_what_a_build_keeps_holds_no_child_id_and_no_full_date_of_birth(tmp_path: Path) -> None:
    inputs = by_year(sorted((SAMPLES / "northgate").glob("ssda903_*.csv")))[:4]
    write_build(build(inputs)[0], tmp_path / "b")
    kept = tmp_path / "b" / STATE_DIR
    ids = set(pd.concat([pd.read_csv(p, dtype=str)["CHILD"] for p in inputs]))
    header = pd.concat([pd.read_parquet(p) for p in kept.glob("rows-header-*.parquet")])
    assert str(header["person_id"].dtype) == "UInt64"
    assert (header["birth_date"].dropna().dt.day == 1).all()
    assert header["birth_date_text"].isna().all()  # every date of birth could be read: none kept as written
    for path in kept.iterdir():
        data = path.read_bytes()
        assert not [i for i in ids if i.encode() in data], path.name


def test_what_a_build_keeps_of_the_census_holds_no_child_id_upn_or_date_of_birth(tmp_path: Path) -> None:
    inputs = sorted((SAMPLES / "northgate").glob("*2016-17*"))
    result, why = build(inputs)
    assert why is None and result.kept is not None
    write_build(result, tmp_path / "b")
    text = (SAMPLES / "northgate" / "cin_census_2016-17.xml").read_text(encoding="utf-8")
    ids = set(re.findall(r"<LAchildID>([^<]+)<", text)) | set(re.findall(r"<UPN>([^<]+)<", text))
    births = set(re.findall(r"<PersonBirthDate>([^<]+)<", text))
    kept = tmp_path / "b" / STATE_DIR
    children = pd.concat([pd.read_parquet(p) for p in kept.glob("rows-cin_children-*.parquet")])
    assert list(children.columns) == ["la_child_id", "sex", "birth_date", "ethnicity"]
    assert str(children["la_child_id"].dtype) == "UInt64" and (children["birth_date"].dropna().dt.day == 1).all()
    for path in kept.iterdir():
        data = path.read_bytes()
        assert not [i for i in ids if len(i) > 5 and i.encode() in data], path.name
        assert not [b for b in births if not b.endswith("-01") and b.encode() in data], path.name


def test_cli_build_from_writes_the_same_files(tmp_path: Path) -> None:
    inputs = [str(p) for p in by_year(sorted((SAMPLES / "northgate").glob("ssda903_*.csv")))]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "journeys.cli", "build", "--config", str(NORTHGATE), *args],
                              capture_output=True, text=True, cwd=ROOT, check=True)

    cli(*inputs, "--out", str(tmp_path / "all"), "--quiet")
    cli(*inputs[:-2], "--out", str(tmp_path / "before"), "--quiet")
    added = cli(*inputs, "--from", str(tmp_path / "before"), "--out", str(tmp_path / "after"))
    assert "Adding to the earlier build" in added.stderr + added.stdout
    for name in OUTPUTS:
        assert filecmp.cmp(tmp_path / "all" / name, tmp_path / "after" / name, shallow=False), name
    # in place: the earlier folder becomes this month's build
    cli(*inputs, "--from", str(tmp_path / "before"), "--out", str(tmp_path / "before"), "--quiet")
    for name in OUTPUTS:
        assert filecmp.cmp(tmp_path / "all" / name, tmp_path / "before" / name, shallow=False), name
    refused = subprocess.run([sys.executable, "-m", "journeys.cli", "build", "--config", str(NORTHGATE), *inputs,
                              "--from", str(tmp_path / "all"), "--out", str(tmp_path / "x"), "--engine", "dask"],
                             capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 2 and "--from adds to a build with the embedded engine" in refused.stderr


def test_the_app_cache_adds_this_months_extract_to_the_cached_build(tmp_path: Path) -> None:
    inputs = by_year(sorted((SAMPLES / "northgate").glob("ssda903_*.csv")))
    cache = tmp_path / "cache"
    build_inputs(NORTHGATE, inputs[:-2], cache)
    messages: list[str] = []
    added = build_inputs(NORTHGATE, inputs, cache, progress=messages.append)
    assert any(m.startswith("Adding to the earlier build") for m in messages)
    assert not any(m == f"Reading {inputs[0].name}" for m in messages)
    fresh = build_inputs(NORTHGATE, inputs, tmp_path / "fresh")
    pd.testing.assert_frame_equal(added.spells, fresh.spells)
    pd.testing.assert_frame_equal(added.attributes, fresh.attributes)
    assert added.report == fresh.report


def test_the_app_cache_keeps_one_build_where_each_months_replaces_the_last(tmp_path: Path) -> None:
    """Each month's build replaces the cached build it was added to (the cache does not grow by a build a month);
    the next month still adds to it, and another authority's builds in the same cache are left alone."""
    inputs = by_year(sorted((SAMPLES / "northgate").glob("ssda903_*.csv")))
    cache = tmp_path / "cache"
    other = build_inputs(RIVERSIDE, sorted((SAMPLES / "riverside").glob("*.csv"))[:2], cache)
    first = build_inputs(NORTHGATE, inputs[:-4], cache)
    messages: list[str] = []
    second = build_inputs(NORTHGATE, inputs[:-2], cache, progress=messages.append)
    assert f"Removed the earlier build {first.folder.name}, which this one replaces" in messages
    assert not first.folder.exists()
    third = build_inputs(NORTHGATE, inputs, cache, progress=messages.append)  # its rows linked from the second's
    assert sum(m.startswith("Adding to the earlier build") for m in messages) == 2
    assert sorted(p for p in cache.iterdir() if (p / "report.json").is_file()) == sorted([other.folder, third.folder])
    fresh = build_inputs(NORTHGATE, inputs, tmp_path / "fresh")
    pd.testing.assert_frame_equal(third.spells, fresh.spells)
    assert third.report == fresh.report
    assert build_inputs(NORTHGATE, inputs, cache).folder == third.folder  # read again, not built


def test_the_app_cache_removes_builds_of_another_version_of_the_same_config(tmp_path: Path) -> None:
    """An analyst who edits a config (or a new release of the tool) builds again; the builds the config's earlier
    versions made are removed then, not left to grow the cache. Another config file's builds stay."""
    returns = by_year(sorted((SAMPLES / "northgate").glob("ssda903_*.csv")))
    inputs, others = returns[:4], returns[4:6]
    cache, config, copy = tmp_path / "cache", tmp_path / "northgate.yaml", tmp_path / "northgate-copy.yaml"
    shutil.copy(NORTHGATE, config)
    shutil.copy(NORTHGATE, copy)
    first = build_inputs(config, inputs, cache)
    beside = build_inputs(config, others, cache)  # the same config, other inputs: both builds stay
    assert first.folder.is_dir() and beside.folder.is_dir() and beside.folder != first.folder
    kept = build_inputs(copy, inputs, cache)  # the same rules in another file: another config to the cache
    config.write_text(config.read_text(encoding="utf-8") + "\n# reviewed by the analyst\n", encoding="utf-8")
    messages: list[str] = []
    second = build_inputs(config, inputs, cache, progress=messages.append)
    assert second.folder != first.folder and not first.folder.exists() and not beside.folder.exists()
    assert kept.folder.is_dir()
    assert f"Removed the earlier build {first.folder.name}, made under another version of this config or of the " \
           "tool" in messages
    assert build_inputs(copy, inputs, cache).folder == kept.folder  # read again, not built


def annual_returns(folder: Path, children: int = 700, seed: int = 3) -> list[Path]:
    """Synthetic SSDA903 returns as councils send them: each collection year's episodes file holds every
    episode open during the year (those still open at 31 March without an end), and a header of its
    children. A later return repeats the episodes the earlier left open, ended: it supersedes them."""
    from journeys.synth import generate_care_episodes

    episodes, header = generate_care_episodes(children, seed=seed, first_year=2018, last_year=2024)
    start, end = pd.to_datetime(episodes["DECOM"]), pd.to_datetime(episodes["DEC"])
    paths = []
    for year in range(2019, 2025):
        begins, ends = pd.Timestamp(year - 1, 4, 1), pd.Timestamp(year, 3, 31)
        rows = episodes[((start <= ends) & (end.isna() | (end >= begins))).to_numpy()].copy()
        still_open = (end[rows.index] > ends).to_numpy()
        rows.loc[rows.index[still_open], ["DEC", "REC", "REASON_PLACE_CHANGE"]] = None
        for column in ("DECOM", "DEC"):
            rows[column] = pd.to_datetime(rows[column]).dt.strftime("%d/%m/%Y")
        rows.to_csv(folder / f"ssda903_episodes_{year - 1}-{year % 100:02d}.csv", index=False)
        header[header["CHILD"].isin(set(rows["CHILD"]))].to_csv(
            folder / f"ssda903_header_{year - 1}-{year % 100:02d}.csv", index=False)
        paths += [folder / f"ssda903_episodes_{year - 1}-{year % 100:02d}.csv",
                  folder / f"ssda903_header_{year - 1}-{year % 100:02d}.csv"]
    return paths


def test_each_new_annual_return_added_gives_the_build_of_every_return(tmp_path: Path) -> None:
    """Six years of synthetic returns, each added to the build of the ones before: every year the extract
    date moves, open episodes are superseded by their ended versions, and the files equal a full build."""
    inputs = annual_returns(tmp_path)
    config = ROOT / "pathway_configs" / "ssda903.yaml"
    folder = tmp_path / "year-1"
    write_build(build(inputs[:2], config)[0], folder)
    for n in range(4, len(inputs) + 1, 2):
        messages: list[str] = []
        result, why = build(inputs[:n], config, base=folder, messages=messages)
        assert why is None, why
        assert_same(full(inputs[:n], config), result, tmp_path)
        folder = tmp_path / f"year-{n // 2}"
        write_build(result, folder)
    report = json.loads((folder / "report.json").read_text())
    assert report["extract_date"] == "2024-03-31" and report["rows_superseded"] > 0
    rebuilt = int(next(m for m in messages if m.startswith("Adding to")).split(": ")[1].split()[0].replace(",", ""))
    assert 0 < rebuilt < pd.read_parquet(folder / "spells.parquet")["person_id"].nunique()


def test_the_app_cache_removes_builds_that_recorded_no_config(tmp_path: Path) -> None:
    """Builds made before builds recorded their config (no source.json) are removed when the cache next builds;
    a folder not named as the cache names builds, or one just written, stays."""
    import os
    import time

    from journeys.cache import UNRECORDED_AFTER_SECONDS, unrecorded_builds

    cache = tmp_path / "cache"
    old, fresh, other = cache / ("a1" * 12), cache / ("b2" * 12), cache / "my-build"
    for folder in (old, fresh, other):
        folder.mkdir(parents=True)
        (folder / "report.json").write_text("{}", encoding="utf-8")
    long_ago = time.time() - UNRECORDED_AFTER_SECONDS - 60
    for folder in (old, other):
        os.utime(folder / "report.json", (long_ago, long_ago))
    assert unrecorded_builds(cache) == [old]
    messages: list[str] = []
    built = build_inputs(NORTHGATE, sorted((SAMPLES / "northgate").glob("ssda903_*2024-25.csv")), cache,
                         progress=messages.append)
    assert not old.exists() and fresh.is_dir() and other.is_dir() and built.folder.is_dir()
    assert f"Removed the earlier build {old.name}, made by a version of the tool that did not record its config" \
        in messages
    assert unrecorded_builds(cache, now=time.time() + 2 * UNRECORDED_AFTER_SECONDS) == [fresh]  # ours has its SOURCE


def test_care_returns_added_to_a_build_with_the_census_give_the_build_of_them_all(tmp_path: Path) -> None:
    """Northgate's census returns and its care returns up to 2022-23, then the care returns of the next two years
    added one at a time (the care extract date moves; the census's stays at its reference date): each step equals
    the build of its inputs, reads only the new file, and builds again only the children it touches."""
    census = sorted((SAMPLES / "northgate").glob("cin_census_*.xml"))
    care = by_year(sorted((SAMPLES / "northgate").glob("ssda903_*.csv")))
    first = [*census, *care[:-4]]
    result, why = build(first)
    assert why is None and result.kept is not None
    assert (result.episodes["source"] == "cin").any()
    folder = tmp_path / "first"
    write_build(result, folder)
    kept = json.loads((folder / STATE_DIR / "manifest.json").read_text())
    assert {"cin_episodes", "cin_children"} <= set(kept["segments"]) and kept["cin"]["when"] == "2025-03-31"
    assert "upn" not in pd.read_parquet(folder / STATE_DIR / kept["segments"]["cin_children"][0]).columns
    for n in (len(first) + 2, len(first) + 4):
        inputs = [*census, *care[:n - len(census)]]
        messages: list[str] = []
        result, why = build(inputs, base=folder, messages=messages)
        assert why is None, why
        assert [m for m in messages if m.startswith("Reading ")] == [f"Reading {p.name}" for p in inputs[-2:]]
        rebuilt = next(m for m in messages if m.startswith("Adding to the earlier build"))
        assert int(rebuilt.split(": ")[1].split()[0].replace(",", "")) < result.spells["person_id"].nunique() / 2
        assert_same(full(inputs), result, tmp_path)
        folder = tmp_path / f"step-{n}"
        write_build(result, folder)
