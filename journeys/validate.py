"""Row checks on canonical tables: pandera schemas declare them, each check named by its issue code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import pandera.pandas as pa

from journeys import codes
from journeys.issues import PROBLEMS, combine_issues, issue_frame

#: Display names of canonical columns in SSDA903 terms, for messages an analyst recognises.
SSDA903_NAMES = {"person_id": "CHILD", "start": "DECOM", "end": "DEC", "code": "PLACE", "exit_code": "REC",
                 "rne": "RNE", "legal_status": "LS", "birth_date": "DOB", "sex": "SEX"}


def _check(test: Callable[[Any], Any], code: str) -> pa.Check:
    """A vectorised check named by the issue code it reports (nulls are checked too)."""
    return pa.Check(test, name=code, ignore_na=False)


def episode_schema(ssda903: bool, extract_date: dt.date | None) -> pa.DataFrameSchema:
    """The checks on canonical episodes; errors quarantine the row, warnings only report it."""
    columns: dict[str, list[pa.Check]] = {
        "person_id": [_check(lambda s: s.notna(), "missing-child-id")],
        "start_text": [_check(lambda s: s.notna(), "missing-start-date")],
    }
    frame_checks = [
        _check(lambda df: df["start_text"].isna() | df["start"].notna(), "unparseable-date:start"),
        _check(lambda df: df["end_text"].isna() | df["end"].notna(), "unparseable-date:end"),
        _check(lambda df: ~(df["end"] < df["start"]).fillna(False), "end-before-start"),
        _check(lambda df: ~(df["exit_code"].notna() & df["end"].isna() & df["end_text"].isna()), "rec-without-dec"),
    ]
    if extract_date is not None:
        limit = pd.Timestamp(extract_date)
        frame_checks += [
            _check(lambda df: ~(df["start"] > limit).fillna(False), "start-after-extract-date"),
            _check(lambda df: ~(df["end"] > limit).fillna(False), "end-after-extract-date"),
        ]
    if ssda903:
        columns["rne"] = [_check(lambda s: s.isna() | s.isin(codes.RNE), "invalid-code:RNE")]
        columns["legal_status"] = [_check(lambda s: s.isna() | s.isin(codes.LS), "invalid-code:LS")]
        frame_checks.append(_check(_place_in_year, "code-outside-years"))
    return pa.DataFrameSchema({c: pa.Column(nullable=True, checks=ch, required=False)
                               for c, ch in columns.items()}, checks=frame_checks)


def _place_in_year(df: pd.DataFrame) -> pd.Series:
    ok = pd.Series(True, index=df.index)
    known = df["code"].isin(codes.PLACE)
    for year in df["return_year"].unique():
        in_year = (df["return_year"] == year) & known
        ok[in_year] = df.loc[in_year, "code"].isin(codes.valid_places(int(year)))
    return ok


def failures(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Run a schema lazily; one row per failing (row index, check name)."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["index"].notna()]
        return pd.DataFrame({"index": cases["index"].astype("int64").to_numpy(),
                             "check": cases["check"].astype("str").to_numpy()})
    return pd.DataFrame({"index": pd.Series(dtype="int64"), "check": pd.Series(dtype="str")})


def _issue_for(frame: pd.DataFrame, rows: pd.Index, check: str, extract_date: dt.date | None) -> pd.DataFrame:
    code, _, part = check.partition(":")
    sub = frame.loc[rows]
    names = SSDA903_NAMES if (sub["source"] == "ssda903").all() else {}

    def name(col: str) -> str:
        return names.get(col, col)

    def when(col: str) -> pd.Series:
        return sub[col].dt.strftime("%d/%m/%Y")

    args: dict[str, object]
    if code == "unparseable-date":
        col = "start" if part == "start" else "end"
        args = {"column_name": name(col), "value": sub[col + "_text"], "detail": ""}
    elif code == "end-before-start":
        args = {"column_name": name("end"), "value": when("end"), "detail": " (" + when("start") + ")"}
    elif code in ("start-after-extract-date", "end-after-extract-date"):
        col = "start" if code.startswith("start") else "end"
        args = {"column_name": name(col), "value": when(col), "detail": f"{extract_date:%d/%m/%Y}"}
    elif code == "rec-without-dec":
        args = {"column_name": name("exit_code"), "value": sub["exit_code"]}
    elif code == "invalid-code":
        col = {"RNE": "rne", "LS": "legal_status"}[part]
        args = {"column_name": part, "value": sub[col], "detail": part}
    elif code == "code-outside-years":
        args = {"column_name": name("code"), "value": sub["code"],
                "detail": sub["return_year"].map(lambda y: codes.collection_label(int(y)))}
    else:
        column = {"missing-child-id": "person_id", "missing-start-date": "start"}.get(code, "")
        args = {"column_name": name(column) if column else None}
    return issue_frame(code, sub["file"], "episodes", sub["row"], **args)  # type: ignore[arg-type]


def check_episodes(frame: pd.DataFrame, extract_date: dt.date | None) -> tuple[pd.DataFrame, pd.Series]:
    """Issues found on canonical episodes, and the first error code of each row to quarantine."""
    ssda903 = bool((frame["source"] == "ssda903").any())
    found = failures(frame, episode_schema(ssda903, extract_date))
    issues = []
    for check, group in found.groupby("check", sort=True):
        issues.append(_issue_for(frame, pd.Index(group["index"].unique()), str(check), extract_date))
    found["code"] = found["check"].str.split(":").str[0]
    errors = found[found["code"].map(lambda c: PROBLEMS[c].severity == "error").astype(bool)]
    first_error = errors.drop_duplicates("index").set_index("index")["code"]
    return combine_issues(issues), first_error


def check_header(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index]:
    """Issues on canonical header rows: no child id is an error; bad DOB or SEX codes are warnings."""
    issues = []
    missing = frame.index[frame["person_id"].isna()]
    issues.append(issue_frame("missing-child-id", frame.loc[missing, "file"], "header",
                              frame.loc[missing, "row"], "CHILD"))
    if "birth_date_text" in frame:
        bad = frame["birth_date_text"].notna() & frame["birth_date"].isna()
        issues.append(issue_frame("unparseable-birth-date", frame.loc[bad, "file"], "header",
                                  frame.loc[bad, "row"], "DOB", frame.loc[bad, "birth_date_text"]))
    if "sex" in frame:
        bad = frame["sex"].notna() & ~frame["sex"].isin(list(codes.SEX))
        issues.append(issue_frame("invalid-code", frame.loc[bad, "file"], "header", frame.loc[bad, "row"],
                                  "SEX", frame.loc[bad, "sex"], "SEX"))
    return combine_issues(issues), missing
