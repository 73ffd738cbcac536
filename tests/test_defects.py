"""One defect-named SSDA903 file per problem code: the issue, where it points, its message and the row accounting."""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from journeys.cli import main
from journeys.config import PathwayConfig, load_config
from journeys.errors import ConfigError, InputError
from journeys.cin_reader import CIN_CODES
from journeys.issues import PROBLEMS, render_message
from journeys.pipeline import BuildResult, run_pipeline
from journeys.readers import read_tables
from journeys.stages import StageModel, load_stage_model

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
CONFIG = ROOT / "pathway_configs" / "ssda903.yaml"
KEY = "abcdefghijklmnop"
EXTRACT = dt.date(2019, 3, 31)
YEAR = 2019  # the collection whose 31 March is EXTRACT
BUCKETS = ("rows_used", "rows_superseded", "rows_ignored", "rows_quarantined")

@dataclass(frozen=True)
class Case:
    """One defect file (plus any clean partner), and the single issue it must raise."""

    code: str
    inputs: tuple[str, ...]
    severity: str
    file: str | None
    row: int | None
    column: str | None
    value: str | None = None
    table: str | None = "episodes"
    quarantined: int = 1  # rows the error quarantines (errors only)
    extract_date: dt.date | None = EXTRACT
    return_year: int | None = YEAR
    marks: tuple[pytest.MarkDecorator, ...] = field(default=(), compare=False)
    accounting_marks: tuple[pytest.MarkDecorator, ...] = field(default=(), compare=False)
    label: str = ""

    @property
    def id(self) -> str:
        return self.label or self.code


def _single(code: str, severity: str, row: int, column: str | None, value: str | None = None,
            **kw: object) -> Case:
    """A case whose defect sits in the episodes file named after the code."""
    name = f"{code}.csv"
    return Case(code, (name,), severity, name, row, column, value, **kw)  # type: ignore[arg-type]


CASES = [
    _single("missing-child-id", "error", 4, "CHILD"),
    _single("missing-start-date", "error", 4, "DECOM"),
    _single("unparseable-date", "error", 4, "DEC", "31/02/2018"),
    _single("end-before-start", "error", 4, "DEC", "01/05/2018"),
    _single("start-after-extract-date", "error", 4, "DECOM", "01/05/2019"),
    _single("end-after-extract-date", "warning", 4, "DEC", "15/04/2019"),
    _single("duplicate-episode", "error", 4, "DECOM", "10/09/2017"),
    _single("overlapping-episode", "warning", 2, "DEC", "10/10/2017"),
    _single("unknown-service-code", "error", 4, "PLACE", "Q9"),
    _single("unknown-exit-code", "error", 4, "REC", "E99"),
    _single("rec-without-dec", "warning", 4, "REC", "E4A"),
    _single("left-truncated-journey", "warning", 4, "RNE"),
    _single("missing-end-reason", "warning", 4, "REC", "01/02/2018"),
    _single("journey-gap", "warning", 4, "DEC", "01/02/2018"),
    _single("absorbed-only-journey", "error", 4, "PLACE", "T1"),
    _single("code-outside-years", "warning", 4, "PLACE", "K3"),
    _single("invalid-code", "warning", 4, "LS", "Z9"),
    # the REC column is missing, so every row of that file (4) is quarantined; clean.csv gives the build rows
    Case("missing-column", ("missing-column.csv", "clean.csv"), "error", "missing-column.csv", None, None,
         "REC", quarantined=4),
    Case("header-without-episodes", ("clean.csv", "header-without-episodes.header.csv"), "error",
         "header-without-episodes.header.csv", 4, "CHILD", table="header"),
    Case("duplicate-header", ("clean.csv", "duplicate-header.header.csv"), "error",
         "duplicate-header.header.csv", 4, "CHILD", table="header"),
    # child 1002 (clean.csv line 4) has no header row: the warning points at the child's episode
    Case("missing-header", ("clean.csv", "missing-header.header.csv"), "warning", "clean.csv", 4, "CHILD"),
    Case("inferred-return-year", ("inferred-return-year.csv",), "warning", "inferred-return-year.csv", None, None,
         "2019", return_year=None),
    Case("inferred-extract-date", ("inferred-extract-date.csv",), "warning", None, None, None, "31/03/2019",
         table=None, extract_date=None),
    # a DOB that cannot be read: the age is unknown, the child's journeys still count
    Case("unparseable-birth-date", ("clean.csv", "unparseable-date.header.csv"), "warning",
         "unparseable-date.header.csv", 3, "DOB", "31/02/2011", table="header"),
]
PARAMS = [pytest.param(c, id=c.id, marks=c.marks) for c in CASES]
ACCOUNTING_PARAMS = [pytest.param(c, id=c.id, marks=c.marks + c.accounting_marks) for c in CASES]
BY_ID = {c.id: c for c in CASES}


@functools.cache
def _stage_model() -> StageModel:
    return load_stage_model()


@functools.cache
def _config() -> PathwayConfig:
    return load_config(CONFIG, _stage_model())


