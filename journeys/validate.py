"""Row checks on canonical tables, each named by the issue code it reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from journeys import codes
from journeys.issues import PROBLEMS, combine_issues, issue_frame

@dataclass(frozen=True)
class RowRule:
    """One vectorised row check: `test(frame)` is True where the row passes; failures become `code` issues."""

    code: str  # an issue code, with ':part' where one code has several checks (unparseable-date:end)
    test: Callable[[pd.DataFrame], pd.Series]


def episode_rules(ssda903: bool, extract_date: dt.date | None) -> list[RowRule]:
    """The checks on canonical episodes; errors quarantine the row, warnings only report it.

    They run as whole-column masks rather than through pandera's lazy validation, whose failure
    cases are collected per failing cell (seconds for a file with 10^5 warnings).
    """
    rules = [
        RowRule("missing-child-id", lambda df: df["person_id"].notna()),
        RowRule("missing-start-date", lambda df: df["start_text"].notna()),
        RowRule("unparseable-date:start", lambda df: df["start_text"].isna() | df["start"].notna()),
        RowRule("unparseable-date:end", lambda df: df["end_text"].isna() | df["end"].notna()),
        RowRule("end-before-start", lambda df: ~(df["end"] < df["start"]).fillna(False)),
        RowRule("rec-without-dec", lambda df: ~(df["exit_code"].notna() & df["end"].isna() & df["end_text"].isna())),
    ]
    if extract_date is not None:
        limit = pd.Timestamp(extract_date)
        rules += [
            RowRule("start-after-extract-date", lambda df: ~(df["start"] > limit).fillna(False)),
            RowRule("end-after-extract-date", lambda df: ~(df["end"] > limit).fillna(False)),
        ]
    if ssda903:
        rules += [
            RowRule("invalid-code:RNE", lambda df: df["rne"].isna() | df["rne"].isin(codes.RNE)),
            RowRule("invalid-code:LS", lambda df: df["legal_status"].isna() | df["legal_status"].isin(codes.LS)),
            RowRule("code-outside-years", _place_in_year),
        ]
    return rules


def _place_in_year(df: pd.DataFrame) -> pd.Series:
    ok = pd.Series(True, index=df.index)
    known = df["code"].isin(codes.PLACE)
    for year in df["return_year"].unique():  # a handful of collection years, not rows
        in_year = (df["return_year"] == year) & known
        ok[in_year] = df.loc[in_year, "code"].isin(codes.valid_places(int(year)))
    return ok


def failures(frame: pd.DataFrame, rules: list[RowRule]) -> pd.DataFrame:
    """One row per failing (row index, check), in rule order."""
    found = []
    for rule in rules:
        failed = frame.index[~rule.test(frame).to_numpy(dtype=bool)]
        if len(failed):
            found.append(pd.DataFrame({"index": failed.to_numpy(), "check": rule.code}))
    if not found:
        return pd.DataFrame({"index": pd.Series(dtype="int64"), "check": pd.Series(dtype="str")})
    return pd.concat(found, ignore_index=True)


def _issue_for(frame: pd.DataFrame, rows: pd.Index, check: str, extract_date: dt.date | None) -> pd.DataFrame:
    code, _, part = check.partition(":")
    sub = frame.loc[rows]  # columns are named canonically; the pipeline renames them as the source has them
    def when(col: str) -> pd.Series:
        return sub[col].dt.strftime("%d/%m/%Y")

    args: dict[str, object]
    if code == "unparseable-date":
        col = "start" if part == "start" else "end"
        args = {"column_name": col, "value": sub[col + "_text"], "detail": ""}
    elif code == "end-before-start":
        args = {"column_name": "end", "value": when("end"), "detail": " (" + when("start") + ")"}
    elif code in ("start-after-extract-date", "end-after-extract-date"):
        col = "start" if code.startswith("start") else "end"
        args = {"column_name": col, "value": when(col), "detail": f"{extract_date:%d/%m/%Y}"}
    elif code == "rec-without-dec":
        args = {"column_name": "exit_code", "value": sub["exit_code"]}
    elif code == "invalid-code":
        col = {"RNE": "rne", "LS": "legal_status"}[part]
        args = {"column_name": part, "value": sub[col], "detail": part}
    elif code == "code-outside-years":
        args = {"column_name": "code", "value": sub["code"],
                "detail": sub["return_year"].map(lambda y: codes.collection_label(int(y)))}
    else:
        column = {"missing-child-id": "person_id", "missing-start-date": "start"}.get(code, "")
        args = {"column_name": column or None}
    return issue_frame(code, sub["file"], "episodes", sub["row"], **args)  # type: ignore[arg-type]


def check_episodes(frame: pd.DataFrame, extract_date: dt.date | None) -> tuple[pd.DataFrame, pd.Series]:
    """Issues found on canonical episodes, and the first error code of each row to quarantine."""
    ssda903 = bool((frame["source"] == "ssda903").any())
    found = failures(frame, episode_rules(ssda903, extract_date))
    issues = [_issue_for(frame, pd.Index(group["index"].unique()), str(check), extract_date)
              for check, group in found.groupby("check", sort=True)]
    found["code"] = found["check"].str.split(":").str[0]
    severity = {code: PROBLEMS[code].severity for code in found["code"].unique()}
    errors = found[found["code"].map(severity) == "error"]
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
