"""The synthetic local front-door extracts (riverside CSV, westmoor XLSX): additive, linked, mapped, coherent."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from journeys.config import PathwayConfig, load_config
from journeys.synth import generate_care_episodes, generate_cin, generate_front_door, write_samples
from journeys.synth import cin_measures as CM
from journeys.synth import front_door_measures as M
from journeys.synth import front_door_tables as F
from journeys.synth.cin import CinTables
from journeys.synth.cin_care import care_periods
from journeys.synth.front_door_local import (RIVERSIDE_COLUMNS, WESTMOOR_COLUMNS, WESTMOOR_SHEET,
                                             westmoor_front_door_rows, write_riverside_front_door,
                                             write_westmoor_front_door)
from journeys.synth.local import RIVERSIDE_DATA_START, WESTMOOR_DATA_START, westmoor_rows

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data_samples"
EXTRACT = dt.date(2025, 3, 31)
FAR = pd.Timestamp("2200-01-01")  # open steps end here when comparing


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.cache
def _config(name: str) -> PathwayConfig:
    return load_config(ROOT / "pathway_configs" / f"{name}.yaml")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """The bundled samples as `journeys synth --seed 1` writes them."""
    return write_samples(tmp_path_factory.mktemp("samples"), seed=1, scale=1.0)


@pytest.fixture(scope="module")
def riverside(written: dict[str, list[Path]]) -> pd.DataFrame:
    path = next(p for p in written["riverside"] if p.name == "front_door.csv")
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def mid() -> tuple[pd.DataFrame, pd.DataFrame, CinTables, pd.DataFrame]:
    """1,000 children in care, 3,000 only referred (as the local extracts have), and their front door."""
    episodes, header = generate_care_episodes(1_000, seed=21)
    cin = generate_cin(episodes, header, seed=8, n_cin_only_children=F.CIN_ONLY_PER_CARE_CHILD * len(header))
    return episodes, header, cin, generate_front_door(episodes, header, seed=8, cin=cin, data_start=WESTMOOR_DATA_START)


@pytest.fixture(scope="module")
def westmoor(mid: tuple[pd.DataFrame, pd.DataFrame, CinTables, pd.DataFrame]) -> pd.DataFrame:
    """westmoor's rows of the mid-sized front door (reading the full XLSX back takes openpyxl half a minute)."""
    _, header, _, steps = mid
    return westmoor_front_door_rows(steps, header, seed=8)


def _norm(values: pd.Series) -> pd.Series:
    return values.fillna("").astype("str").str.strip().str.upper()


# --- additive and deterministic -------------------------------------------------------------------------------------
def test_existing_files_unchanged_and_new_files_as_committed(written: dict[str, list[Path]]) -> None:
    """The front-door draws come after, and apart from, everything else: no byte of the other files moved."""
    if not SAMPLES.exists():
        pytest.skip("bundled samples not present")
    assert [p.name for p in written["riverside"]] == ["placements.csv", "front_door.csv"]
    assert [p.name for p in written["westmoor"]] == ["care_history.xlsx", "front_door.xlsx"]
    compared = 0
    for authority, paths in written.items():
        for path in paths:
            committed = SAMPLES / authority / path.name
            assert committed.exists(), committed
            assert _digest(path) == _digest(committed), path.name
            compared += 1
    assert compared == 18 + 9 + 2 + 2  # SSDA903 CSVs, CIN census XML, care extracts, front-door extracts
    on_disk = {p.relative_to(SAMPLES).as_posix() for p in SAMPLES.rglob("*") if p.is_file() and p.name != "README.md"}
    assert on_disk == {f"{a}/{p.name}" for a, ps in written.items() for p in ps}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    episodes, header = generate_care_episodes(40, seed=4)
    digests = {}
    for run, seed in (("a", 7), ("b", 7), ("c", 8)):
        paths = write_riverside_front_door(episodes, header, tmp_path / run, seed) + \
            write_westmoor_front_door(episodes, header, tmp_path / run, seed)
        digests[run] = [_digest(p) for p in paths]
    assert digests["a"] == digests["b"]
    assert all(a != c for a, c in zip(digests["a"], digests["c"]))


