"""CIN census returns: read and check them (here), turn them into stage episodes and stack years (cin_episodes).

The parser is `journeys.cin_reader` (one streaming walk over the XML); this module types and checks
what it found, so that every <Child> and every <CINdetails> block is either usable or carries the
error code that quarantines it, and every problem is an issue naming the line, element and child.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from lxml import etree

from journeys.cin_episodes import CinStack, account_cin, cin_episodes, register_cin, stack_cin
from journeys.cin_reader import (BLOCK_ELEMENT, CHILDREN, CIN_PROBLEMS, COLUMNS, DETAILS, ELEMENT, CinCensus,
                                 RawCensus, local_name, parse_cin_xml, text_of)
from journeys.issues import combine_issues, issue_frame
from journeys.sources import parse_dates

__all__ = ["CIN_PROBLEMS", "CinCensus", "CinStack", "account_cin", "cin_episodes", "is_cin_census",
           "read_cin_census", "register_cin", "stack_cin"]

STAGE_DATES = {"assessments": ("start", "authorised"), "cin_plans": ("start", "end"),
               "section47": ("start", "initial_cpc_date"), "cp_plans": ("start", "end")}
_GENDER = {"1": "M", "2": "F", "0": "U", "9": "U"}  # GenderCurrent, before <Sex> M/F/U
_FLAGS = {"TRUE": True, "1": True, "FALSE": False, "0": False}
_CODES = {k: v.split() for k, v in {  # DfE code lists (reference/codelists_cin_census.yaml), 2021 on
    "ethnicity": "WBRI WIRI WIRT WOTH WROM MWBC MWBA MWAS MOTH AIND APKN ABAN AOTH BCRB BAFR BOTH CHNE OOTH REFU NOBT",
    "disabilities": "NONE MOB HAND PC INC COMM LD HEAR VIS BEH CON AUT DDA",
    "referral_source": "1A 1B 1C 1D 2A 2B 3A 3B 3C 3D 3E 3F 4 5A 5B 5C 5D 6 7 8 9 10",
    "primary_need": "N0 N1 N2 N3 N4 N5 N6 N7 N8 N9", "closure_reason": "RC1 RC2 RC3 RC4 RC5 RC6 RC7 RC8 RC9",
    "initial_category": "NEG PHY SAB EMO MUL", "latest_category": "NEG PHY SAB EMO MUL"}.items()}
#: Error codes that quarantine a CINdetails block, first match wins.
_BLOCK_ERRORS = ["missing-child-id", "malformed-xml", "missing-referral-date", "unparseable-date",
                 "missing-stage-start", "impossible-date"]
_ISO_OR_UK = r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{4}"


def read_cin_census(path: Path) -> CinCensus:
    """Read one CIN census XML file (any schema year from 2021) into checked tables.

    Raises InputError for a file that is not well-formed XML before its first complete child, or
    that is not a CIN census; everything else is an issue in `CinCensus.issues`.
    """
    return _Checks(parse_cin_xml(Path(path))).census()


def is_cin_census(path: Path) -> bool:
    """An XML file rooted in <Message> whose <Collection> is CIN, or whose children have CINdetails.

    Sniffs the first few hundred elements only, so it is cheap on any file, XML or not.
    """
    try:
        with open(path, "rb") as handle:
            for n, (event, el) in enumerate(etree.iterparse(handle, events=("start", "end"), huge_tree=False,
                                                            resolve_entities=False, no_network=True)):
                tag = local_name(el.tag) if isinstance(el.tag, str) else ""
                if (n == 0 and tag != "Message") or n > 500:
                    return False
                if event == "end" and tag == "Collection":
                    return (text_of(el) or "").upper() == "CIN"
                if event == "start" and tag == "CINdetails":
                    return True
    except (etree.XMLSyntaxError, OSError, ValueError):
        return False
    return False


def _dates(text: pd.Series) -> pd.Series:
    """ISO yyyy-mm-dd (the schema's xs:date) or dd/mm/yyyy; anything else is NaT."""
    text = text.astype("str")
    return parse_dates(text.where(text.str.fullmatch(_ISO_OR_UK).fillna(False).astype(bool)), "%d/%m/%Y")


Detail = Callable[[pd.DataFrame], object] | str | None


class _Checks:
    """Types the raw text tables and collects issues; an error gives the row its `quarantined` code."""

    def __init__(self, raw: RawCensus) -> None:
        self.raw, self.file, self.f = raw, raw.file, raw.frames
        self.issues: list[pd.DataFrame] = []
        self.errors: dict[str, list[np.ndarray]] = {code: [] for code in _BLOCK_ERRORS}
        keys = self.f["details"][["child_no", "detail_no"]]
        self.block = pd.Series(np.arange(len(keys)), index=pd.MultiIndex.from_frame(keys))
        self.names = pd.Series(dtype="str")

    def census(self) -> CinCensus:
        raw = self.raw
        unknown = list(zip(*raw.unknown)) or [(), (), (), ()]
        found = issue_frame("unknown-element", self.file, list(unknown[0]), list(unknown[1]), None,
                                list(unknown[2]), list(unknown[3]))
        found["column"] = found["value"]
        self.issues.append(found)
        if raw.broken is not None:
            read = len(self.f["children"]) - (raw.partial is not None)
            self.issues.append(issue_frame(
                "malformed-xml", self.file, None, int(raw.broken.lineno or 0), None, raw.broken.msg,
                f"; the {read} complete Child element{'s' if read != 1 else ''} before it "
                f"{'were' if read != 1 else 'was'} read, the child being read there is left out and nothing "
                "after it could be read"))
        year, when = self.header()
        tables = {"children": self.children()}
        tables["details"] = self.details(when)
        tables.update({name: self.stage(name, tables["details"], when) for name in STAGE_DATES})
        quarantined = np.full(len(tables["details"]), None, dtype=object)
        for code in _BLOCK_ERRORS:  # in order: the first error of a block names its quarantine
            for positions in self.errors[code]:
                positions = positions[pd.isna(quarantined[positions])]
                quarantined[positions] = code
        tables["details"]["quarantined"] = pd.array(quarantined, dtype="str")
        tables = {name: frame[COLUMNS[name]].reset_index(drop=True) for name, frame in tables.items()}
        issues = combine_issues(self.issues)
        if raw.partial is not None:  # the half-read child is quarantined whole: no issues on its pieces
            start = int(self.f["children"]["line"].iloc[raw.partial - 1])
            issues = issues[~(issues["row"] >= start).fillna(False) | issues["code"].eq("malformed-xml")]
        return CinCensus(self.file, year, when, issues=issues.reset_index(drop=True), **tables)

    def issue(self, code: str, frame: pd.DataFrame, mask: object, field: str | None, element: str | None,
              value: Detail = None, detail: Detail = None) -> pd.DataFrame:
        """Issues on the rows of `frame` where `mask`, at the line of the field's element (else the row's).

        `value` and `detail` are constants or functions of the flagged rows (only built when some are);
        the flagged rows are returned.
        """
        flagged = np.asarray(pd.Series(mask).fillna(False), dtype=bool) if not isinstance(mask, np.ndarray) else mask
        if not flagged.any():
            return frame.iloc[:0]
        sub = frame[flagged]
        row = sub[field + "@"].fillna(sub["line"]) if field else sub["line"]
        values, details = (v(sub) if callable(v) else v for v in (value, detail))
        table = CHILDREN if "detail_no" not in frame else DETAILS
        self.issues.append(issue_frame(code, self.file, table, row, element, values, details))
        return sub

    def who(self, sub: pd.DataFrame) -> pd.Series:
        """'the child at line 12' for each row: where its <Child> element starts. The LA's own id is never
        written into an issue: issues are stored with the build, and a stored child id breaks DESIGN 7."""
        return pd.Series(self.names.reindex(sub["child_no"]).to_numpy(), index=sub.index, dtype="str")

    def block_error(self, sub: pd.DataFrame, code: str) -> None:
        """The CINdetails blocks that rows of `sub` (a detail or stage table) belong to get this error."""
        if len(sub):
            keys = pd.MultiIndex.from_frame(sub[["child_no", "detail_no"]])
            self.errors[code].append(self.block.reindex(keys).to_numpy())

    def header(self) -> tuple[int | None, dt.date | None]:
        """<Year> and <ReferenceDate>; a missing year is inferred (and reported) from the dates."""
        year = pd.to_numeric(pd.Series([self.raw.header.get("year")], dtype="str"), errors="coerce").iloc[0]
        stamp = _dates(pd.Series([self.raw.header.get("reference_date")], dtype="str")).iloc[0]
        when = None if pd.isna(stamp) else stamp.date()
        if pd.isna(year):
            latest = stamp if when else _dates(self.f["details"]["referral_date"]).max()
            if pd.isna(latest):
                return None, when
            year = latest.year + (1 if (latest.month, latest.day) > (3, 31) else 0)
            self.issues.append(issue_frame("inferred-return-year", self.file, None, value=str(year)))
        return int(year), when

    def date(self, frame: pd.DataFrame, table: str, field: str, code: str = "unparseable-date") -> None:
        """Parse a date column in place (the text stays in `field` + '#'); text that is no date is an issue."""
        text = frame[field]
        frame[field], frame[field + "#"] = _dates(text), text
        element = ELEMENT[table][field]
        where = "" if table == "children" else element + ", "
        bad = self.issue(code, frame, text.notna() & frame[field].isna(), field, element, lambda b: b[field + "#"],
                         None if code == "unparseable-birth-date" else lambda b: " (" + where + self.who(b) + ")")
        if code == "unparseable-date":
            self.block_error(bad, code)

    def codes(self, frame: pd.DataFrame, table: str, fields: list[str]) -> None:
        """Codes in capitals; one not in the DfE list is a warning (comma lists are checked item by item)."""
        for field in fields:
            frame[field] = frame[field].str.upper()
            bad = frame[field].notna() & ~frame[field].isin(_CODES[field])
            if not bad.any():
                continue
            items = frame.loc[bad, field].str.split(",").explode()
            items = items[~items.isin(_CODES[field])]
            element = ELEMENT[table][field]
            self.issue("invalid-code", frame.loc[items.index], np.ones(len(items), dtype=bool), field, element,
                       items.to_numpy(), lambda b: (element + " (" + self.who(b) + ")").to_numpy())

    def flag(self, frame: pd.DataFrame, table: str, field: str) -> None:
        """true/false or 1/0 in place; anything else (or nothing) is a warning and taken as false."""
        text = frame[field].str.upper()
        element = ELEMENT[table][field]
        self.issue("invalid-flag", frame, ~text.isin(list(_FLAGS)), field, element, lambda b: b[field].fillna(""),
                   lambda b: " (" + element + np.where(b[field].isna(), " is missing", "") + ", " + self.who(b) + ")")
        frame[field] = text.isin(["TRUE", "1"]).to_numpy()

    def children(self) -> pd.DataFrame:
        c = self.f["children"]
        self.names = pd.Series("the child at line " + c["line"].astype("str").to_numpy(), index=c["child_no"])
        sex, gender = c["sex"].str.upper(), c["gender"]
        self.issue("invalid-code", c, sex.notna() & ~sex.isin(["M", "F", "U"]), "sex", "Sex", lambda b: b["sex"],
                   lambda b: "Sex (" + self.who(b) + ")")
        self.issue("invalid-code", c, gender.notna() & ~gender.isin(list(_GENDER)), "gender", "GenderCurrent",
                   lambda b: b["gender"], lambda b: "GenderCurrent (" + self.who(b) + ")")
        c["sex"] = sex.where(sex.isin(["M", "F", "U"]), gender.map(_GENDER)).astype("str")
        self.date(c, "children", "birth_date", "unparseable-birth-date")
        self.date(c, "children", "death_date", "unparseable-death-date")
        self.codes(c, "children", ["ethnicity", "disabilities"])
        q = pd.Series(pd.NA, index=c.index, dtype="str").mask(c["la_child_id"].isna(), "missing-child-id")
        q = q.mask(q.isna() & c["child_no"].eq(self.raw.partial), "malformed-xml")
        q = q.mask(q.isna() & c["blocks"].eq(0), "missing-cin-details")
        self.issue("missing-child-id", c, c["la_child_id"].isna(), "la_child_id", "LAchildID")
        self.issue("missing-cin-details", c, q.eq("missing-cin-details"), None, "CINdetails", None,
                   lambda b: " (" + self.who(b) + ")")
        c["quarantined"] = q
        return c

    def details(self, when: dt.date | None) -> pd.DataFrame:
        d, c = self.f["details"], self.f["children"]
        d["la_child_id"] = d["child_no"].map(pd.Series(c["la_child_id"].to_numpy(), index=c["child_no"]))
        child_error = d["child_no"].map(pd.Series(c["quarantined"].to_numpy(), index=c["child_no"]))
        for code in ("missing-child-id", "malformed-xml"):  # the child's blocks go with it
            self.block_error(d[child_error.eq(code).fillna(False)], code)
        bad = self.issue("missing-referral-date", d, d["referral_date"].isna(), None, "CINreferralDate", None,
                         lambda b: " (" + self.who(b) + ")")
        self.block_error(bad, "missing-referral-date")
        for field in ("referral_date", "closure_date", "initial_cpc_date"):
            self.date(d, "details", field)
        self.codes(d, "details", ["referral_source", "primary_need", "closure_reason"])
        self.flag(d, "details", "referral_nfa")
        referral, closure = d["referral_date"], d["closure_date"]
        self.impossible(d, closure < referral, "details", "closure_date",
                        lambda b: "the case closes before the referral on " + _iso(b["referral_date"]))
        if when is not None:
            limit = pd.Timestamp(when)
            self.impossible(d, referral > limit, "details", "referral_date",
                            lambda b: f"the referral is after the census reference date {when:%Y-%m-%d}")
            self.after(d, closure > limit, "details", "closure_date", when)
        return d

    def impossible(self, frame: pd.DataFrame, mask: pd.Series, table: str, field: str,
                   said: Callable[[pd.DataFrame], object]) -> None:
        bad = self.issue("impossible-date", frame, mask, field, ELEMENT[table][field], lambda b: b[field + "#"],
                         lambda b: said(b) + " (" + self.who(b) + ")")  # type: ignore[operator]
        self.block_error(bad, "impossible-date")

    def after(self, frame: pd.DataFrame, mask: pd.Series, table: str, field: str, when: dt.date) -> None:
        element = ELEMENT[table][field]
        self.issue("date-after-reference-date", frame, mask, field, element, lambda b: b[field + "#"],
                   lambda b: f"{when:%Y-%m-%d} ({element}, " + self.who(b) + ")")

    def stage(self, name: str, details: pd.DataFrame, when: dt.date | None) -> pd.DataFrame:
        s, start, end = self.f[name], *STAGE_DATES[name]
        element = BLOCK_ELEMENT[name]
        bad = self.issue("missing-stage-start", s, s["start"].isna(), None, ELEMENT[name]["start"], element,
                         lambda b: " (" + self.who(b) + ")")
        self.block_error(bad, "missing-stage-start")
        self.date(s, name, "start")
        self.date(s, name, end)
        if name == "section47":
            self.flag(s, name, "icpc_not_required")
        if name == "cp_plans":
            self.codes(s, name, ["initial_category", "latest_category"])
            s["previous_plans"] = pd.to_numeric(s["previous_plans"], errors="coerce").astype("Int64")
        self.impossible(s, s[end] < s["start"], name, end,
                        lambda b: element + " ends before it starts on " + _iso(b["start"]))
        if s.empty:
            return s
        at = self.block.reindex(pd.MultiIndex.from_frame(s[["child_no", "detail_no"]])).to_numpy()
        referral = pd.Series(details["referral_date"].to_numpy()[at], index=s.index)
        closure = pd.Series(details["closure_date"].to_numpy()[at], index=s.index)
        self.issue("date-outside-referral", s, s["start"] < referral, "start", ELEMENT[name]["start"],
                   lambda b: b["start#"],
                   lambda b: "before the referral on " + _iso(referral[b.index]) + " (" + self.who(b) + ")")
        self.issue("date-outside-referral", s, s["start"] > closure, "start", ELEMENT[name]["start"],
                   lambda b: b["start#"],
                   lambda b: "after the case closed on " + _iso(closure[b.index]) + " (" + self.who(b) + ")")
        if when is not None:
            for field in (start, end):
                self.after(s, s[field] > pd.Timestamp(when), name, field, when)
        return s


def _iso(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m-%d").astype("str")
