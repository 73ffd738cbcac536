"""Read a CIN census XML return (any DfE schema year from 2021) into tidy tables, its problems as issues."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from lxml import etree

from journeys.errors import InputError
from journeys.issues import PROBLEMS, Problem

#: The problem codes this reader raises (their wording lives in journeys.issues with all the others).
CIN_CODES = ("malformed-xml", "unknown-element", "missing-referral-date", "missing-stage-start", "impossible-date",
             "date-outside-referral", "date-after-reference-date", "invalid-flag", "unparseable-death-date",
             "missing-cin-details", "duplicate-child", "duplicate-cin-details")
CIN_PROBLEMS: list[Problem] = [PROBLEMS[code] for code in CIN_CODES]
CHILDREN, DETAILS = "cin_children", "cin_details"  # the two accounted tables of each file

# The DfE schema: element -> field; None = known but not kept; (field, item) = a list of <item>; dict = nested.
_Spec = dict[str, Any]
_IDENTIFIERS: _Spec = {"LAchildID": "la_child_id", "UPN": "upn", "FormerUPN": None, "UPNunknown": None,
                       "PersonBirthDate": "birth_date", "ExpectedPersonBirthDate": None, "Sex": "sex",
                       "GenderCurrent": "gender", "PersonDeathDate": "death_date"}
_CHARACTERISTICS: _Spec = {"Ethnicity": "ethnicity", "Disabilities": ("disabilities", "Disability")}
_DETAILS: _Spec = {"CINreferralDate": "referral_date", "ReferralSource": "referral_source",
                   "PrimaryNeedCode": "primary_need", "CINclosureDate": "closure_date",
                   "ReasonForClosure": "closure_reason", "DateOfInitialCPC": "initial_cpc_date",
                   "ReferralNFA": "referral_nfa"}
_STAGES: dict[str, tuple[str, _Spec]] = {
    "Assessments": ("assessments", {"AssessmentActualStartDate": "start", "AssessmentInternalReviewDate": None,
                                    "AssessmentAuthorisationDate": "authorised",
                                    "FactorsIdentifiedAtAssessment": ("factors", "AssessmentFactors")}),
    "CINPlanDates": ("cin_plans", {"CINPlanStartDate": "start", "CINPlanEndDate": "end"}),
    "Section47": ("section47", {"S47ActualStartDate": "start", "InitialCPCtarget": None,
                                "DateOfInitialCPC": "initial_cpc_date", "ICPCnotRequired": "icpc_not_required"}),
    "ChildProtectionPlans": ("cp_plans", {"CPPstartDate": "start", "CPPendDate": "end",
                                          "InitialCategoryOfAbuse": "initial_category",
                                          "LatestCategoryOfAbuse": "latest_category",
                                          "NumberOfPreviousCPP": "previous_plans",
                                          "Reviews": (None, "CPPreviewDate")}),
}
_HEADER: _Spec = {"CollectionDetails": {"Collection": "collection", "Year": "year", "ReferenceDate": "reference_date"},
                  "Source": dict.fromkeys(["SourceLevel", "LEA", "SoftwareCode", "Release", "SerialNo", "DateTime"])}
#: Columns of each table, in order.
COLUMNS = {
    "children": ["child_no", "line", "la_child_id", "upn", "sex", "birth_date", "death_date", "ethnicity",
                 "disabilities", "quarantined"],
    "details": ["child_no", "detail_no", "line", "la_child_id", "referral_date", "referral_source", "primary_need",
                "closure_date", "closure_reason", "referral_nfa", "initial_cpc_date", "quarantined"],
    "assessments": ["child_no", "detail_no", "line", "start", "authorised", "factors"],
    "cin_plans": ["child_no", "detail_no", "line", "start", "end"],
    "section47": ["child_no", "detail_no", "line", "start", "initial_cpc_date", "icpc_not_required"],
    "cp_plans": ["child_no", "detail_no", "line", "start", "end", "initial_category", "latest_category",
                 "previous_plans"],
}


def _elements(spec: _Spec) -> dict[str, str]:
    """field -> the element it is read from (the item element for lists)."""
    return {field if isinstance(field, str) else field[0]: element if isinstance(field, str) else field[1]
            for element, field in spec.items() if isinstance(field, str) or (isinstance(field, tuple) and field[0])}


#: table -> field -> the element it is read from (for messages).
ELEMENT: dict[str, dict[str, str]] = {"children": _elements({**_IDENTIFIERS, **_CHARACTERISTICS}),
                                      "details": _elements(_DETAILS),
                                      **{name: _elements(spec) for name, spec in _STAGES.values()}}
#: stage table -> the element of its block.
BLOCK_ELEMENT = {name: element for element, (name, _) in _STAGES.items()}
#: Raw row layout of each table while walking: keys, fields as text, then each field's line (`field@`).
LAYOUT = {name: [k for k in ("child_no", "detail_no", "line") if k in cols] + (["blocks"] if name == "children" else [])
          + list(ELEMENT[name]) + [f + "@" for f in ELEMENT[name]] for name, cols in COLUMNS.items()}
LAYOUT["header"] = ["collection", "year", "reference_date", "collection@", "year@", "reference_date@"]


def _compile(spec: _Spec, table: str) -> _Spec:
    """Spec -> tag: None (ignore) | nested spec | (value position, line position, list item tag or None)."""
    at = {col: i for i, col in enumerate(LAYOUT[table])}
    out: _Spec = {}
    for tag, field in spec.items():
        if isinstance(field, dict):
            out[tag] = _compile(field, table)
        elif isinstance(field, str):
            out[tag] = (at[field], at[field + "@"], None)
        elif isinstance(field, tuple):
            out[tag] = (at.get(str(field[0])), at.get(f"{field[0]}@"), field[1])
        else:
            out[tag] = None
    return out


#: The compiled specs the walk runs on; a stage block's element -> (its table, its spec).
_RUN: dict[str, Any] = {
    "identifiers": _compile(_IDENTIFIERS, "children"), "characteristics": _compile(_CHARACTERISTICS, "children"),
    "details": _compile(_DETAILS, "details"), "header": _compile(_HEADER, "header"),
    **{element: (name, _compile(spec, name)) for element, (name, spec) in _STAGES.items()}}


@dataclass
class CinCensus:
    """One CIN census file as tables: a row per Child, per CINdetails block and per stage block.

    `quarantined` (children, details) is the error code that stops the row being used, else <NA>.
    """

    file: str
    collection_year: int | None
    reference_date: dt.date | None
    children: pd.DataFrame
    details: pd.DataFrame
    assessments: pd.DataFrame
    cin_plans: pd.DataFrame
    section47: pd.DataFrame
    cp_plans: pd.DataFrame
    issues: pd.DataFrame


_CHUNK = 20_000  # children per table chunk while walking
_ID = LAYOUT["children"].index("la_child_id")
_NAMES: dict[str, str] = {}  # tag (maybe namespaced) -> local name: a handful of distinct tags per file


def local_name(tag: str) -> str:
    """The tag without its namespace (cached).

    >>> local_name("{http://www.example.org/cin}Child"), local_name("Child")
    ('Child', 'Child')
    """
    name = _NAMES.get(tag)
    if name is None:
        name = _NAMES[tag] = tag.rpartition("}")[2]
    return name


def text_of(el: Any) -> str | None:
    """The element's text, trimmed; None when blank."""
    return (el.text or "").strip() or None