# --- the files -----------------------------------------------------------------------------------------------------
def test_riverside_file(written: dict[str, list[Path]], riverside: pd.DataFrame) -> None:
    path = next(p for p in written["riverside"] if p.name == "front_door.csv")
    raw = path.read_bytes()
    raw.decode("utf-8")  # UTF-8 throughout ("Front Door – MASH")
    assert "–".encode() in raw and b"\r\n" in raw
    assert tuple(riverside.columns) == RIVERSIDE_COLUMNS
    for column in ("StepStart", "StepEnd"):
        dates = riverside[column][riverside[column] != ""]
        assert dates.str.fullmatch(r"\d{4}-\d\d-\d\d").all()
    assert (riverside["StepType"] != _norm(riverside["StepType"])).any()  # a few hand-keyed codes to tidy
    assert set(riverside["ContactSource"][_norm(riverside["StepType"]) != "CONT"]) == {""}


def test_westmoor_file(tmp_path: Path) -> None:
    episodes, header = generate_care_episodes(30, seed=3)
    path = write_westmoor_front_door(episodes, header, tmp_path, seed=2)[0]
    rows = pd.read_excel(path, engine="calamine", sheet_name=WESTMOOR_SHEET, dtype={"Step Type": str, "Step Outcome": str})
    assert tuple(rows.columns) == WESTMOOR_COLUMNS
    assert pd.api.types.is_datetime64_any_dtype(rows["Step Start"])
    assert pd.api.types.is_datetime64_any_dtype(rows["Step End"]) and rows["Step End"].isna().any()
    assert pd.api.types.is_integer_dtype(rows["Person ID"])


def test_configs_tell_the_extracts_apart() -> None:
    """The front-door extract's start and step columns are not the care extract's, so columns tell them apart."""
    for name in ("riverside", "westmoor"):
        config = _config(name)
        assert config.front_door is not None and config.source.columns is not None
        fd, care = config.front_door.columns, config.source.columns
        assert fd.person_id == care.person_id  # the same people, the same id column
        assert {fd.start, fd.end, fd.code, fd.exit_code}.isdisjoint(set(care.mapping()))
        assert config.front_door.data_start == config.source.data_start
    assert _config("riverside").front_door.data_start == RIVERSIDE_DATA_START  # type: ignore[union-attr]
    assert _config("westmoor").front_door.data_start == WESTMOOR_DATA_START  # type: ignore[union-attr]


def _unmapped(config: PathwayConfig, rows: pd.DataFrame) -> list[str]:
    """Codes no `source: front_door` rule maps: steps need a stage, outcomes an outcome."""
    assert config.front_door is not None
    columns = config.front_door.columns
    stage_rules = [r for r in config.rules if r.source == "front_door" and r.action == "stage"]
    outcome_rules = [r for r in config.rules if r.source == "front_door" and r.action == "outcome"]
    assert {r.column for r in stage_rules} == {columns.code}
    assert {r.column for r in outcome_rules} == {columns.exit_code}
    problems = [f"step {c}" for c in set(_norm(rows[columns.code])) if not any(r.matches(c) for r in stage_rules)]
    problems += [f"outcome {c}" for c in set(_norm(rows[columns.exit_code])) - {""}
                 if not any(r.matches(c) for r in outcome_rules)]
    continuation = {c.upper() for c in config.source.continuation_codes}
    assert not continuation & set(_norm(rows[columns.exit_code]))
    return problems


