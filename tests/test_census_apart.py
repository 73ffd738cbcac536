"""CIN census files parsed in helper processes (journeys.census_apart): the same censuses, errors and builds as
parsing them in the build's own process, and a helper that dies costs nothing but time."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import journeys.census_apart as apart
from journeys.cin import read_cin_census
from journeys.config import load_config
from journeys.errors import InputError
from journeys.pipeline import run_pipeline
from tests.conftest import KEY, ROOT

NORTHGATE = ROOT / "data_samples" / "northgate"
CENSUS = sorted(NORTHGATE.glob("cin_census_*.xml"))
two_cpus = pytest.mark.skipif(apart.cpus() < 2, reason="helpers are used only with two CPUs or more")


def assert_same_census(a: object, b: object) -> None:
    for name in ("children", "details", "assessments", "cin_plans", "section47", "cp_plans", "issues"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    assert (a.file, a.collection_year, a.reference_date) == (b.file, b.collection_year, b.reference_date)  # type: ignore[attr-defined]


def test_shares_go_biggest_first_to_the_least_loaded_helper() -> None:
    assert apart.shares([10, 1, 9, 8, 2], 2) == [[0, 4, 1], [2, 3]]  # loads 13 and 17
    assert apart.shares([3, 3], 4) == [[0], [1]]  # no helper without a file


def test_too_little_to_gain_is_parsed_here() -> None:
    with apart.parsing_apart(CENSUS) as collect:  # 9.5 MB: under PARALLEL_MIN_BYTES
        assert collect is None
    with apart.parsing_apart(CENSUS[:1], min_bytes=0) as collect:  # one file: nothing to share
        assert collect is None


@two_cpus
def test_helpers_give_the_censuses_in_the_files_order() -> None:
    files = CENSUS[::-1]  # not the order of their sizes
    with apart.parsing_apart(files, min_bytes=0) as collect:
        assert collect is not None
        censuses = collect(files)
    assert [c.file for c in censuses] == [f.name for f in files]
    for census, file in zip(censuses, files):
        assert_same_census(census, read_cin_census(file))


@two_cpus
def test_a_file_a_helper_cannot_read_stops_with_the_message_of_reading_it_here(tmp_path: Path) -> None:
    broken = tmp_path / "cin_census_2024-25.xml"
    text = CENSUS[-1].read_text(encoding="utf-8")
    broken.write_text(text[: text.index("<Child>") + 40], encoding="utf-8")  # cut inside the first child
    with pytest.raises(InputError) as here:
        read_cin_census(broken)
    with apart.parsing_apart([CENSUS[0], broken], min_bytes=0) as collect:
        assert collect is not None
        with pytest.raises(InputError) as helped:
            collect([CENSUS[0], broken])
    assert str(helped.value) == str(here.value)
    assert str(here.value).startswith("cin_census_2024-25.xml line ")


@two_cpus
def test_a_helper_that_dies_leaves_its_files_to_this_process() -> None:
    files = CENSUS[:4]
    with apart.parsing_apart(files, min_bytes=0) as collect:
        assert collect is not None
        started = list(collect.helpers)
        for helper in started:  # killed before it could send anything back (as the OOM killer would)
            helper.process.kill()
        censuses = collect(files)
    assert len(started) == 2 and all(h.process.returncode is not None and not h.results for h in started)
    for census, file in zip(censuses, files):
        assert_same_census(census, read_cin_census(file))


@two_cpus
def test_a_build_with_the_census_parsed_apart_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Northgate's care returns and nine census years, their census parsed by helpers while the CSVs are read."""
    config = load_config(ROOT / "pathway_configs" / "northgate.yaml")
    inputs = sorted(NORTHGATE.iterdir())
    here = run_pipeline(inputs, config, key=KEY)
    started: list[apart._Helper] = []

    class Counted(apart._Helper):
        def __init__(self, paths: list[Path]) -> None:
            super().__init__(paths)
            started.append(self)

    monkeypatch.setattr(apart, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(apart, "_Helper", Counted)
    helped = run_pipeline(inputs, config, key=KEY)
    assert len(started) == 2 and sum(len(h.results) for h in started) == len(CENSUS)  # the helpers parsed them
    for name in ("episodes", "spells", "transitions", "issues"):
        pd.testing.assert_frame_equal(getattr(here, name), getattr(helped, name), check_exact=True)
    assert json.dumps(here.report, default=str) == json.dumps(helped.report, default=str)