class _Walker:
    """The one loop over elements: rows as lists laid out by LAYOUT, and unknown elements for the issues."""

    def __init__(self) -> None:
        self.rows: dict[str, list[list[Any]]] = {name: [] for name in COLUMNS}
        self.chunks: dict[str, list[pd.DataFrame]] = {name: [] for name in COLUMNS}
        self.unknown: list[tuple[str | None, int, str, str]] = []  # table, line, element, where
        self.children = 0

    def flush(self) -> None:
        """Rows so far into tables: lists of Python objects cost far more memory than columns."""
        for name, rows in self.rows.items():
            self.chunks[name].append(_frame(name, rows))
            rows.clear()

    def fill(self, el: Any, spec: _Spec, row: list[Any], table: str | None, notes: list[tuple]) -> None:
        """Read el's children into row by a compiled spec (the hot loop: names and text inlined)."""
        names = _NAMES
        for sub in el:
            tag = names.get(sub.tag) or local_name(sub.tag)
            entry = spec.get(tag, False)
            if entry is None:
                continue
            if entry is False:
                notes.append((table, sub.sourceline, tag, local_name(el.tag)))
            elif type(entry) is dict:
                self.fill(sub, entry, row, table, notes)
            elif entry[2] is None:
                row[entry[0]], row[entry[1]] = (sub.text or "").strip() or None, sub.sourceline
            else:
                values = []
                for item in sub:
                    if local_name(item.tag) == entry[2]:
                        values.append((item.text or "").strip())
                    else:
                        notes.append((table, item.sourceline, local_name(item.tag), tag))
                if entry[0] is not None:
                    row[entry[0]], row[entry[1]] = ",".join(v for v in values if v) or None, sub.sourceline

    def child(self, el: Any) -> int:
        self.children += 1
        row: list[Any] = [None] * len(LAYOUT["children"])
        row[0], row[1], row[2] = self.children, el.sourceline, 0  # child_no, line, blocks
        notes: list[tuple] = []
        for sub in el:
            tag = local_name(sub.tag)
            if tag == "CINdetails":
                row[2] += 1
                self.details(sub, self.children, row[2], notes)
            elif tag == "ChildIdentifiers":
                self.fill(sub, _RUN["identifiers"], row, CHILDREN, notes)
            elif tag == "ChildCharacteristics":
                self.fill(sub, _RUN["characteristics"], row, CHILDREN, notes)
            else:
                notes.append((CHILDREN, sub.sourceline, tag, "Child"))
        self.rows["children"].append(row)
        if notes:
            who = f"the child at line {row[1]}"  # never the LA's id: issues are stored (DESIGN 7)
            self.unknown += [(t, line, tag, f" (inside {parent}, {who})") for t, line, tag, parent in notes]
        return self.children

    def details(self, el: Any, child_no: int, detail_no: int, notes: list[tuple]) -> None:
        row: list[Any] = [None] * len(LAYOUT["details"])
        row[0], row[1], row[2] = child_no, detail_no, el.sourceline
        rows, names, spec = self.rows, _NAMES, _RUN["details"]
        for sub in el:
            tag = names.get(sub.tag) or local_name(sub.tag)
            entry = spec.get(tag)
            if entry is not None:
                row[entry[0]], row[entry[1]] = (sub.text or "").strip() or None, sub.sourceline
            elif tag in _STAGES:
                table, stage_spec = _RUN[tag]
                stage: list[Any] = [None] * len(LAYOUT[table])
                stage[0], stage[1], stage[2] = child_no, detail_no, sub.sourceline
                self.fill(sub, stage_spec, stage, DETAILS, notes)
                rows[table].append(stage)
            else:
                notes.append((DETAILS, sub.sourceline, tag, "CINdetails"))
        rows["details"].append(row)


