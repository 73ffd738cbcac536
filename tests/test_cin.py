"""CIN census XML: every Child and CINdetails block accounted for, exact episodes, one defect file per issue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from journeys.accounting import RowLedger
from journeys.cin import (CIN_PROBLEMS, CinCensus, account_cin, cin_episodes, is_cin_census, read_cin_census,
                          stack_cin)
from journeys.errors import InputError
from journeys.issues import ISSUE_COLUMNS, PROBLEMS, render_message

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "cin"
SAMPLE = ROOT.parent / "shared" / "samples" / "cin_census" / "fake_CIN_data.xml"
BUCKETS = ("rows_used", "rows_superseded", "rows_ignored", "rows_quarantined")
needs_sample = pytest.mark.skipif(not SAMPLE.exists(), reason="../shared/samples is not beside this checkout")


@pytest.fixture(autouse=True)
def _cin_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    """render_message knows the CIN codes (a no-op once they are merged into journeys.issues.PROBLEMS)."""
    for problem in CIN_PROBLEMS:
        monkeypatch.setitem(PROBLEMS, problem.code, PROBLEMS.get(problem.code, problem))


def ledger_for(*censuses: CinCensus) -> tuple[RowLedger, dict[str, object]]:
    ledger = RowLedger()
    account_cin(ledger, list(censuses))
    counts = ledger.counts()
    assert counts["rows_read"] == sum(counts[b] for b in BUCKETS)  # type: ignore[misc]
    for entry in counts["inputs"]:  # type: ignore[attr-defined]
        assert entry["rows_read"] == sum(entry[b] for b in BUCKETS)
    return ledger, counts


def episodes_of(name: str) -> list[tuple]:
    episodes = cin_episodes(read_cin_census(DATA / name))
    return [(r.person_id, r.code, f"{r.start:%Y-%m-%d}", None if pd.isna(r.end) else f"{r.end:%Y-%m-%d}",
             None if pd.isna(r.exit_code) else r.exit_code) for r in episodes.itertuples()]


# --- the real-format sample ----------------------------------------------------------------------------

@needs_sample
def test_sample_every_child_and_block_is_accounted_for() -> None:
    census = read_cin_census(SAMPLE)
    assert (census.collection_year, census.reference_date) == (2022, dt.date(2022, 7, 21))
    assert len(census.children) == 332 and len(census.details) == 402
    assert census.children["child_no"].tolist() == list(range(1, 333))
    assert census.children["sex"].value_counts().to_dict() == {"U": 176, "M": 82, "F": 74}  # GenderCurrent 0/9, 1, 2
    assert census.details["referral_nfa"].all()
    assert census.assessments.empty and census.cp_plans.empty  # the sample has no stage blocks
    # eight referrals are dated after the census date: those blocks are quarantined, nothing else
    assert census.issues["code"].value_counts().to_dict() == {"date-after-reference-date": 9, "impossible-date": 8}
    _, counts = ledger_for(census)
    assert counts["rows_read"] == 332 + 402
    assert (counts["rows_used"], counts["rows_superseded"], counts["rows_quarantined"]) == (726, 0, 8)
    assert counts["quarantined_by_reason"] == {"impossible-date": 8}
    episodes = cin_episodes(census)
    assert episodes["code"].value_counts().to_dict() == {"REFERRAL": 394}
    assert episodes["exit_code"].value_counts().to_dict() == {"NFA": 394}
    assert episodes["end"].notna().all() and (episodes["end"] >= episodes["start"]).all()
    assert list(episodes.columns) == ["file", "child_no", "detail_no", "line", "person_id", "start", "end", "code",
                                      "exit_code", "need_code", "category", "source", "return_year"]


@needs_sample
def test_sample_child_ids_stay_in_la_child_id() -> None:
    census = read_cin_census(SAMPLE)
    for table in (census.children, census.details):
        text = table.drop(columns="la_child_id").select_dtypes(include="str")
        assert not text.apply(lambda col: col.str.contains("RND", na=False)).any().any()
    assert census.issues["detail"].str.contains("the child at line").all() or census.issues.empty
    assert not census.issues.astype("str").apply(lambda col: col.str.contains("RND")).any().any()  # DESIGN 7
    assert list(census.issues.columns) == ISSUE_COLUMNS


def test_sniffing_reads_content_not_names(tmp_path: Path) -> None:
    renamed = tmp_path / "export.txt"
    renamed.write_bytes((DATA / "full-journey.xml").read_bytes())
    assert is_cin_census(renamed) and is_cin_census(DATA / "namespaced.xml")
    assert not is_cin_census(ROOT / "tests" / "data" / "clean.csv")  # an SSDA903 episodes CSV
    assert not is_cin_census(DATA / "not-cin.xml") and not is_cin_census(DATA / "other-collection.xml")
    (tmp_path / "empty.xml").write_bytes(b"")
    assert not is_cin_census(tmp_path / "empty.xml") and not is_cin_census(tmp_path / "missing.xml")
    if SAMPLE.exists():
        assert is_cin_census(SAMPLE)


# --- episodes ----------------------------------------------------------------------------------------------

def test_full_journey_episodes() -> None:
    assert episodes_of("full-journey.xml") == [
        ("FJ001", "REFERRAL", "2023-04-03", "2023-04-05", None),
        ("FJ001", "ASSESSMENT", "2023-04-05", "2023-05-10", None),
        ("FJ001", "CIN_PLAN", "2023-05-12", "2023-06-20", None),
        ("FJ001", "SECTION_47", "2023-06-15", "2023-06-28", None),
        ("FJ001", "CP_PLAN", "2023-06-28", "2024-01-31", "RC7"),
    ]
    episodes = cin_episodes(read_cin_census(DATA / "full-journey.xml"))
    assert episodes["line"].tolist() == [27, 33, 41, 45, 52]
    assert episodes["category"].tolist()[-1] == "NEG" and episodes["category"].isna().sum() == 4
    assert set(episodes["need_code"]) == {"N1"} and set(episodes["source"]) == {"cin"}
    assert set(episodes["return_year"]) == {2024}


def test_full_journey_tables() -> None:
    census = read_cin_census(DATA / "full-journey.xml")
    child = census.children.iloc[0]
    assert (child["la_child_id"], child["sex"], child["ethnicity"], child["disabilities"]) == ("FJ001", "F", "WBRI",
                                                                                               "NONE")
    assert census.assessments["factors"].tolist() == ["3A,4B"]
    plan = census.cp_plans.iloc[0]
    assert (plan["initial_category"], plan["latest_category"], plan["previous_plans"]) == ("NEG", "EMO", 0)
    assert not census.section47["icpc_not_required"].any() and census.issues.empty


def test_referral_with_no_further_action() -> None:
    assert episodes_of("referral-nfa.xml") == [
        ("NF001", "REFERRAL", "2023-05-02", "2023-05-02", "NFA"),  # NFA, not closed: ends on the referral date
        ("NF001", "REFERRAL", "2023-08-10", "2023-08-15", "NFA"),  # NFA and closed (RC8): ends at the closure
    ]


def test_child_in_need_and_enquiries_without_conference() -> None:
    assert episodes_of("child-in-need.xml") == [
        # authorised assessment, no plan, still open: in need from authorisation, open at the census date
        ("CN001", "REFERRAL", "2023-04-01", "2023-04-03", None),
        ("CN001", "ASSESSMENT", "2023-04-03", "2023-05-01", None),
        ("CN001", "CHILD_IN_NEED", "2023-05-01", None, None),
        # closed after assessment with no further action (RC8): not in need
        ("CN002", "REFERRAL", "2023-06-01", "2023-06-02", None),
        ("CN002", "ASSESSMENT", "2023-06-02", "2023-06-20", "RC8"),
        # s47 with no conference required ends when the next stage (the CIN plan) starts
        ("CN003", "REFERRAL", "2023-07-01", "2023-07-01", None),
        ("CN003", "ASSESSMENT", "2023-07-01", "2023-07-20", None),
        ("CN003", "SECTION_47", "2023-07-01", "2023-07-25", None),
        ("CN003", "CIN_PLAN", "2023-07-25", None, None),
        # ... and on its own start when nothing follows
        ("CN004", "REFERRAL", "2023-09-01", "2023-09-02", None),
        ("CN004", "SECTION_47", "2023-09-02", "2023-09-02", "RC7"),
    ]


def test_open_stages_end_at_closure() -> None:
    census = read_cin_census(DATA / "unknown-element.xml")  # assessment authorised, then closed RC7
    assert episodes_of("unknown-element.xml")[-1] == ("UE001", "CHILD_IN_NEED", "2023-05-10", "2023-10-01", "RC7")
    assert census.details["closure_reason"].tolist() == ["RC7"]


# --- schema years and tolerance -------------------------------------------------------------------------

def test_sex_element_and_numeric_booleans() -> None:
    census = read_cin_census(DATA / "sex-element-2023.xml")
    assert census.collection_year == 2023 and census.issues.empty
    assert census.children["sex"].tolist() == ["M", "F", "U"]
    assert census.details["referral_nfa"].tolist() == [True, False, True]
    assert census.section47["icpc_not_required"].tolist() == [True]


def test_gender_current_in_older_years() -> None:
    census = read_cin_census(DATA / "gendercurrent-2021.xml")
    assert (census.collection_year, census.reference_date) == (2021, dt.date(2021, 3, 31))
    assert census.children["sex"].tolist() == ["M", "F", "U", "U"]
    assert census.details["referral_nfa"].tolist() == [True, False, False, True]
    assert census.children["birth_date"].isna().tolist() == [False, False, True, False] and census.issues.empty


def test_namespaces_whitespace_comments_and_uk_dates() -> None:
    census = read_cin_census(DATA / "namespaced.xml")
    assert census.issues.empty and census.reference_date == dt.date(2024, 3, 31)
    assert census.children[["la_child_id", "sex", "ethnicity"]].iloc[0].tolist() == ["NS001", "F", "WBRI"]
    assert census.details[["referral_source", "referral_nfa"]].iloc[0].tolist() == ["2A", False]
    assert episodes_of("namespaced.xml") == [("NS001", "REFERRAL", "2023-04-03", "2023-04-05", None),
                                             ("NS001", "ASSESSMENT", "2023-04-05", None, None)]


# --- defects: one file per issue code --------------------------------------------------------------------

@dataclass(frozen=True)
class Defect:
    file: str
    code: str
    severity: str
    line: int | None
    element: str | None
    child: str | None  # the LA's id, named in the message
    children_out: int = 0  # rows quarantined
    details_out: int = 0


DEFECTS = [
    Defect("unknown-element.xml", "unknown-element", "warning", 34, "CINPlanDate", "UE001"),
    Defect("missing-child-id.xml", "missing-child-id", "error", 33, "LAchildID", None, 1, 2),
    Defect("missing-referral-date.xml", "missing-referral-date", "error", 24, "CINreferralDate", "MR001", 0, 1),
    Defect("closure-before-referral.xml", "impossible-date", "error", 28, "CINclosureDate", "CB001", 0, 1),
    Defect("plan-ends-before-start.xml", "impossible-date", "error", 31, "CPPendDate", "PE001", 0, 1),
    Defect("missing-stage-start.xml", "missing-stage-start", "error", 28, "AssessmentActualStartDate", "MS001", 0, 1),
    Defect("unparseable-date.xml", "unparseable-date", "error", 28, "CINclosureDate", "UD001", 0, 1),
    Defect("date-outside-referral.xml", "date-outside-referral", "warning", 29, "AssessmentActualStartDate", "DO001"),
    Defect("date-after-reference-date.xml", "date-after-reference-date", "warning", 28, "CINclosureDate", "DA001"),
    Defect("invalid-flag.xml", "invalid-flag", "warning", 28, "ReferralNFA", "IF001"),
    Defect("invalid-code.xml", "invalid-code", "warning", 26, "ReferralSource", "IC001"),
    Defect("unparseable-death-date.xml", "unparseable-death-date", "warning", 18, "PersonDeathDate", "DD001"),
    Defect("missing-cin-details.xml", "missing-cin-details", "error", 15, "CINdetails", "NC001", 1, 0),
    Defect("inferred-return-year.xml", "inferred-return-year", "warning", None, None, None),
]


@pytest.mark.parametrize("case", DEFECTS, ids=[d.file.removesuffix(".xml") for d in DEFECTS])
def test_defect_file_raises_its_issue(case: Defect) -> None:
    census = read_cin_census(DATA / case.file)
    assert census.issues["code"].tolist() == [case.code]
    issue = census.issues.iloc[0].to_dict()
    assert (issue["severity"], issue["file"], issue["column"]) == (case.severity, case.file, case.element)
    assert (None if pd.isna(issue["row"]) else issue["row"]) == case.line
    message = render_message(issue)
    assert message.startswith(case.file + (f" row {case.line}, column {case.element}: " if case.line else ": "))
    assert "To fix this: " in message
    if case.child:
        assert case.child not in message and "the child at line" in message  # the id is never stored
    _, counts = ledger_for(census)
    inputs = {e["table"]: e for e in counts["inputs"]}  # type: ignore[attr-defined]
    assert inputs["cin_children"]["rows_quarantined"] == case.children_out
    assert inputs["cin_details"]["rows_quarantined"] == case.details_out
    assert counts["quarantined_by_reason"] == ({case.code: case.children_out + case.details_out}
                                               if case.children_out + case.details_out else {})


def test_unknown_element_leaves_the_rest_of_the_child() -> None:
    census = read_cin_census(DATA / "unknown-element.xml")
    assert render_message(census.issues.iloc[0].to_dict()) == (
        "unknown-element.xml row 34, column CINPlanDate: <CINPlanDate> is not an element of the CIN census schema "
        "(inside CINdetails, the child at line 15); it is left out and the rest is read. To fix this: check the element's "
        "spelling and capitals against the DfE CIN census specification, or leave it out of the export.")
    assert census.details["closure_date"].tolist() == [pd.Timestamp("2023-10-01")]
    assert len(census.assessments) == 1 and census.cin_plans.empty


def test_missing_child_id_takes_its_blocks_with_it() -> None:
    census = read_cin_census(DATA / "missing-child-id.xml")
    assert census.children["quarantined"].fillna("-").tolist() == ["-", "missing-child-id"]
    assert census.details["quarantined"].fillna("-").tolist() == ["-", "missing-child-id", "missing-child-id"]
    assert episodes_of("missing-child-id.xml") == [("MC001", "REFERRAL", "2023-04-03", "2023-04-03", "NFA")]


def test_quarantined_blocks_give_no_episodes() -> None:
    for name in ("closure-before-referral.xml", "plan-ends-before-start.xml", "missing-stage-start.xml",
                 "unparseable-date.xml"):
        assert episodes_of(name) == [], name


def test_malformed_xml_names_the_line() -> None:
    with pytest.raises(InputError) as caught:
        read_cin_census(DATA / "malformed.xml")
    message = str(caught.value)
    assert message.startswith("malformed.xml line 15: the file is not well-formed XML")
    assert "ChildIdentifier" in message and "open the file in a text editor at line 15" in message


def test_file_cut_short_keeps_the_complete_children() -> None:
    census = read_cin_census(DATA / "truncated.xml")
    assert census.issues["code"].tolist() == ["malformed-xml"]
    assert census.issues["row"].tolist() == [41]
    assert "the 1 complete Child element before it was read" in render_message(census.issues.iloc[0].to_dict())
    assert census.children["quarantined"].fillna("-").tolist() == ["-", "malformed-xml"]
    assert census.details["quarantined"].fillna("-").tolist() == ["-", "malformed-xml", "malformed-xml"]
    _, counts = ledger_for(census)
    assert (counts["rows_read"], counts["rows_used"], counts["rows_quarantined"]) == (5, 2, 3)
    assert episodes_of("truncated.xml") == [("TR001", "REFERRAL", "2023-04-03", "2023-04-03", "NFA")]


@pytest.mark.parametrize("name, said", [("not-cin.xml", "root element is <catalogue>"),
                                        ("other-collection.xml", "its Collection is 'SSDA903'")])
def test_other_xml_is_refused(name: str, said: str) -> None:
    with pytest.raises(InputError, match=said):
        read_cin_census(DATA / name)


# --- several years stacked ------------------------------------------------------------------------------

def test_stacked_years_latest_return_wins() -> None:
    later, earlier = read_cin_census(DATA / "stack-2023.xml"), read_cin_census(DATA / "stack-2022.xml")
    ledger, counts = ledger_for(later, earlier)
    buckets = {(e["file"], e["table"]): tuple(e[b] for b in BUCKETS) for e in counts["inputs"]}  # type: ignore
    assert buckets == {
        ("stack-2023.xml", "cin_children"): (1, 0, 0, 1),  # ST001 twice in one file: duplicate-child
        ("stack-2023.xml", "cin_details"): (2, 0, 0, 0),
        ("stack-2022.xml", "cin_children"): (1, 1, 0, 0),  # ST001 is in the later return
        ("stack-2022.xml", "cin_details"): (1, 1, 0, 1),  # the open referral closed in 2023; ST002's repeat
    }
    assert counts["quarantined_by_reason"] == {"duplicate-child": 1, "duplicate-cin-details": 1}
    stack = stack_cin([earlier, later])  # the order of the files does not matter
    episodes = [(r.person_id, r.code, f"{r.start:%Y-%m-%d}", f"{r.end:%Y-%m-%d}", r.exit_code, r.file, r.line)
                for r in stack.episodes.fillna({"exit_code": "-"}).itertuples()]
    assert episodes == [
        # ST001's block: closure and the plan's end from 2022-23; the assessment, which ended in 2021-22, is
        # only in the 2021-22 return
        ("ST001", "REFERRAL", "2021-10-01", "2021-10-04", "-", "stack-2023.xml", 24),
        ("ST001", "ASSESSMENT", "2021-10-04", "2021-11-15", "-", "stack-2022.xml", 28),
        ("ST001", "CIN_PLAN", "2021-11-20", "2022-06-30", "RC7", "stack-2023.xml", 30),
        ("ST001", "REFERRAL", "2022-09-01", "2022-09-01", "NFA", "stack-2023.xml", 46),  # in the repeated Child
        ("ST002", "REFERRAL", "2021-05-01", "2021-06-01", "RC7", "stack-2022.xml", 47),
    ]
    reversed_files = stack_cin([later, earlier]).episodes
    assert reversed_files.drop(columns="row_id").equals(stack.episodes.drop(columns="row_id"))
    stacked = stack.issues[stack.issues["code"].str.startswith("duplicate")]
    assert stacked[["code", "file", "row"]].values.tolist() == [
        ["duplicate-cin-details", "stack-2022.xml", 55], ["duplicate-child", "stack-2023.xml", 37]]
    message = render_message(stacked.iloc[0].to_dict())
    assert "the first is at line 47 of stack-2022.xml)" in message and "ST002" not in message  # no id (DESIGN 7)


def test_stacked_episodes_carry_their_ledger_row() -> None:
    ledger = RowLedger()
    stack = account_cin(ledger, [read_cin_census(DATA / "stack-2022.xml"), read_cin_census(DATA / "stack-2023.xml")])
    rows = ledger.frame().iloc[stack.episodes["row_id"].unique()]
    assert set(rows["table"]) == {"cin_details"} and set(rows["bucket"]) == {"used"}
    assert len(stack.children) == 2 and len(stack.details) == 3