@functools.cache
def _build(inputs: tuple[str, ...], extract_date: dt.date | None = EXTRACT,
           return_year: int | None = YEAR) -> BuildResult:
    """Build once per input set; the tests below only read the result."""
    return run_pipeline([DATA / name for name in inputs], _config(), stage_model=_stage_model(),
                        extract_date=extract_date, return_year=return_year, key=KEY)


def _result(case: Case) -> BuildResult:
    return _build(case.inputs, case.extract_date, case.return_year)


def _blank(value: object) -> bool:
    return value is None or bool(pd.isna(value))  # type: ignore[arg-type]


def _issues_of(case: Case) -> pd.DataFrame:
    issues = _result(case).issues
    return issues[issues["code"] == case.code]


def _the_issue(case: Case) -> dict[str, object]:
    found = _issues_of(case)
    assert len(found) == 1, f"expected one {case.code} issue, got:\n{_result(case).issues}"
    return found.iloc[0].to_dict()


def _row_ref(case: Case) -> str:
    return f"{case.file}:{case.row}"


def test_every_problem_code_has_a_defect_file() -> None:
    # the CIN census codes have their defect files in tests/data/cin/ (tests/test_cin.py)
    assert {c.code for c in CASES} == set(PROBLEMS) - set(CIN_CODES)
    for case in CASES:
        for name in case.inputs:
            assert (DATA / name).is_file(), name


@pytest.mark.parametrize("case", PARAMS)
def test_defect_is_reported_where_it_is(case: Case) -> None:
    issue = _the_issue(case)
    assert issue["severity"] == case.severity == PROBLEMS[case.code].severity
    assert issue["file"] == case.file if case.file else _blank(issue["file"])
    assert issue["table"] == case.table if case.table else _blank(issue["table"])
    assert issue["row"] == case.row if case.row else _blank(issue["row"])
    assert issue["column"] == case.column if case.column else _blank(issue["column"])
    if case.value is not None:
        assert issue["value"] == case.value


@pytest.mark.parametrize("case", PARAMS)
def test_defect_message_says_where_and_how_to_fix(case: Case) -> None:
    message = render_message(_the_issue(case))
    if case.file:
        assert message.startswith(case.file), message
    if case.row:
        assert f" row {case.row}" in message, message
    if case.column:
        assert f"column {case.column}" in message, message
    if case.value:
        assert case.value in message, message
    assert "To fix this: " in message, message


@pytest.mark.parametrize("case", ACCOUNTING_PARAMS)
def test_defect_row_accounting(case: Case) -> None:
    result = _result(case)
    report = result.report
    assert report["rows_read"] == sum(report[b] for b in BUCKETS)  # type: ignore[misc]
    for entry in report["inputs"]:  # type: ignore[attr-defined]
        assert entry["rows_read"] == sum(entry[b] for b in BUCKETS), entry
    assert report["rows_superseded"] == 0 and report["rows_ignored"] == 0
    used = set(result.episodes["row_ref"])
    if case.severity == "error":
        assert report["quarantined_by_reason"] == {case.code: case.quarantined}
        entry = next(e for e in report["inputs"] if e["file"] == case.file)  # type: ignore[attr-defined]
        assert entry["quarantined_by_reason"] == {case.code: case.quarantined}
        if case.row and case.table == "episodes":
            assert _row_ref(case) not in used
    else:
        assert report["rows_quarantined"] == 0
        assert report["rows_used"] == report["rows_read"]
        if case.row and case.table == "episodes":
            assert _row_ref(case) in used
    assert report["extract_date"] == "2019-03-31"
    assert report["extract_date_inferred"] is (case.extract_date is None)


# --- files that are not defects: they must load as clean.csv does, with no issue at all --------------------

def _episodes_without_ref(result: BuildResult) -> pd.DataFrame:
    return result.episodes.drop(columns=["row_ref"]).sort_values(["person_id", "start"]).reset_index(drop=True)


@pytest.mark.parametrize("name, encoding", [
    ("utf8-bom.csv", "utf-8-sig"),
    ("windows-1252.csv", "cp1252"),
    ("lowercase-codes.csv", "utf-8"),
    ("iso-dates.csv", "utf-8"),
    ("trailing-commas.csv", "utf-8"),  # every data row ends with a comma (some case systems export so)
])
def test_format_variants_load_like_clean(name: str, encoding: str) -> None:
    result = _build((name,))
    assert result.issues.empty, result.issues
    assert result.report["rows_used"] == result.report["rows_read"] == 4
    assert result.report["inputs"][0]["encoding"] == encoding  # type: ignore[index]
    pd.testing.assert_frame_equal(_episodes_without_ref(result), _episodes_without_ref(_build(("clean.csv",))))


def test_windows_1252_text_is_decoded() -> None:
    (table,) = read_tables(DATA / "windows-1252.csv")
    assert table.frame.loc[2, "HOME_POST"] == "Café"


def test_lowercase_padded_codes_are_normalised() -> None:
    episodes = _build(("lowercase-codes.csv",)).episodes.sort_values("start")
    assert list(episodes["code"]) == ["U4", "U5", "A3", "R1"]
    assert list(episodes["exit_code"].fillna("")) == ["X1", "E4A", "E11", ""]


