"""The one orchestrator: inputs + config -> episodes, spells, transitions, issues and the report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from journeys.accounting import RowLedger
from journeys.codes import SEX
from journeys.census_apart import parsing_apart
from journeys.cin_source import CinInputs, Parse, cin_intervals, load_cin, split_inputs
from journeys.config import PathwayConfig
from journeys.front_door import front_door_intervals
from journeys.contracts import check_outputs
from journeys.errors import BuildError
from journeys.joined import care_intervals, joined_spells
from journeys.issues import combine_issues, issue_frame, render_message, summarise_issues
from journeys.mapping import map_episodes, settle_mapping
from journeys.pseudonymise import child_keys, load_key, pseudonym_text
from journeys.readers import read_tables
from journeys.sources import CanonicalTables, canonicalise
from journeys.spells import JourneyRules, empty_spells, absorb_stages, build_spells, mark_journeys, resolve_overlaps
from journeys.header import attach_header, settle_header
from journeys.stacking import stack_episodes
from journeys.stages import StageModel, load_stage_model
from journeys.transitions import build_transitions, transition_graph
from journeys.validate import check_episodes

if TYPE_CHECKING:
    import networkx as nx

Progress = Callable[[str], None]
EPISODE_COLUMNS = ["authority", "person_id", "start", "end", "code", "exit_code", "source", "row_ref",
                   "return_year", "sex", "birth_month", "ethnicity", "legal_status", "need_code", "stage",
                   "journey_no"]
_OPTIONAL = ["end", "end_text", "exit_code", "rne", "legal_status", "need_code", "sex", "ethnicity"]


@dataclass
class BuildResult:
    """Everything one build produces; `graph()` derives the networkx graph on demand."""

    episodes: pd.DataFrame
    spells: pd.DataFrame
    transitions: pd.DataFrame
    issues: pd.DataFrame
    report: dict[str, object]
    stage_model: StageModel = field(repr=False)
    #: what a later build can add to (journeys.incremental.Kept), written beside the outputs; None: nothing
    kept: object | None = field(default=None, repr=False)
    #: each journey's attributes where the build worked them out (an added build splices them); None: derived
    attributes: pd.DataFrame | None = field(default=None, repr=False)

    def graph(self) -> nx.DiGraph:
        """The stage -> stage graph with `count` and `median_days` per edge."""
        return transition_graph(self.transitions, self.stage_model)


def _quiet(_: str) -> None:
    pass


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["row_id"])
    for col in ("file", "source"):
        if col in frame:
            frame[col] = frame[col].astype("category")  # the same value on every row of a file
    for col in columns:
        if col not in frame:
            frame[col] = pd.Series(pd.NA, index=frame.index, dtype="str")
    if "end" in columns and not pd.api.types.is_datetime64_any_dtype(frame["end"]):
        frame["end"] = pd.to_datetime(frame["end"]).astype("datetime64[us]")
    return frame


def decide_extract_date(config: PathwayConfig, episodes: pd.DataFrame, given: dt.date | None) -> tuple[
        dt.date, bool]:
    """The censoring date: given, else the config's, else the latest return's 31 March (or latest date)."""
    if given or config.source.extract_date:
        return (given or config.source.extract_date), False  # type: ignore[return-value]
    if config.source.format == "ssda903" and (episodes["return_year"] > 0).any():
        return dt.date(int(episodes["return_year"].max()), 3, 31), True
    dates = pd.concat([episodes["start"], episodes["end"]]).dropna()
    if dates.empty:
        raise BuildError("no episode has a readable date, so there is nothing to build",
                         fix="check the date columns and the date_format in the config.")
    return dates.max().date(), True


def run_pipeline(inputs: Sequence[Path], config: PathwayConfig, *, stage_model: StageModel | None = None,
                 extract_date: dt.date | None = None, return_year: int | None = None, key: str | None = None,
                 progress: Progress = _quiet) -> BuildResult:
    """Load, validate, map and build; every input row is accounted for in the report.

    SSDA903 or local extracts make care journeys; CIN census returns given with them (or alone)
    join the front door and child in need to the same children, one stage at a time.
    """
    stage_model = stage_model or load_stage_model()
    ledger, tables, cin = read_inputs(inputs, config, return_year, progress)
    return build_from_tables(tables, ledger, cin, config, stage_model, key or load_key(), extract_date, progress)


def read_inputs(inputs: Sequence[Path], config: PathwayConfig, return_year: int | None = None,
                progress: Progress = _quiet, ledger: RowLedger | None = None, parse: Parse | None = None) -> tuple[
                    RowLedger, CanonicalTables, CinInputs | None]:
    """Every input read: tables into canonical tables, CIN census XML stacked; each row registered in the ledger
    (`ledger`: one holding an earlier build's tables, whose row ids these continue; `parse`: how the census
    files are parsed, e.g. on a cluster's workers)."""
    ledger, tables = ledger or RowLedger(), CanonicalTables()
    cin_paths, table_paths = split_inputs(inputs)
    with parsing_apart(cin_paths if parse is None else []) as apart:  # the census parsed meanwhile, elsewhere
        for path in table_paths:
            progress(f"Reading {path.name}")
            for raw in read_tables(Path(path)):
                canonicalise(raw, config, ledger, tables, return_year)
        for path in cin_paths:
            progress(f"Reading {path.name} (CIN census)")
        return ledger, tables, (load_cin(cin_paths, ledger, parse or apart) if cin_paths else None)


@dataclass(frozen=True)
class CareDate:
    """The care extract's censoring date decided beforehand over all children (a partitioned build's
    partitions must not each infer their own), and whether it was inferred."""

    when: dt.date
    inferred: bool


def build_from_tables(tables: CanonicalTables, ledger: RowLedger, cin: CinInputs | None, config: PathwayConfig,
                      stage_model: StageModel, key: str | None, extract_date: dt.date | None = None,
                      progress: Progress = _quiet, care_date: CareDate | None = None,
                      required: bool | None = None) -> BuildResult:
    """The build from canonical tables on: the one function the embedded and partitioned engines run.

    `care_date` and `required` (some care, front-door or CIN rows exist) are given by a partitioned
    build, which decides them over every partition; the embedded build decides them here. `key` None:
    the care and front-door rows' child ids are keyed already (journeys.incremental).
    """
    issues = list(tables.issues) + ([cin.stack.issues] if cin else [])
    front = _concat(tables.front_door, ["person_id", "start", "start_text", *_OPTIONAL]) if tables.front_door \
        else None
    care = _care(tables, config, stage_model, ledger, issues, key, extract_date, progress,
                 required=(cin is None and front is None) if required is None else required, care_date=care_date)
    spells, episodes, when, inferred = care
    extract_dates: dict[str, str] = {config.source.format: when.isoformat()} if when else {}
    joined: list[pd.DataFrame] = []
    if cin is not None:
        if key is None and not cin.keyed:
            raise ValueError("CIN census rows are keyed as they are read: give the key")
        progress("Joining the CIN census")
        cin_when = extract_date or config.cin.extract_date or cin.reference_date or when
        if cin_when is None:
            raise BuildError("the CIN census files carry no reference date and no extract date was given",
                             fix="give --extract-date or cin.extract_date in the config.")
        intervals, rows = cin_intervals(cin, config, key, ledger, issues, cin_when)
        joined.append(intervals)
        episodes = pd.concat([episodes, _joined_episodes_out(rows, config, "cin")], ignore_index=True)
        extract_dates["cin"] = cin_when.isoformat()
        when, inferred = (when or cin_when), (inferred if when else cin.reference_date is None)
    if front is not None:
        progress("Joining the front-door extract")
        assert config.front_door is not None
        fd_when = extract_date or config.front_door.extract_date or when
        if fd_when is None:
            fd_when, inferred = decide_extract_date(config, front, None)[0], True
        intervals, rows = front_door_intervals(front, config, key, ledger, issues, fd_when)
        joined.append(intervals)
        episodes = pd.concat([episodes, _joined_episodes_out(rows, config, "front_door")], ignore_index=True)
        extract_dates["front_door"] = fd_when.isoformat()
        when = when or fd_when
    if joined:
        spells = joined_spells(pd.concat([care_intervals(spells), *joined], ignore_index=True), stage_model,
                               config.authority)
    transitions = build_transitions(spells)
    all_issues = combine_issues(issues)
    names = {canon: src for src, canon in config.column_names().items()}
    all_issues["column"] = all_issues["column"].map(lambda c: names.get(c, c) if isinstance(c, str) else c)
    assert when is not None
    report = _report(ledger, all_issues, tables, config, when, inferred)
    report["extract_dates"] = extract_dates  # each source is censored at its own reference date
    for table in (spells, transitions):
        table["person_id"] = pseudonym_text(table["person_id"])
    check_outputs(spells, transitions, stage_model)
    return BuildResult(episodes, spells, transitions, all_issues, report, stage_model)


def _care(tables: CanonicalTables, config: PathwayConfig, stage_model: StageModel, ledger: RowLedger,
          issues: list[pd.DataFrame], key: str | None, extract_date: dt.date | None, progress: Progress,
          required: bool, care_date: CareDate | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dt.date | None, bool]:
    """Care journeys from SSDA903 or local extracts: spells (person ids still keys), episodes out, date."""
    episodes = _concat(tables.episodes, ["person_id", "start", "start_text", *_OPTIONAL])
    header = _concat(tables.header, ["person_id", "sex", "birth_date", "ethnicity"])
    progress(f"Checking {len(episodes):,} episodes")
    episodes["person_id"] = child_keys(episodes["person_id"], key)
    header["person_id"] = child_keys(header["person_id"], key)
    seen = episodes["person_id"].dropna().unique()  # every child with an episode row, used or not
    if episodes.empty:
        if not required:
            settle_header(header, seen, ledger, issues)
            when = care_date.when if care_date else None  # a partition without care, in a build with some
            return empty_spells(), pd.DataFrame(columns=EPISODE_COLUMNS), when, bool(care_date and care_date.inferred)
        problems = combine_issues(issues)
        said = [render_message(r) for r in problems[problems["severity"] == "error"].head(10).to_dict("records")]
        raise BuildError("no episodes could be read from the inputs" + "".join(f"\n  {m}" for m in said),
                         fix="give at least one episodes file with the columns named above.")
    if care_date is None:
        when, inferred = decide_extract_date(config, episodes, extract_date)
        if inferred:
            issues.append(issue_frame("inferred-extract-date", None, None, value=f"{when:%d/%m/%Y}"))
    else:  # decided over every partition, which reports it once
        when, inferred = care_date.when, care_date.inferred
    episodes = _check_and_stack(episodes, when, ledger, issues)
    progress("Mapping codes to stages")
    episodes = _map_codes(episodes, config, ledger, issues)
    progress("Building journeys and spells")
    episodes = _journeys(episodes, config, when, ledger, issues)
    header = settle_header(header, seen, ledger, issues)
    episodes = attach_header(episodes, header, config, issues, given=bool(tables.header))
    return build_spells(episodes, config.authority, when), _episodes_out(episodes, config), when, inferred


def _row_refs(rows: pd.DataFrame) -> pd.Series:
    """Where each row came from, as `file:row` (joined in Arrow: Python made a string per row)."""
    refs = pc.binary_join_element_wise(pa.array(rows["file"]).cast(pa.string()),  # categorical: decoded in Arrow
                                       pc.cast(pa.array(rows["row"].to_numpy(dtype=np.int64)), pa.string()), ":")
    return pd.Series(pd.array(refs, dtype=pd.StringDtype("pyarrow", na_value=np.nan)), index=rows.index)


def _joined_episodes_out(rows: pd.DataFrame, config: PathwayConfig, source: str) -> pd.DataFrame:
    """CIN census or front-door episodes in the canonical episodes table (journeys are the joined ones)."""
    out = pd.DataFrame({
        "authority": config.authority, "person_id": pseudonym_text(rows["person_id"]), "start": rows["start"],
        "end": rows["end"], "code": rows["code"], "exit_code": rows["exit_code"], "source": source,
        "row_ref": _row_refs(rows),
        "return_year": rows["return_year"], "need_code": rows.get("need_code"), "stage": rows["stage"],
        "sex": rows.get("sex"), "birth_month": rows.get("birth_month"), "ethnicity": rows.get("ethnicity"),
    })
    return out.reindex(columns=EPISODE_COLUMNS)


def _check_and_stack(episodes: pd.DataFrame, when: dt.date, ledger: RowLedger,
                     issues: list[pd.DataFrame]) -> pd.DataFrame:
    """Row checks (errors quarantined), censoring at the extract date, then the latest return wins."""
    found, errors = check_episodes(episodes, when)
    issues.append(found)
    if len(errors):
        ledger.quarantine(episodes.loc[errors.index, "row_id"], errors.to_numpy())
    # the dates as written only serve the checks' messages: every later step copies two text columns fewer
    episodes = episodes.drop(columns=["start_text", "end_text"], errors="ignore")
    if len(errors):  # (dropping no rows still copied every column)
        episodes = episodes.drop(index=errors.index)
    open_now = episodes["end"].isna() | (episodes["end"] > pd.Timestamp(when))
    episodes.loc[open_now, ["end", "exit_code"]] = [pd.NaT, pd.NA]
    stacked = stack_episodes(episodes)
    issues.append(stacked.issues)
    ledger.supersede(stacked.superseded)
    ledger.quarantine(stacked.repeats, "duplicate-episode")
    return stacked.kept


def _map_codes(episodes: pd.DataFrame, config: PathwayConfig, ledger: RowLedger,
               issues: list[pd.DataFrame]) -> pd.DataFrame:
    """Apply the config's rules; ignored rows leave by rule, unmapped codes are quarantined."""
    episodes, found = map_episodes(episodes.reset_index(drop=True), config)
    issues.append(found)
    kept = settle_mapping(episodes, ledger)  # the rules' labels leave with the ignored rows they name
    return episodes.drop(columns="rule")[kept].reset_index(drop=True)


def _journeys(episodes: pd.DataFrame, config: PathwayConfig, when: dt.date, ledger: RowLedger,
              issues: list[pd.DataFrame]) -> pd.DataFrame:
    """Overlaps, journeys and absorbed moves; journeys made only of absorbed episodes are quarantined."""
    episodes, found = resolve_overlaps(episodes)
    issues.append(found)
    new_period = config.source.new_period
    rules = JourneyRules(config.merge_gap_days, when,
                         config.canonical(new_period.column) if new_period else None,
                         tuple(new_period.values) if new_period else (), config.source.data_start)
    episodes, found = mark_journeys(episodes, rules)
    issues.append(found)
    episodes, absorbed_only = absorb_stages(episodes)
    if absorbed_only.any():
        bad = episodes[absorbed_only]
        issues.append(issue_frame("absorbed-only-journey", bad["file"], "episodes", bad["row"], "code", bad["code"]))
        ledger.quarantine(bad["row_id"], "absorbed-only-journey")
        episodes = episodes[~absorbed_only].copy()
        episodes["journey_no"] = episodes.groupby("person_id")["journey_id"].rank(method="dense").astype(np.int32)
    return episodes


def _episodes_out(episodes: pd.DataFrame, config: PathwayConfig) -> pd.DataFrame:
    """The canonical episodes table (DESIGN 2), pseudonymised, with the stage and journey each is in."""
    out = episodes.copy()
    out["authority"] = config.authority
    out["person_id"] = pseudonym_text(out["person_id"])
    out["row_ref"] = _row_refs(out)
    if "sex" in out:
        out["sex"] = out["sex"].map(SEX).astype("str")
    birth = pd.to_datetime(out["birth_date"]) if "birth_date" in out else pd.Series(pd.NaT, index=out.index)
    out["birth_month"] = birth.dt.to_period("M").dt.start_time.astype("datetime64[us]")
    for col in EPISODE_COLUMNS:
        if col not in out:
            out[col] = pd.NA
    extra = [c for c in config.cohort_attributes if c in out and c not in EPISODE_COLUMNS]
    return out[EPISODE_COLUMNS + extra].reset_index(drop=True)


def _report(ledger: RowLedger, issues: pd.DataFrame, tables: CanonicalTables, config: PathwayConfig,
            when: dt.date, inferred: bool) -> dict[str, object]:
    """report.json: the accounting keys of DESIGN 8, per input too, and the issues by code."""
    counts = ledger.counts()
    for entry, info in zip(counts["inputs"], tables.inputs):  # type: ignore[call-overload]
        entry.update({k: v for k, v in info.items() if k not in entry and k != "rows"})
    report: dict[str, object] = {
        "authority": config.authority, "config_version": config.config_version,
        "stage_model_version": config.stage_model_version,
        "extract_date": when.isoformat(), "extract_date_inferred": inferred,
    }
    report.update(counts)
    report["issues"] = summarise_issues(issues)
    return report
