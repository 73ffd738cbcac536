"""The journeys command end to end on the synthetic authorities: synth, then validate and build each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from journeys.cli import main

ROOT = Path(__file__).resolve().parent.parent
AUTHORITIES = ["northgate", "riverside", "westmoor"]


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    assert main(["synth", "--out", str(out), "--seed", "7", "--scale", "0.1"]) == 0
    return out


@pytest.mark.parametrize("authority", AUTHORITIES)
def test_synthetic_authority_validates_clean(samples: Path, authority: str, capsys) -> None:
    files = sorted(str(p) for p in (samples / authority).iterdir())
    code = main(["validate", "--quiet", "--format", "json", "--config",
                 str(ROOT / "pathway_configs" / f"{authority}.yaml"), *files])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["quarantined_by_reason"]
    assert report["rows_quarantined"] == 0 and report["rows_used"] > 0
    assert report["rows_read"] == sum(report[f"rows_{b}"] for b in ("used", "superseded", "ignored",
                                                                     "quarantined"))


def test_build_of_bundled_sample_writes_outputs(tmp_path: Path) -> None:
    files = sorted(str(p) for p in (ROOT / "data_samples" / "northgate").glob("*.csv"))
    assert main(["build", "--quiet", "--config", str(ROOT / "pathway_configs" / "northgate.yaml"), *files,
                 "--out", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"episodes.parquet", "spells.parquet", "transitions.parquet", "report.json", "issues.csv"} <= names
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["rows_superseded"] > 0 and report["extract_date"] == "2025-03-31"


def test_usage_errors_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["build", "--config", "x.yaml"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        main(["validate", "--config", "x.yaml", "a.csv", "--extract-date", "31st March"])
    assert exit_.value.code == 2
    assert "is not a date" in capsys.readouterr().err


def test_flows_stdout_is_only_the_csv(tmp_path: Path) -> None:
    """Run as a process, so that anything a library writes straight to the stdout file (HiGHS 1.16's banner) shows."""
    import os
    import subprocess
    import sys

    files = sorted(str(p) for p in (ROOT / "data_samples" / "riverside").glob("*.csv"))
    key = tmp_path / "key"
    key.write_text("abcdefghijklmnopqrstuvwxyz012345")
    done = subprocess.run([sys.executable, "-m", "journeys.cli", "flows", "--quiet", "--config",
                           str(ROOT / "pathway_configs" / "riverside.yaml"), *files, "--period", "2021Q2"],
                          capture_output=True, text=True, env=dict(os.environ, JOURNEYS_KEY_FILE=str(key)), check=True)
    lines = done.stdout.splitlines()
    assert lines[0] == "period,period_label,from_stage,to_stage,count"
    assert all(line.startswith("2021Q2,2021-22 Q1,") for line in lines[1:]) and len(lines) > 20


def test_compare_prints_the_two_cohorts_as_json_and_text(capsys) -> None:
    files = sorted(str(p) for p in (ROOT / "data_samples" / "northgate").iterdir())
    args = ["compare", "--quiet", "--config", str(ROOT / "pathway_configs" / "northgate.yaml"), *files,
            "--date", "2022-04-01", "--stage", "foster_other"]
    assert main([*args, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(c["label"], c["first"], c["last"]) for c in data["cohorts"]] == [
        ("Before", "2021-04-01", "2022-03-31"), ("After", "2022-04-01", "2023-03-31")]
    assert data["followed_until"] == "2025-03-31" and data["not_followed_up"] == {"Before": "0", "After": "0"}
    closed = next(s for s in data["states"] if s["state"] == "case_closed")
    followed = {label: int(data["followed_up"][label]) for label in ("Before", "After")}
    for label in ("Before", "After"):  # a share is its count over the cohort's followed-up children
        assert closed[label]["share"] == round(int(closed[label]["count"]) / followed[label], 3)
        assert closed[label]["lower"] < closed[label]["share"] < closed[label]["upper"]
    hidden = [s for s in data["states"] if "c" in (s["Before"]["count"], s["After"]["count"])]
    assert hidden and all(s["difference"]["value"] is None for s in hidden)
    assert {s["state"] for s in hidden} <= set(data["pooled_in_test"])
    assert data["test"]["df"] == len(data["states"]) - len(data["pooled_in_test"])  # kept states + the pool - 1
    assert data["time_in_stage"]["stage"] == "foster_other" and data["time_in_stage"]["test"]["df"] == 1
    assert main([*args, "--format", "text"]) == 0
    text = capsys.readouterr().out
    assert "Before: children whose journey started 2021-04-01 to 2022-03-31" in text
    assert "Case closed" in text and "Time in Foster care: other carers: median" in text


def test_compare_explains_what_cannot_be_compared(capsys) -> None:
    files = sorted(str(p) for p in (ROOT / "data_samples" / "northgate").glob("*.csv"))
    args = ["compare", "--quiet", "--config", str(ROOT / "pathway_configs" / "northgate.yaml"), *files]
    assert main([*args, "--date", "2024-06-01"]) == 1
    err = capsys.readouterr().err
    assert "No journey starting on or after 2024-06-01 can be followed 12 months: the data runs to 2025-03-31" in err
    assert "choose an earlier --date or a shorter --horizon" in err
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--date", "2022-04-01", "--stage", "adopted"])
    assert exit_.value.code == 2 and "'adopted' is not a stage" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--date", "2022-04-01", "--horizon", "0"])
    assert exit_.value.code == 2 and "at least 1" in capsys.readouterr().err