def test_every_code_is_mapped_by_a_front_door_rule(riverside: pd.DataFrame, westmoor: pd.DataFrame) -> None:
    for name, rows, steps, outcomes in (("riverside", riverside, F.RIVERSIDE_STEPS, F.RIVERSIDE_OUTCOMES),
                                        ("westmoor", westmoor, F.WESTMOOR_STEPS, F.WESTMOOR_OUTCOMES)):
        config = _config(name)
        assert _unmapped(config, rows) == [], name
        assert config.front_door is not None
        every = pd.DataFrame({config.front_door.columns.code: (list(steps) * 2)[:len(outcomes)],
                              config.front_door.columns.exit_code: list(outcomes)})
        assert _unmapped(config, every) == [], name  # every code the writers know, written or not
    assert {"F10", "F11", "F20", "F21", "F30", "F40", "F50", "F60", "F65"} == set(westmoor["Step Type"])
    assert set(F.RIVERSIDE_STEPS) == set(_norm(riverside["StepType"]))
    assert {"NFA", "ADVICE", "EH-CLOSE", "EH-WDRN", "CLOSED", "TRANSFER"} <= set(riverside["StepOutcome"])


def test_the_stages_each_code_means() -> None:
    """Each shared step lands in its stage: CIN and CINP (riverside), F50 (westmoor) are both child in need."""
    stage_of = {"contact": "contact", "early_help": "early_help", "referral": "referral", "assessment": "assessment",
                "child_in_need": "child_in_need", "cin_plan": "child_in_need", "section_47": "section_47",
                "cp_plan": "child_protection"}
    for name, codes in (("riverside", F.RIVERSIDE_STEPS), ("westmoor", F.WESTMOOR_STEPS)):
        rules = [r for r in _config(name).rules if r.source == "front_door" and r.action == "stage"]
        for step, code in zip(F.STEPS, codes):
            assert next(r.stage for r in rules if r.matches(code)) == stage_of[step], (name, code)
    rules = [r for r in _config("westmoor").rules if r.source == "front_door" and r.action == "stage"]
    assert next(r.stage for r in rules if r.matches(F.WESTMOOR_MASH)) == "contact"
    assert next(r.stage for r in rules if r.matches(F.WESTMOOR_FAMILY_SUPPORT)) == "early_help"
    outcomes = {r.outcome for r in _config("riverside").rules if r.source == "front_door" and r.outcome}
    assert outcomes == {"no_further_action", "case_closed"}


# --- linked to the care extracts ------------------------------------------------------------------------------------
def test_ids_link_to_the_care_extract(written: dict[str, list[Path]], riverside: pd.DataFrame,
                                      mid: tuple[pd.DataFrame, pd.DataFrame, CinTables, pd.DataFrame],
                                      westmoor: pd.DataFrame) -> None:
    care = pd.read_csv(written["riverside"][0], dtype=str, keep_default_na=False, encoding="cp1252")
    in_care, front = set(care["ClientRef"]), set(riverside["ClientRef"])
    # children starting a period of care (not a move, not a short break) once the data begins
    moved = (_norm(care["EndReason"]).shift() == "MOVE") & care["ClientRef"].eq(care["ClientRef"].shift())
    entry = ~moved & (_norm(care["ServiceCode"]) != "RESPITE") & (care["ServiceStart"] >= f"{RIVERSIDE_DATA_START}")
    assert entry.sum() > 1_000 and front.issuperset(set(care.loc[entry, "ClientRef"]))
    assert len(front - in_care) > 2 * len(in_care)  # children only known to the front door
    assert riverside["ClientRef"].str.fullmatch(r"RV\d{6}").all()
    episodes, header, _, _ = mid
    care_rows = westmoor_rows(episodes, header, seed=8)
    joined = westmoor.merge(care_rows[["Person ID", "Locality"]].drop_duplicates(), on="Person ID",
                            suffixes=("", "_care"))
    assert len(joined) and (joined["Locality"] == joined["Locality_care"]).all()
    moved = care_rows["End Reason"].shift().isin(["R00", "R01"]) & care_rows["Person ID"].eq(
        care_rows["Person ID"].shift())
    entry = ~moved & (care_rows["Placement Type"] != "P70") & (care_rows["Placement Start"] >=
                                                               pd.Timestamp(WESTMOOR_DATA_START))
    assert entry.sum() > 300 and set(care_rows.loc[entry, "Person ID"]) <= set(westmoor["Person ID"])


