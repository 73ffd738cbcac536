"""A local front-door extract beside a local care extract: steps mapped by `source: front_door` rules."""

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
  columns: {person_id: ClientRef, start: Start, end: End, code: Service, exit_code: Reason}
front_door:
  date_format: "%d/%m/%Y"
  columns: {person_id: Client, start: StepStart, end: StepEnd, code: Step, exit_code: Outcome}
rules:
  - {column: Service, prefix: [FC-], stage: foster_other}
  - {column: Reason, equals: [HOME], outcome: returned_home}
  - {source: front_door, column: Step, equals: [CONT], stage: contact}
  - {source: front_door, column: Step, equals: [REF], stage: referral}
  - {source: front_door, column: Step, equals: [ASMT], stage: assessment}
  - {source: front_door, column: Outcome, equals: [NFA], outcome: no_further_action}
"""


@pytest.fixture
def result(tmp_path: Path):
    (tmp_path / "testshire.yaml").write_text(CONFIG, encoding="utf-8")
    pd.DataFrame([("A", "2023-06-01", "2023-09-01", "FC-IFA", "HOME")],
                 columns=["ClientRef", "Start", "End", "Service", "Reason"]).to_csv(tmp_path / "care.csv", index=False)
    pd.DataFrame([("A", "01/01/2023", "02/01/2023", "CONT", ""),
                  ("A", "02/01/2023", "10/01/2023", "REF", ""),
                  ("A", "10/01/2023", "01/02/2023", "ASMT", "NFA"),
                  ("B", "05/03/2023", "05/03/2023", "cont", "nfa"),
                  ("B", "06/03/2023", "", "XX", ""),
                  ("C", "31/02/2023", "", "REF", "")],
                 columns=["Client", "StepStart", "StepEnd", "Step", "Outcome"]).to_csv(tmp_path / "steps.csv",
                                                                                       index=False)
    return run_pipeline([tmp_path / "care.csv", tmp_path / "steps.csv"], load_config(tmp_path / "testshire.yaml"),
                        key=KEY, extract_date=dt.date(2024, 3, 31))


def moves(result, child: str) -> list[tuple]:
    t = result.transitions[result.transitions["person_id"] == pid(child)]
    return [(r.journey_no, r.from_stage, r.to_stage, f"{r.date:%Y-%m-%d}") for r in t.itertuples()]


def test_front_door_steps_then_care_as_a_new_journey(result) -> None:
    assert moves(result, "A") == [
        (1, "entry", "contact", "2023-01-01"), (1, "contact", "referral", "2023-01-02"),
        (1, "referral", "assessment", "2023-01-10"), (1, "assessment", "no_further_action", "2023-02-01"),
        (2, "entry", "foster_other", "2023-06-01"), (2, "foster_other", "returned_home", "2023-09-01")]
    assert moves(result, "B") == [(1, "entry", "contact", "2023-03-05"),
                                  (1, "contact", "no_further_action", "2023-03-05")]


def test_front_door_rows_are_accounted_for(result) -> None:
    r = result.report
    assert [(i["file"], i["table"], i["rows_read"], i["rows_used"], i["rows_quarantined"]) for i in r["inputs"]] == [
        ("care.csv", "episodes", 1, 1, 0), ("steps.csv", "front_door", 6, 4, 2)]
    assert r["quarantined_by_reason"] == {"unknown-service-code": 1, "unparseable-date": 1}
    date = result.issues[result.issues["code"] == "unparseable-date"].iloc[0]
    assert (date["row"], date["column"], date["value"]) == (7, "StepStart", "31/02/2023")
    assert r["extract_dates"] == {"local": "2024-03-31", "front_door": "2024-03-31"}
    bad = result.issues[result.issues["code"] == "unknown-service-code"].iloc[0]
    assert (bad["file"], bad["row"], bad["column"], bad["value"]) == ("steps.csv", 6, "Step", "XX")
