"""Write CIN census XML returns, one per collection year, from CinTables (no XML library needed).

Each return holds every child with a CINdetails block open at some time in the year (referral on or
before 31 March, closure blank or on or after 1 April before), with what was known on 31 March: a block
still open then has no closure in that return and gains it in a later one. Inside a block, only the
modules active in the year are sent, as the DfE asks (DfE validation rules 8696, 8715 and 8740 want
authorisations, conferences and open enquiries inside the census year): an assessment, plan, enquiry
or CP plan that ended in an earlier year is in the earlier returns only, so a loader must take the
modules of a block from every return, not only from its latest one. The text is built a column at a
time and the pieces put in schema order with one sort: tens of thousands of children take a second.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from journeys.synth.cin import CinTables
from journeys.synth.cin_paths import days_of
from journeys.synth.draw import IntArray, day_of
from journeys.synth.ssda903 import collection_label

Text = npt.NDArray[np.object_]
#: <Sex> (M/F/U) replaced <GenderCurrent> (1/2, 0 unborn) in the 2024-25 census (year of its 31 March).
SEX_ELEMENT_FROM = 2025
#: ReferralNFA and ICPCnotRequired are written true/false before the 2020-21 census and 1/0 from it.
BOOL_DIGITS_FROM = 2021
LEA = "999"  # no real authority has this number
BIG = np.iinfo(np.int64).max // 4
YEAR = 365.25



def _iso(days: IntArray) -> Text:
    return np.datetime_as_string(np.maximum(days, 0).astype("datetime64[D]")).astype(object)


def _el(tag: str, values: Text | str, level: int) -> Text:
    return np.asarray(" " * (2 * level) + f"<{tag}>" + np.asarray(values, dtype=object) + f"</{tag}>\n",
                      dtype=object)


def _opt(tag: str, values: Text, show: npt.NDArray[np.bool_], level: int) -> Text:
    return np.where(show, _el(tag, values, level), "").astype(object)


def _repeat(tag: str, joined: Text, level: int) -> Text:
    """Space-separated codes as one element each."""
    pad = " " * (2 * level)
    inner = pd.Series(joined, dtype="object").str.replace(" ", f"</{tag}>\n{pad}<{tag}>", regex=False)
    return (pad + f"<{tag}>" + inner + f"</{tag}>\n").to_numpy(dtype=object)


class _Prepared:
    """The frames as int days and code arrays, converted once for all the years written."""

    def __init__(self, t: CinTables) -> None:
        c, d = t.children, t.cin_details
        self.child_index = pd.Index(c["LAchildID"].astype(str))
        self.c = {"id": c["LAchildID"].astype(str).to_numpy(dtype=object), "dob": days_of(c["PersonBirthDate"]),
                  "expected": days_of(c["ExpectedPersonBirthDate"]), "death": days_of(c["PersonDeathDate"]),
                  "male": (c["Sex"] == "M").to_numpy(), "ethnic": c["Ethnicity"].astype(str).to_numpy(dtype=object),
                  "upn": c["UPN"].astype(str).to_numpy(dtype=object), "in_care": c["in_care"].to_numpy(bool),
                  "base": c["UPNunknown"].astype(str).to_numpy(dtype=object),
                  "disab": c["Disabilities"].astype(str).to_numpy(dtype=object)}
        block_of = pd.Index(d["cin_id"])
        self.d = {"child": self.child_index.get_indexer(d["LAchildID"].astype(str)),
                  "ref": days_of(d["CINreferralDate"]), "close": days_of(d["CINclosureDate"]),
                  "source": d["ReferralSource"].astype(str).to_numpy(dtype=object),
                  "need": d["PrimaryNeedCode"].astype(str).to_numpy(dtype=object),
                  "reason": d["ReasonForClosure"].astype(str).to_numpy(dtype=object),
                  "nfa": d["ReferralNFA"].to_numpy(bool)}
        a, p, s, cp, r = t.assessments, t.cin_plans, t.section47, t.cp_plans, t.cp_reviews
        self.a = {"block": block_of.get_indexer(a["cin_id"]), "start": days_of(a["AssessmentActualStartDate"]),
                  "auth": days_of(a["AssessmentAuthorisationDate"]),
                  "factors": a["AssessmentFactors"].astype(str).to_numpy(dtype=object)}
        self.p = {"block": block_of.get_indexer(p["cin_id"]), "start": days_of(p["CINPlanStartDate"]),
                  "end": days_of(p["CINPlanEndDate"])}
        self.s = {"block": block_of.get_indexer(s["cin_id"]), "start": days_of(s["S47ActualStartDate"]),
                  "target": days_of(s["InitialCPCtarget"]), "icpc": days_of(s["DateOfInitialCPC"]),
                  "not_required": s["ICPCnotRequired"].to_numpy(bool), "concluded": days_of(s["concluded"])}
        self.cp = {"block": block_of.get_indexer(cp["cin_id"]), "start": days_of(cp["CPPstartDate"]),
                   "end": days_of(cp["CPPendDate"]), "cat0": cp["InitialCategoryOfAbuse"].to_numpy(dtype=object),
                   "cat1": cp["LatestCategoryOfAbuse"].to_numpy(dtype=object), "change": days_of(cp["latest_from"]),
                   "previous": cp["NumberOfPreviousCPP"].astype(str).to_numpy(dtype=object)}
        self.r = {"plan": pd.Index(cp["cpp_id"]).get_indexer(r["cpp_id"]), "day": days_of(r["CPPreviewDate"])}


def _active(start: IntArray, end: IntArray, begin: int, ref: int) -> npt.NDArray[np.bool_]:
    return (start >= 0) & (start <= ref) & ((end < 0) | (end >= begin))


def census_xml(prep: _Prepared, year: int) -> str:
    """The CIN census return whose reference date is 31 March `year`."""
    ref, begin = day_of(dt.date(year, 3, 31)), day_of(dt.date(year - 1, 4, 1))
    yes, no = ("1", "0") if year >= BOOL_DIGITS_FROM else ("true", "false")
    d = prep.d
    in_file = _active(d["ref"], d["close"], begin, ref)
    blocks = np.flatnonzero(in_file)
    children = np.unique(d["child"][blocks])
    pieces: list[tuple[IntArray, IntArray, IntArray, IntArray, IntArray, Text]] = []

    def add(child: IntArray, block: IntArray, slot: int, sub1: IntArray, sub2: IntArray | int, text: Text) -> None:
        n = len(child)
        pieces.append((child, block, np.full(n, slot), sub1, np.broadcast_to(np.asarray(sub2), (n,)), text))

    # --- children: identifiers and characteristics -----------------------------------------------------
    c = {k: v[children] for k, v in prep.c.items()}
    unborn = (c["dob"] < 0) | (c["dob"] > ref)
    age = ref - c["dob"]
    nfa_only = np.ones(len(prep.c["id"]), dtype=bool)
    np.logical_and.at(nfa_only, d["child"][blocks], d["nfa"][blocks])
    any_need = ~nfa_only[children]
    show_upn = (c["upn"] != "") & ~unborn & (c["in_care"] | (age >= 4 * YEAR))
    base = np.where((c["base"] == "") | (c["base"] == "UN1"), "UN4", c["base"])
    unknown = np.select([unborn, age < 6 * YEAR, nfa_only[children]], ["UN6", "UN1", "UN7"], base).astype(object)
    if year >= SEX_ELEMENT_FROM:
        sex = _el("Sex", np.where(unborn, "U", np.where(c["male"], "M", "F")).astype(object), 4)
    else:
        sex = _el("GenderCurrent", np.where(unborn, "0", np.where(c["male"], "1", "2")).astype(object), 4)
    expected = np.where(c["expected"] >= 0, c["expected"], c["dob"])
    disab = np.where(unborn, "NONE", c["disab"])
    text = ("    <Child>\n      <ChildIdentifiers>\n" + _el("LAchildID", c["id"], 4)
            + _opt("UPN", c["upn"], show_upn, 4) + _opt("UPNunknown", unknown, ~show_upn, 4)
            + _opt("PersonBirthDate", _iso(c["dob"]), ~unborn, 4)
            + _opt("ExpectedPersonBirthDate", _iso(expected), unborn, 4) + sex
            + _opt("PersonDeathDate", _iso(c["death"]), (c["death"] >= 0) & (c["death"] <= ref), 4)
            + "      </ChildIdentifiers>\n      <ChildCharacteristics>\n"
            + _el("Ethnicity", np.where(unborn, "NOBT", c["ethnic"]).astype(object), 4)
            + np.where(any_need, "        <Disabilities>\n" + _repeat("Disability", disab, 5)
                       + "        </Disabilities>\n", "") + "      </ChildCharacteristics>\n")
    add(children, np.full(len(children), -1), 0, np.zeros(len(children), dtype=np.int64), 0, text)
    add(children, np.full(len(children), BIG), 0, np.zeros(len(children), dtype=np.int64), 0,
        np.full(len(children), "    </Child>\n", dtype=object))
    # --- CINdetails ---------------------------------------------------------------------------------------
    s = prep.s
    conf = (s["icpc"] >= begin) & (s["icpc"] <= ref)
    latest_conf = np.full(len(d["ref"]), -1, dtype=np.int64)
    np.maximum.at(latest_conf, s["block"][conf], s["icpc"][conf])
    b = {k: v[blocks] for k, v in d.items()}
    closed = (b["close"] >= 0) & (b["close"] <= ref)
    conf_b = latest_conf[blocks]
    text = ("      <CINdetails>\n" + _el("CINreferralDate", _iso(b["ref"]), 4) + _el("ReferralSource", b["source"], 4)
            + _opt("PrimaryNeedCode", b["need"], b["need"] != "", 4)
            + _opt("CINclosureDate", _iso(b["close"]), closed, 4) + _opt("ReasonForClosure", b["reason"], closed, 4)
            + _opt("DateOfInitialCPC", _iso(conf_b), conf_b >= 0, 4))
    zero = np.zeros(len(blocks), dtype=np.int64)
    add(b["child"], blocks, 0, zero, 0, text)
    add(b["child"], blocks, 4, zero, 0, _el("ReferralNFA", np.where(b["nfa"], yes, no).astype(object), 4))
    add(b["child"], blocks, 6, zero, 0, np.full(len(blocks), "      </CINdetails>\n", dtype=object))
    # --- assessments, CIN plans, s47 enquiries ------------------------------------------------------------
    a = prep.a
    rows = np.flatnonzero(_active(a["start"], a["auth"], begin, ref))
    done = (a["auth"][rows] >= 0) & (a["auth"][rows] <= ref)
    factors = np.where(done & (a["factors"][rows] != ""), "          <FactorsIdentifiedAtAssessment>\n"
                       + _repeat("AssessmentFactors", a["factors"][rows], 6)
                       + "          </FactorsIdentifiedAtAssessment>\n", "")
    text = ("        <Assessments>\n" + _el("AssessmentActualStartDate", _iso(a["start"][rows]), 5)
            + _opt("AssessmentAuthorisationDate", _iso(a["auth"][rows]), done, 5) + factors
            + "        </Assessments>\n")
    add(d["child"][a["block"][rows]], a["block"][rows], 1, rows, 0, text)
    p = prep.p
    rows = np.flatnonzero(_active(p["start"], p["end"], begin, ref))
    ended = (p["end"][rows] >= 0) & (p["end"][rows] <= ref)
    text = ("        <CINPlanDates>\n" + _el("CINPlanStartDate", _iso(p["start"][rows]), 5)
            + _opt("CINPlanEndDate", _iso(p["end"][rows]), ended, 5) + "        </CINPlanDates>\n")
    add(d["child"][p["block"][rows]], p["block"][rows], 2, rows, 0, text)
    # an enquiry is sent in the year it starts and in the year of its conference (DfE rules 8715, 8740)
    rows = np.flatnonzero((s["start"] >= 0) & (s["start"] <= ref) & ((s["start"] >= begin) | conf))
    held = (s["icpc"][rows] >= 0) & (s["icpc"][rows] <= ref)
    not_needed = s["not_required"][rows] & (s["concluded"][rows] <= ref)
    text = ("        <Section47>\n" + _el("S47ActualStartDate", _iso(s["start"][rows]), 5)
            + _el("InitialCPCtarget", _iso(s["target"][rows]), 5)
            + _opt("DateOfInitialCPC", _iso(s["icpc"][rows]), held, 5)
            + _el("ICPCnotRequired", np.where(not_needed, yes, no).astype(object), 5) + "        </Section47>\n")
    add(d["child"][s["block"][rows]], s["block"][rows], 3, rows, 0, text)
    # --- child protection plans and their reviews ---------------------------------------------------------
    cp = prep.cp
    rows = np.flatnonzero(_active(cp["start"], cp["end"], begin, ref))
    ended = (cp["end"][rows] >= 0) & (cp["end"][rows] <= ref)
    latest = np.where(cp["change"][rows] <= ref, cp["cat1"][rows], cp["cat0"][rows]).astype(object)
    owner, block = d["child"][cp["block"][rows]], cp["block"][rows]
    text = ("        <ChildProtectionPlans>\n" + _el("CPPstartDate", _iso(cp["start"][rows]), 5)
            + _opt("CPPendDate", _iso(cp["end"][rows]), ended, 5) + _el("InitialCategoryOfAbuse", cp["cat0"][rows], 5)
            + _el("LatestCategoryOfAbuse", latest, 5) + _el("NumberOfPreviousCPP", cp["previous"][rows], 5))
    add(owner, block, 5, rows, -1, text)
    add(owner, block, 5, rows, BIG, np.full(len(rows), "        </ChildProtectionPlans>\n", dtype=object))
    r = prep.r
    plan_in = np.zeros(len(cp["start"]), dtype=bool)
    plan_in[rows] = True
    reviewed = np.flatnonzero(plan_in[r["plan"]] & (r["day"] >= begin) & (r["day"] <= ref))
    plans = np.unique(r["plan"][reviewed])
    if len(plans):
        owner, block = d["child"][cp["block"][plans]], cp["block"][plans]
        add(owner, block, 5, plans, 0, np.full(len(plans), "          <Reviews>\n", dtype=object))
        add(owner, block, 5, plans, BIG - 1, np.full(len(plans), "          </Reviews>\n", dtype=object))
        rp = r["plan"][reviewed]
        add(d["child"][cp["block"][rp]], cp["block"][rp], 5, rp, r["day"][reviewed],
            _el("CPPreviewDate", _iso(r["day"][reviewed]), 6))
    keys = [np.concatenate([pc[i] for pc in pieces]) for i in range(5)]
    texts = np.concatenate([pc[5] for pc in pieces])
    order = np.lexsort((keys[4], keys[3], keys[2], keys[1], keys[0]))
    header = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Message>\n  <Header>\n    <CollectionDetails>\n'
        f"      <Collection>CIN</Collection>\n      <Year>{year}</Year>\n"
        f"      <ReferenceDate>{year}-03-31</ReferenceDate>\n    </CollectionDetails>\n    <Source>\n"
        f"      <SourceLevel>L</SourceLevel>\n      <LEA>{LEA}</LEA>\n"
        "      <SoftwareCode>journeys.synth</SoftwareCode>\n"
        f"      <Release>1</Release>\n      <SerialNo>{year - 2000:03d}</SerialNo>\n"
        f"      <DateTime>{year}-06-30T09:00:00</DateTime>\n    </Source>\n  </Header>\n  <Children>\n")
    return header + "".join(texts[order].tolist()) + "  </Children>\n</Message>\n"


def write_cin_census(tables: CinTables, out_dir: Path, first_year: int | None = None, last_year: int | None = None,
                     *, prefix: str = "cin_census") -> list[Path]:
    """Write one `<prefix>_YYYY-YY.xml` per collection year and return their paths.

    first_year and last_year are, as for write_ssda903_returns, the years of the data window's first and
    last 31 March (default: the tables'): returns are written for first_year-(first_year+1) to
    (last_year-1)-last_year, each with its reference date on 31 March. UTF-8, LF line ends.
    """
    first = tables.first_year if first_year is None else first_year
    last = tables.last_year if last_year is None else last_year
    out_dir.mkdir(parents=True, exist_ok=True)
    prep = _Prepared(tables)
    paths = []
    for year in range(first + 1, last + 1):
        path = out_dir / f"{prefix}_{collection_label(year)}.xml"
        path.write_bytes(census_xml(prep, year).encode("utf-8"))
        paths.append(path)
    return paths
