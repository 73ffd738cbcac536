"""Local case-system extracts: column names and codes from the config, CSV and XLSX alike."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from journeys.config import load_config
from journeys.pipeline import run_pipeline
from tests.conftest import KEY, pid

CONFIG = """authority: testshire
config_version: "1"
stage_model_version: "1"
source:
  format: local
  date_format: "%Y-%m-%d"
  data_start: 2018-01-01
  continuation_codes: [MOVE]
  columns: {person_id: ClientRef, start: Start, end: End, code: Service, exit_code: Reason, sex: Gender}
merge_gap_days: 0
rules:
  - {column: Service, equals: [RESPITE], ignore: true, name: respite}
  - {column: Service, equals: [HOSP], absorb: true}
  - {column: Service, prefix: [FC-], stage: foster_other}
  - {column: Service, glob: ["RES-*"], stage: residential}
  - {column: Reason, equals: [HOME-PLAN], outcome: returned_home, detail: planned}
"""
ROWS = [
    # ClientRef, Start, End, Service, Reason, Gender
    ("A1", "2017-06-01", "2018-03-01", "FC-IFA", "MOVE", "F"),    # before data_start: already under way
    ("A1", "2018-03-01", "2018-03-05", " hosp ", "move", "F"),    # absorbed, lowercase and padded
    ("A1", "2018-03-05", "2019-01-01", "RES-PVI", "HOME-PLAN", "F"),
    ("B2", "2018-05-01", "", "fc-kin", "", "M"),                  # open
    ("C3", "2018-05-01", "2018-05-03", "RESPITE", "", "M"),       # ignored by rule
]


@pytest.fixture
def config(tmp_path: Path):
    path = tmp_path / "testshire.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(path)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=["ClientRef", "Start", "End", "Service", "Reason", "Gender"])


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_local_extract_builds_the_same_in_every_format(tmp_path: Path, config, suffix: str) -> None:
    path = tmp_path / f"extract{suffix}"
    frame = _frame()
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    r = run_pipeline([path], config, extract_date=dt.date(2020, 3, 31), key=KEY)
    spells = r.spells[r.spells["person_id"] == pid("A1")]
    assert spells[["stage", "next_stage", "moves"]].values.tolist() == [
        ["foster_other", "residential", 0], ["residential", "returned_home", 0]]
    assert spells["left_truncated"].all()
    assert r.transitions[r.transitions["person_id"] == pid("A1")]["from_stage"].iloc[0] == "before_data"
    b2 = r.spells[r.spells["person_id"] == pid("B2")]
    assert b2[["stage", "next_stage", "left_truncated"]].values.tolist() == [["foster_other", "open", False]]
    assert (r.report["rows_used"], r.report["rows_ignored"], r.report["ignored_by_rule"]) == (4, 1, {"respite": 1})
    assert set(r.episodes["sex"].dropna()) == {"F", "M"}
    left = r.issues[r.issues["code"] == "left-truncated-journey"]
    assert left["row"].tolist() == [2 if suffix != ".parquet" else 1]


def test_rule_on_a_column_the_input_lacks_is_a_config_error(tmp_path: Path, config) -> None:
    from journeys.errors import ConfigError
    config.rules[0].column = "Team"
    path = tmp_path / "extract.csv"
    _frame().to_csv(path, index=False)
    with pytest.raises(ConfigError, match="matches the column 'Team', which the input does not have"):
        run_pipeline([path], config, extract_date=dt.date(2020, 3, 31), key=KEY)
