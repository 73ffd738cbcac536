"""The real-format samples in ../shared/samples build with the national config, every row accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from journeys.cli import main
from journeys.config import load_config
from journeys.pipeline import run_pipeline

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "samples" / "ssda903"
EPISODES, HEADER = SAMPLES / "episodes.csv", SAMPLES / "header.csv"

pytestmark = pytest.mark.skipif(not EPISODES.exists(), reason="../shared/samples is not beside this checkout")


@pytest.fixture(scope="module")
def result():
    return run_pipeline([EPISODES, HEADER], load_config(ROOT / "pathway_configs" / "ssda903.yaml"),
                        key="abcdefghijklmnop")


def test_every_row_is_accounted_for(result) -> None:
    r = result.report
    assert r["rows_read"] == 5050 + 2675
    assert r["rows_read"] == r["rows_used"] + r["rows_superseded"] + r["rows_ignored"] + r["rows_quarantined"]
    for entry in r["inputs"]:
        assert entry["rows_read"] == sum(entry[f"rows_{b}"] for b in ("used", "superseded", "ignored",
                                                                       "quarantined"))
    assert sum(r["quarantined_by_reason"].values()) == r["rows_quarantined"]
    assert sum(r["ignored_by_rule"].values()) == r["rows_ignored"]
    episodes_used = next(e for e in r["inputs"] if e["table"] == "episodes")["rows_used"]
    assert episodes_used == len(result.episodes)


def test_outputs_are_consistent(result) -> None:
    spells, transitions = result.spells, result.transitions
    journeys = spells.groupby(["person_id", "journey_no"]).ngroups
    assert len(transitions) == len(spells) + journeys
    assert set(spells["person_id"]) == set(result.episodes["person_id"])
    assert (spells["end"] >= spells["start"]).all()
    assert not transitions["from_stage"].eq(transitions["to_stage"]).any()
    assert result.report["extract_date"] == "2019-03-31" and result.report["extract_date_inferred"]


def test_cli_build_writes_the_four_files(tmp_path: Path) -> None:
    out = tmp_path / "build"
    code = main(["build", "--quiet", "--config", str(ROOT / "pathway_configs" / "ssda903.yaml"), str(EPISODES),
                 str(HEADER), "--out", str(out)])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    for key in ("rows_read", "rows_used", "rows_superseded", "rows_ignored", "rows_quarantined",
                "ignored_by_rule", "quarantined_by_reason", "inputs", "issues"):
        assert key in report
    spells = pd.read_parquet(out / "spells.parquet")
    assert list(spells.columns)[:6] == ["person_id", "authority", "journey_no", "step", "stage", "start"]
    episodes = pd.read_parquet(out / "episodes.parquet")
    assert not episodes["person_id"].isin(pd.read_csv(EPISODES, dtype=str)["CHILD"]).any(), "ids pseudonymised"
    assert len(pd.read_parquet(out / "transitions.parquet")) > len(spells)


def test_ssda903_workbook_with_two_sheets_builds_like_the_csvs(tmp_path: Path, result) -> None:
    """Councils often keep the episodes and header tables as sheets of one workbook."""
    book = tmp_path / "ssda903_2018-19.xlsx"
    with pd.ExcelWriter(book) as writer:
        pd.read_csv(EPISODES, dtype=str).to_excel(writer, sheet_name="Episodes", index=False)
        pd.read_csv(HEADER, dtype=str).to_excel(writer, sheet_name="Header", index=False)
    from_book = run_pipeline([book], load_config(ROOT / "pathway_configs" / "ssda903.yaml"),
                             key="abcdefghijklmnop", extract_date=pd.Timestamp("2019-03-31").date())
    assert [(i["file"], i["table"], i["rows_read"]) for i in from_book.report["inputs"]] == [
        ("ssda903_2018-19.xlsx[Episodes]", "episodes", 5050), ("ssda903_2018-19.xlsx[Header]", "header", 2675)]
    for key in ("rows_used", "rows_ignored", "rows_quarantined"):
        assert from_book.report[key] == result.report[key]
    pd.testing.assert_frame_equal(from_book.spells, result.spells)