def test_sex_as_letters_matches_sex_as_digits() -> None:
    letters = _build(("clean.csv", "sex-as-letters.header.csv"))
    digits = _build(("clean.csv", "clean.header.csv"))
    assert letters.issues.empty and digits.issues.empty
    assert letters.report["rows_used"] == letters.report["rows_read"] == 7
    pd.testing.assert_frame_equal(_episodes_without_ref(letters), _episodes_without_ref(digits))
    assert sorted(letters.episodes["sex"]) == ["F", "F", "M", "M"]


# --- messages ----------------------------------------------------------------------------------------------

def test_messages_never_show_nan() -> None:
    # journey-gap.csv gives two issues: journey-gap (column DEC) and left-truncated-journey (no column)
    messages = [render_message(r) for r in _build(("journey-gap.csv",)).issues.to_dict("records")]
    assert len(messages) == 2
    assert not [m for m in messages if "nan" in m], messages


def test_message_without_a_file_has_no_dangling_colon() -> None:
    message = render_message(_the_issue(BY_ID["inferred-extract-date"]))
    assert not message.startswith((":", ",", " ")), message


def test_duplicate_in_another_file_names_that_file() -> None:
    result = _build(("clean.csv", "duplicate-episode-other-file.csv"))
    issue = result.issues[result.issues["code"] == "duplicate-episode"].iloc[0].to_dict()
    assert (issue["file"], issue["row"]) == ("duplicate-episode-other-file.csv", 2)
    assert "clean.csv" in render_message(issue)


# --- the CLI -----------------------------------------------------------------------------------------------

@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEYS_KEY_FILE", str(tmp_path / "test.key"))


def _validate(*inputs: str, config: Path = CONFIG, extra: tuple[str, ...] = ("--extract-date", "2019-03-31")) -> int:
    return main(["validate", "--quiet", "--config", str(config), *extra, *[str(DATA / i) for i in inputs]])


@pytest.mark.usefixtures("key_file")
@pytest.mark.parametrize("inputs, code", [
    (("unparseable-date.csv",), 1),
    (("rec-without-dec.csv",), 0),  # warnings only (and the inferred return year)
    (("clean.csv", "missing-header.header.csv"), 0),
])
def test_cli_validate_exit_code(inputs: tuple[str, ...], code: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert _validate(*inputs) == code
    out = capsys.readouterr().out
    assert "Rows read" in out


@pytest.mark.usefixtures("key_file")
@pytest.mark.parametrize("name", ["not-a-table.csv", "empty.csv", "extra-values.csv", "does-not-exist.csv"])
def test_cli_unreadable_input(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _validate(name) == 1
    err = capsys.readouterr().err
    assert name in err and "To fix this" in err, err
    assert "Traceback" not in err and "Something unexpected" not in err, err


@pytest.mark.parametrize("name", ["not-a-table.csv", "empty.csv", "extra-values.csv"])
def test_unreadable_input_raises_input_error(name: str) -> None:
    with pytest.raises(InputError, match=re.escape(name)):
        run_pipeline([DATA / name], _config(), stage_model=_stage_model(), extract_date=EXTRACT, key=KEY)


def test_extra_values_error_names_the_line() -> None:
    with pytest.raises(InputError, match=r"line 3 has 14 values but the header has 13 columns"):
        read_tables(DATA / "extra-values.csv")


def test_broken_quotes_lose_no_row() -> None:
    # either refuse the file, naming the line where the quote opens, or account for all three data lines
    try:
        result = _build(("broken-quotes.csv",))
    except InputError as exc:
        assert "broken-quotes.csv" in str(exc) and re.search(r"\bline 3\b", str(exc)), str(exc)
    else:
        assert result.report["rows_read"] == 3, result.report


@pytest.mark.usefixtures("key_file")
def test_cli_missing_column_alone_names_the_column(capsys: pytest.CaptureFixture[str]) -> None:
    assert _validate("missing-column.csv") == 1
    captured = capsys.readouterr()
    assert "REC" in captured.out + captured.err, captured


@pytest.mark.usefixtures("key_file")
@pytest.mark.parametrize("config", ["broken-yaml.yaml", "unknown-stage.yaml"])
def test_cli_broken_config(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _validate("clean.csv", config=DATA / config) == 1
    err = capsys.readouterr().err
    assert config in err and "To fix this" in err, err
    assert "Traceback" not in err and "Something unexpected" not in err, err


@pytest.mark.parametrize("config, lines, words", [
    ("broken-yaml.yaml", (9, 10), "not valid YAML"),
    pytest.param("unknown-stage.yaml", (9,), "foster_care"),
])
def test_config_error_names_file_and_line(config: str, lines: tuple[int, ...], words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(DATA / config)
    message = str(info.value)
    assert config in message and words in message, message
    assert any(re.search(rf"\bline {n}\b", message) for n in lines), message


@pytest.mark.parametrize("argv", [["validate"], ["validate", "--config", str(CONFIG)]])
def test_cli_usage_error_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err