def test_children_entering_care_meet_the_front_door_first(mid: tuple[pd.DataFrame, pd.DataFrame, CinTables,
                                                                     pd.DataFrame]) -> None:
    episodes, _, _, steps = mid
    met = M.care_entries_met(steps, episodes, WESTMOOR_DATA_START, EXTRACT)
    assert met["entries"] > 500
    assert met["met"] == 1.0  # a step starts on or before the day care starts and is open on it (or ends then)
    assert 0.65 < met["known_a_week_before"] < 0.9  # the rest: emergencies, referred days before


# --- coherent -------------------------------------------------------------------------------------------------------
def _runs(person: pd.Series, start: pd.Series, end: pd.Series) -> np.ndarray:
    """Run number of each row: rows of one person that follow on without a day's gap (start <= reach so far)."""
    frame = pd.DataFrame({"p": person.to_numpy(), "s": start.to_numpy(), "e": end.fillna(FAR).to_numpy()})
    frame = frame.sort_values(["p", "s"], kind="stable")
    reach = frame.groupby("p", sort=False)["e"].cummax()
    before = reach.groupby(frame["p"], sort=False).shift()
    new = before.isna() | (frame["s"] > before)
    runs = pd.Series(np.cumsum(new.to_numpy()), index=frame.index)
    return runs.sort_index().to_numpy()


def _check_coherent(person: pd.Series, start: pd.Series, end: pd.Series, rank: pd.Series,
                    outcome: pd.Series) -> None:
    assert start.notna().all() and (end.isna() | (end >= start)).all()
    assert (start <= pd.Timestamp(EXTRACT)).all() and (end.isna() | (end <= pd.Timestamp(EXTRACT))).all()
    order = pd.DataFrame({"p": person, "s": start})
    assert order.equals(order.sort_values(["p", "s"], kind="stable"))  # by person, then start
    has = outcome.notna() & (outcome != "")
    assert end[has].notna().all()  # only a step that ended says how
    frame = pd.DataFrame({"run": _runs(person, start, end), "e": end.fillna(FAR), "rank": rank,
                          "has": has})
    assert frame.groupby("run")["has"].sum().max() == 1  # one outcome at most per case
    last = frame.sort_values(["run", "e", "rank"], kind="stable").drop_duplicates("run", keep="last")
    assert frame.index[has].isin(last.index).all()  # on the step that ends last (the highest stage of a tie)


def test_dates_and_outcomes_are_coherent(riverside: pd.DataFrame, westmoor: pd.DataFrame) -> None:
    rank = {code: i for i, code in enumerate(F.RIVERSIDE_STEPS)}
    start = pd.to_datetime(riverside["StepStart"], format="%Y-%m-%d")
    end = pd.to_datetime(riverside["StepEnd"].replace("", None), format="%Y-%m-%d")
    _check_coherent(riverside["ClientRef"], start, end, _norm(riverside["StepType"]).map(rank),
                    riverside["StepOutcome"])
    wrank = {**{code: i for i, code in enumerate(F.WESTMOOR_STEPS)}, F.WESTMOOR_MASH: 0, F.WESTMOOR_FAMILY_SUPPORT: 1}
    _check_coherent(westmoor["Person ID"], westmoor["Step Start"], westmoor["Step End"],
                    westmoor["Step Type"].map(wrank), westmoor["Step Outcome"])
    assert (end.isna() | (end >= pd.Timestamp(RIVERSIDE_DATA_START))).all()  # ended before the data: not loaded
    assert (westmoor["Step End"].isna() | (westmoor["Step End"] >= pd.Timestamp(WESTMOOR_DATA_START))).all()