@dataclass
class RawCensus:
    """What the XML walk found: text tables (field@ = the line of its element), header fields, problems."""

    file: str
    frames: dict[str, pd.DataFrame]
    header: dict[str, Any]
    unknown: list[tuple[str | None, int, str, str]]  # table, line, element, where
    broken: Any = None  # the XMLSyntaxError of a file that breaks off after some complete children
    partial: int | None = None  # child_no of the child being read where it broke


def parse_cin_xml(path: Path) -> RawCensus:
    """Walk the XML once (streaming, namespaces ignored); refuse a file that is not XML or not a CIN census.

    A file that breaks off (not well-formed) after some complete <Child> elements keeps them; the
    child being read where it breaks is kept too, to be quarantined.
    """
    path = Path(path)
    walker, broken, current, root = _Walker(), None, None, None
    parsing = etree.iterparse(str(path), events=("start", "end"), tag="{*}Child", huge_tree=False,
                              resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True)
    try:
        for event, el in parsing:
            parent = el.getparent()
            if parent is None or local_name(parent.tag) != "Children":
                continue  # a Child out of place is reported as an unknown element below
            if event == "start":
                current = el
                continue
            root = el.getroottree().getroot()
            if walker.child(el) % _CHUNK == 0:
                walker.flush()
            el.clear(keep_tail=True)  # memory stays flat on large files
            current = None
        root = parsing.root
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 1
        if root is None:  # not one complete child: nothing to keep
            raise InputError(f"the file is not well-formed XML, so nothing can be read: {exc.msg}",
                             where=f"{path.name} line {line}",
                             fix=f"open the file in a text editor at line {line} and correct the XML there (often "
                                 "a tag left open, a misspelt closing tag, or a bare '<' or '&' in a value), or "
                                 "export the census again from the case system.") from None
        broken = exc
    except OSError as exc:
        raise InputError(f"the file cannot be read ({exc})", where=path.name,
                         fix="check the path, and that the file is not open in another program.") from None
    header = _walk_outline(root, walker, path.name)
    partial = walker.child(current) if broken is not None and current is not None else None
    walker.flush()
    frames = {name: pd.concat(chunks, ignore_index=True) for name, chunks in walker.chunks.items()}
    return RawCensus(path.name, frames, header, walker.unknown, broken, partial)


def _walk_outline(root: Any, walker: _Walker, file: str) -> dict[str, Any]:
    """The header fields, and unknown elements outside the children; refuses XML that is not a CIN census."""
    if local_name(root.tag) != "Message":
        raise InputError(f"this is not a CIN census: the XML's root element is <{local_name(root.tag)}>, not <Message>",
                         where=file, fix="give the CIN census XML file exported for the DfE.")
    fields: list[Any] = [None] * len(LAYOUT["header"])
    notes: list[tuple] = []
    for sub in root:
        tag = local_name(sub.tag)
        if tag == "Header":
            walker.fill(sub, _RUN["header"], fields, None, notes)
        elif tag == "Children":
            notes += [(None, c.sourceline, local_name(c.tag), "Children") for c in sub if local_name(c.tag) != "Child"]
        else:
            notes.append((None, sub.sourceline, tag, "Message"))
    walker.unknown += [(None, line, tag, f" (inside {parent})") for _, line, tag, parent in notes]
    header = dict(zip(LAYOUT["header"], fields))
    if (header.get("collection") or "CIN").upper() != "CIN":
        raise InputError(f"this is not a CIN census: its Collection is '{header['collection']}'", where=file,
                         fix="give the CIN census XML file; other returns are read by their own loaders.")
    return header


def _frame(name: str, rows: list[list[Any]]) -> pd.DataFrame:
    """Rows as a table: keys as int64, fields as str, each field's line (`field@`) as float (NaN: absent)."""
    layout = LAYOUT[name]
    table = np.array(rows, dtype=object) if rows else np.empty((0, len(layout)), dtype=object)
    return pd.DataFrame({col: np.array(table[:, i].tolist(), dtype=float) if col.endswith("@")
                         else pd.array(table[:, i], dtype="str") if col in ELEMENT[name]
                         else table[:, i].astype(np.int64) for i, col in enumerate(layout)})
