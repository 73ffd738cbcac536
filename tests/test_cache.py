"""Cached builds: reused when inputs, config and pipeline code are unchanged; rebuilt when any changes."""

from __future__ import annotations

import json
import os
import time

import pytest

import journeys.cache as cache
from journeys.cache import BUILD_FILES, DIGESTS_FILE, build_inputs, cache_key, read_build
from journeys.cli import main
from journeys.errors import BuildError
from tests.conftest import ROOT, write_episodes

CONFIG = ROOT / "pathway_configs" / "ssda903.yaml"
ROWS = [("1", "01/01/2019", "S", "C2", "U4", "", ""), ("2", "01/02/2019", "S", "C2", "K2", "01/03/2019", "E4A")]


def test_second_build_is_read_from_the_cache(tmp_path) -> None:
    inputs = [write_episodes(tmp_path / "episodes.csv", ROWS)]
    calls: list[str] = []
    first = build_inputs(CONFIG, inputs, tmp_path / "cache", progress=calls.append)
    assert any("Checking" in c for c in calls)
    assert all((first.folder / name).is_file() for name in BUILD_FILES)
    calls.clear()
    again = build_inputs(CONFIG, inputs, tmp_path / "cache", progress=calls.append)
    assert again.folder == first.folder and not any("Checking" in c for c in calls)
    assert len(again.attributes) == 2 and again.authority == "ssda903"


def test_key_changes_with_inputs_and_config(tmp_path) -> None:
    path = write_episodes(tmp_path / "episodes.csv", ROWS)
    key = cache_key(CONFIG, [path])
    assert cache_key(CONFIG, [path]) == key
    write_episodes(path, ROWS[:1])
    assert cache_key(CONFIG, [path]) != key
    other = tmp_path / "other.yaml"
    other.write_text(CONFIG.read_text() + "\n# edited\n")
    assert cache_key(other, [path]) != cache_key(CONFIG, [path])


def test_input_digests_are_remembered_until_the_file_changes(tmp_path, monkeypatch) -> None:
    """A restart does not re-read an unchanged extract; any change to it (size, time, a new file) is hashed."""
    path = write_episodes(tmp_path / "episodes.csv", ROWS)
    settled = time.time() - 60
    os.utime(path, (settled, settled))
    root = tmp_path / "cache"
    key = cache_key(CONFIG, [path], cache_root=root)
    assert key == cache_key(CONFIG, [path])  # the same key as without the memo
    assert str(path.resolve()) in json.loads((root / DIGESTS_FILE).read_text())
    read: list[str] = []
    digest_file = cache._digest_file
    monkeypatch.setattr(cache, "_digest_file", lambda p, d: (read.append(p.name), digest_file(p, d)))
    assert cache_key(CONFIG, [path], cache_root=root) == key and "episodes.csv" not in read  # remembered
    write_episodes(path, ROWS[:1])  # changed just now: hashed, and not remembered while its time may not move
    changed = cache_key(CONFIG, [path], cache_root=root)
    assert changed != key and read.count("episodes.csv") == 1
    assert cache_key(CONFIG, [path], cache_root=root) == changed and read.count("episodes.csv") == 2


def test_read_build_explains_a_wrong_folder(tmp_path) -> None:
    with pytest.raises(BuildError, match="not a Care Journeys build folder: spells.parquet, report.json missing"):
        read_build(tmp_path)


def test_build_folder_from_the_cli_serves_as_data(tmp_path) -> None:
    path = write_episodes(tmp_path / "episodes.csv", ROWS)
    assert main(["build", "--quiet", "--config", str(CONFIG), str(path), "--out", str(tmp_path / "out")]) == 0
    build = read_build(tmp_path / "out")
    assert build.spells["person_id"].nunique() == 2 and list(build.attributes["sex"].astype(str)) == ["Not known"] * 2


def test_serve_refuses_other_computers_and_half_given_inputs(tmp_path, capsys) -> None:
    assert main(["serve", "--host", "0.0.0.0"]) == 1
    assert "sign-in with roles" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["serve", str(tmp_path / "episodes.csv")])
    assert exit_.value.code == 2
    assert "INPUT files need --config" in capsys.readouterr().err


def test_key_changes_with_the_pseudonymisation_key(tmp_path, monkeypatch) -> None:
    path = write_episodes(tmp_path / "episodes.csv", ROWS)
    key = cache_key(CONFIG, [path])
    monkeypatch.setenv("JOURNEYS_KEY_FILE", str(tmp_path / "other.key"))
    assert cache_key(CONFIG, [path]) != key  # new key, new pseudonyms: never reuse the old build


def test_population_file_errors_are_sentences(tmp_path, capsys) -> None:
    bad = tmp_path / "population.csv"
    bad.write_text("authority,year,population_0_17\nnorthgate,2023-24,50000\n")
    assert main(["serve", "--population", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "population file is not usable" in err and "Traceback" not in err
