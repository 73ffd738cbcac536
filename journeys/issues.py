"""Data problems as values: a catalogue of stable kebab-case codes, and the table of Issues found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

Severity = Literal["error", "warning"]

#: Columns of the issues table (one row per problem found).
ISSUE_COLUMNS = ["code", "severity", "file", "table", "row", "column", "value", "detail"]


@dataclass(frozen=True)
class Problem:
    """One kind of problem: `error` quarantines the row, `warning` keeps it but asks for a fix."""

    code: str
    severity: Severity
    title: str
    explain: str  # may use {value} and {detail}
    fix: str


_CATALOGUE = [
    Problem("missing-column", "error", "A required column is missing",
            "the file has no {value} column{detail}, so none of its rows can be used",
            "export the file again with the columns the format needs, or name the column in the config"),
    Problem("missing-child-id", "error", "No child id",
            "the child id is blank, so the row cannot be joined to a child",
            "fill in the child id in the case system and export again"),
    Problem("missing-start-date", "error", "No start date",
            "the start date is blank, so the episode cannot be placed in time",
            "record when the episode started and export again"),
    Problem("unparseable-date", "error", "A date that cannot be read",
            "'{value}' is not a date{detail}",
            "correct the date (dd/mm/yyyy, or yyyy-mm-dd) and export again"),
    Problem("unparseable-birth-date", "warning", "A date of birth that cannot be read",
            "'{value}' is not a date, so the child's age is unknown (the child's journeys still count)",
            "correct the date of birth (dd/mm/yyyy) and export again"),
    Problem("end-before-start", "error", "Episode ends before it starts",
            "the episode ends on {value}, before it starts{detail}",
            "correct the start or end date"),
    Problem("start-after-extract-date", "error", "Episode starts after the extract date",
            "the episode starts on {value}, after the extract date {detail}",
            "check the extract date (--extract-date or source.extract_date in the config) or the start date"),
    Problem("duplicate-episode", "error", "The same episode twice in one return",
            "the child already has an episode starting {value} in this return{detail}; this row is left out",
            "remove the repeated row from the return"),
    Problem("duplicate-header", "error", "The same child twice in one header table",
            "the child already has a header row in this file{detail}; this row is left out",
            "keep one header row per child"),
    Problem("unknown-service-code", "error", "A code no rule maps",
            "no rule of the pathway config maps {detail} '{value}'",
            "add a rule for this code to the pathway config (map it to a stage, absorb or ignore it)"),
    Problem("unknown-exit-code", "error", "An end reason no rule maps",
            "no outcome rule of the pathway config maps the end reason '{value}'",
            "add an outcome rule for this code, or list it under source.continuation_codes"),
    Problem("absorbed-only-journey", "error", "A journey made only of temporary moves",
            "every episode of this journey is absorbed (e.g. temporary moves), so it has no stage",
            "map the code '{value}' to a stage if such journeys should count"),
    Problem("header-without-episodes", "error", "A child in the header with no episodes",
            "the child has a header row but no episode in any episodes file given",
            "check that every year's episodes file was given, or remove the child from the header"),
    # --- CIN census (journeys.cin_reader) ---
    Problem("malformed-xml", "error", "XML that is not well-formed",
            "the file stops being well-formed XML here ({value}){detail}",
            "open the file in a text editor at that line, close or correct the tag there (or export the census "
            "again from the case system) and load it again"),
    Problem("unknown-element", "warning", "An element the CIN census schema does not have",
            "<{value}> is not an element of the CIN census schema{detail}; it is left out and the rest is read",
            "check the element's spelling and capitals against the DfE CIN census specification, or leave it "
            "out of the export"),
    Problem("missing-referral-date", "error", "CINdetails without a referral date",
            "the CINdetails block has no CINreferralDate{detail}, so it cannot be placed in time; the block is "
            "left out",
            "record the referral date in the case system and export the census again"),
    Problem("missing-stage-start", "error", "A stage without its start date",
            "the {value} block has no start date{detail}, so it cannot be placed in time; its CINdetails block "
            "is left out",
            "record when the assessment, plan or enquiry started and export the census again"),
    Problem("impossible-date", "error", "Dates in an impossible order",
            "the date {value} is impossible: {detail}; the CINdetails block is left out",
            "correct the dates in the case system (or the census reference date) and export the census again"),
    Problem("date-outside-referral", "warning", "A stage outside its referral",
            "the stage starts on {value}, {detail}; it is kept as recorded",
            "check the stage's start date, the referral date and the closure date"),
    Problem("date-after-reference-date", "warning", "A date after the census date",
            "the date {value} is after the census reference date {detail}",
            "check the date, or the census reference date in the file's header"),
    Problem("invalid-flag", "warning", "A yes/no element that is not true/false or 1/0",
            "'{value}' is not true/false or 1/0{detail}; it is taken as false",
            "record the element as true or false (1 or 0) and export the census again"),
    Problem("unparseable-death-date", "warning", "A date of death that cannot be read",
            "'{value}' is not a date{detail}, so the date of death is unknown (the child's journeys still count)",
            "correct the date of death (yyyy-mm-dd) and export again"),
    Problem("missing-cin-details", "error", "A child without CINdetails",
            "the Child element has no CINdetails block{detail}, so there is nothing to build from it",
            "add the child's referral details, or leave the child out of the census"),
    Problem("duplicate-child", "error", "The same child twice in one census",
            "the child already has a Child element in this census{detail}; this element's identifiers and "
            "characteristics are left out (its CINdetails blocks are still read)",
            "keep one Child element per LAchildID, with all of the child's CINdetails blocks inside it"),
    Problem("duplicate-cin-details", "error", "The same referral twice in one census",
            "the child already has a CINdetails block with the referral date {value} in this census{detail}; "
            "this block is left out",
            "keep one CINdetails block per referral"),
    Problem("overlapping-episode", "warning", "Episodes that overlap",
            "the episode runs until {value} but the child's next episode starts {detail}; "
            "it is taken to end when the next one starts",
            "correct the end date so episodes do not overlap"),
    Problem("rec-without-dec", "warning", "End reason on an open episode",
            "the episode has the end reason '{value}' but no end date; it is taken as still open",
            "add the end date, or clear the end reason"),
    Problem("missing-end-reason", "warning", "Episode ended without a reason",
            "the episode ends on {value} with no end reason{detail}",
            "record why the episode ended"),
    Problem("journey-gap", "warning", "A gap inside a journey",
            "the episode ends {value} and the next starts {detail} later without an end reason; "
            "the journey is ended with unknown_exit",
            "add the missing episode, or record the end reason"),
    Problem("left-truncated-journey", "warning", "Journey already under way when the data begins",
            "the journey's first episode does not show the child starting to be looked after ({detail}), so earlier "
            "episodes are missing; the journey starts from 'before_data'",
            "include earlier returns if you have them; nothing to fix otherwise"),
    Problem("end-after-extract-date", "warning", "Episode ends after the extract date",
            "the episode ends on {value}, after the extract date {detail}; it is treated as open",
            "check the extract date or the end date"),
    Problem("code-outside-years", "warning", "A code used outside the years it is valid",
            "'{value}' is not valid in the {detail} collection",
            "use the code list of that collection year"),
    Problem("invalid-code", "warning", "A value not in the code list",
            "'{value}' is not a valid {detail} code",
            "use a code from the DfE code list"),
    Problem("missing-header", "warning", "Child with episodes but no header row",
            "the child has episodes but no header row, so sex, birth date and ethnicity are unknown",
            "include the header table of the same returns"),
    Problem("inferred-return-year", "warning", "Collection year inferred",
            "the file names no collection year; it is taken as the return for the year to 31 March {value}",
            "give --year or source.return_year if this is wrong"),
    Problem("inferred-extract-date", "warning", "Extract date inferred",
            "no extract date was given; journeys still open are censored at {value}",
            "give --extract-date or source.extract_date if this is wrong"),
]
PROBLEMS: dict[str, Problem] = {p.code: p for p in _CATALOGUE}


def issue_frame(code: str, file: object, table: object, row: object = None, column_name: str | None = None,
                value: object = None, detail: object = None) -> pd.DataFrame:
    """Issues of one code as a table; arguments may be scalars or aligned Series/arrays."""
    if code not in PROBLEMS:
        raise KeyError(f"unknown problem code {code!r}")
    data: dict[str, Any] = {"row": row, "file": file, "table": table, "value": value, "detail": detail}
    sized = [v for v in data.values() if hasattr(v, "__len__") and not isinstance(v, str)]
    n = len(sized[0]) if sized else 1

    def column(v: Any) -> np.ndarray:
        if hasattr(v, "__len__") and not isinstance(v, str):
            return v.to_numpy(dtype=object) if hasattr(v, "to_numpy") else np.asarray(v, dtype=object)
        return np.full(n, v, dtype=object)

    frame = pd.DataFrame({k: column(v) for k, v in data.items()})
    frame["code"] = code
    frame["severity"] = PROBLEMS[code].severity
    frame["column"] = np.full(n, column_name, dtype=object)
    frame["row"] = pd.array(frame["row"].to_numpy(), dtype="Int64")
    return frame[ISSUE_COLUMNS]


def empty_issues() -> pd.DataFrame:
    """An issues table with no rows."""
    return issue_frame("missing-column", [], [], [], None, [], [])


def combine_issues(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack issue tables in a stable order: by file, row, then code."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_issues()
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["file", "row", "code"], kind="stable", na_position="first").reset_index(drop=True)


def render_message(issue: dict[str, object]) -> str:
    """One issue as a sentence: where, what, and how to fix it."""
    problem = PROBLEMS[str(issue["code"])]
    def given(v: object) -> bool:
        return v is not None and not (isinstance(v, float) and pd.isna(v)) and v is not pd.NA and v != ""

    where = str(issue["file"]) if given(issue.get("file")) else ""
    if given(issue.get("row")):
        where += f" row {issue['row']}"
    if given(issue.get("column")):
        where += f", column {issue['column']}"
    def text(v: object) -> str:
        return "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)

    what = problem.explain.format(value=text(issue.get("value")), detail=text(issue.get("detail")))
    fix = problem.fix.format(value=text(issue.get("value")))
    what = what[0].upper() + what[1:] if not where else what
    return f"{where}: {what}. To fix this: {fix}." if where else f"{what}. To fix this: {fix}."


def summarise_issues(issues: pd.DataFrame, examples: int = 20) -> list[dict[str, object]]:
    """Per code: severity, title, how many, and the first few messages (for report.json and the CLI)."""
    out: list[dict[str, object]] = []
    for code, group in issues.groupby("code", sort=True):
        problem = PROBLEMS[str(code)]
        out.append({
            "code": code, "severity": problem.severity, "title": problem.title, "count": int(len(group)),
            "examples": [render_message(r) for r in group.head(examples).to_dict("records")],
        })
    out.sort(key=lambda d: (d["severity"] != "error", -int(str(d["count"]))))
    return out