def test_steps_of_a_case_follow_on_except_while_in_care(mid: tuple[pd.DataFrame, pd.DataFrame, CinTables,
                                                                   pd.DataFrame]) -> None:
    episodes, _, _, steps = mid
    runs = _runs(steps["case"], steps["start"], steps["end"])
    per_case = pd.Series(runs).groupby(steps["case"].to_numpy()).nunique()
    split = per_case[per_case > 1].index
    assert len(split) < 0.05 * len(per_case)
    # where a case has a gap, the child was in care through it
    rows = steps[steps["case"].isin(split)].sort_values(["case", "start"], kind="stable")
    reach = rows["end"].fillna(FAR).groupby(rows["case"]).cummax().groupby(rows["case"]).shift()
    after_gap = rows["start"] > reach
    gaps = pd.DataFrame({"child": rows["child"], "gap_from": reach, "gap_to": rows["start"]})[after_gap]
    assert len(gaps) >= len(split)
    ids = pd.Index(sorted(set(steps["child"])), dtype="object")
    per = care_periods(episodes, ids)
    known = per["child"] >= 0
    care = pd.DataFrame({"child": ids[per["child"][known]], "care_start": _days(per["start"][known]),
                         "care_end": _days(per["end"][known])})
    m = gaps.reset_index().merge(care, on="child")
    covered = (m["care_start"] <= m["gap_from"]) & (m["care_end"].isna() | (m["care_end"] >= m["gap_to"]))
    assert set(m.loc[covered, "index"]) == set(gaps.index)


def _days(days: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(np.where(days >= 0, days, np.nan), unit="D"))


def test_steps_come_from_the_cin_census_blocks(mid: tuple[pd.DataFrame, pd.DataFrame, CinTables,
                                                          pd.DataFrame]) -> None:
    """Referrals, assessments, plans, enquiries and CP plans are the census generator's, one for one."""
    _, _, cin, steps = mid
    since, until = pd.Timestamp(WESTMOOR_DATA_START), pd.Timestamp(EXTRACT)
    step = steps["step"].astype("str")
    for name, frame, column in (("referral", cin.cin_details, "CINreferralDate"),
                                ("assessment", cin.assessments, "AssessmentActualStartDate"),
                                ("cin_plan", cin.cin_plans, "CINPlanStartDate"),
                                ("section_47", cin.section47, "S47ActualStartDate"),
                                ("cp_plan", cin.cp_plans, "CPPstartDate")):
        ours = steps[(step == name) & (steps["start"] >= since)]
        theirs = frame[(frame[column] >= since) & (frame[column] <= until)]
        assert sorted(zip(ours["child"], ours["start"])) == sorted(zip(theirs["LAchildID"], theirs[column])), name


def test_shares_are_realistic(mid: tuple[pd.DataFrame, pd.DataFrame, CinTables, pd.DataFrame]) -> None:
    _, _, cin, steps = mid
    since, until = dt.date(2017, 4, 1), dt.date(2024, 3, 31)
    s = M.front_door_shares(steps, since, until)
    assert 0.57 < s["contact_no_further"] < 0.63
    assert 2.7 < s["contacts_per_referral"] < 3.7
    assert 0.06 < s["contact_to_early_help"] < 0.13
    assert 0.35 < s["early_help_per_referral"] < 0.7
    assert 0.06 < s["referral_from_early_help"] < 0.18
    census = CM.referral_shares(cin, since, until)
    for ours, theirs in (("assessed", "assessed"), ("s47", "s47"), ("referral_nfa", "referral_nfa")):
        assert abs(s[ours] - census[theirs]) < 0.01, ours
    assert 0.45 < s["assessed"] < 0.62 and 0.27 < s["s47"] < 0.4 and 0.08 < s["cp_plan"] < 0.2
    outcome = steps["outcome"].value_counts(normalize=True)
    assert outcome["nfa"] > outcome["advice"] > outcome["services_ceased"] > outcome["eh_needs_met"]
    assert outcome["eh_needs_met"] > 2 * outcome["eh_withdrawn"]
