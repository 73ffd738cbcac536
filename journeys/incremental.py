"""Adding new extracts to a build: only the new files are read, and only the children they touch are built again.

A child's outputs depend only on their own rows and the extract date (the partitioned build rests
on this too; tests/test_partitioned.py checks it). So a build keeps, beside its outputs (the
folder `incremental/`), its input rows with the children keyed (never their ids), where each row
ended up in the row accounting, and its issues, each with the child it is about. A build on top
of it (`journeys build --from BUILD_DIR`; the app's cache when this month's extract joins the
folder):
1. checks that the earlier build's inputs are the first inputs given, byte for byte, under the same
   config, stage model, code and key (else everything is built again, and it says why);
2. reads only the files after them (SSDA903 or local extracts: a new census return builds every input);
3. decides the extract date over every row (the earlier rows by their latest dates, kept);
4. builds again the children the new rows touch and, where the extract date moved, the children
   whose outputs depend on it (an open episode, or a date after the earlier of the two dates);
5. splices them into the earlier outputs in child order, and counts the rows again from every
   row's kept outcome.
The files are the same as a build of every input from scratch (tests/test_incremental.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from journeys.accounting import RowLedger
from journeys.cache import ATTRIBUTES_FILE
from journeys.cin import CinStack, stack_cin
from journeys.cin_reader import CHILDREN as CIN_CHILDREN
from journeys.cin_reader import DETAILS as CIN_DETAILS
from journeys.cin_source import CinInputs, keyed_cin, split_inputs
from journeys.config import PathwayConfig
from journeys.issues import combine_issues, issue_frame
from journeys.kept import (CIN_KINDS, DECIDED_AGAIN, FORMAT, MANIFEST, STATE_DIR, Kept, attributed, census_kept,
                           input_entries, iso_day, kept_for, latest_dates, latest_frame, minimised, segment_name)
from journeys.partitioned import KINDS, _local_ids, local_block_ids
from journeys.pipeline import (BuildResult, CareDate, Progress, _quiet, _report, build_from_tables,
                               decide_extract_date, read_inputs)
from journeys.sources import CanonicalTables
from journeys.splice import OUTPUTS, member, read_as_built, spliced_attributes, spliced_table
from journeys.stages import StageModel

CIN_TABLES = (CIN_CHILDREN, CIN_DETAILS)
__all__ = ["STATE_DIR", "NotExtendable", "build_adding", "build_keeping", "earlier_build", "extend"]


class NotExtendable(Exception):
    """Why a build cannot add to an earlier one: the caller builds every input instead and says why."""


def build_keeping(inputs: Sequence[Path], config: PathwayConfig, stage_model: StageModel, key: str, *,
                  fingerprint: str, digest: Any, extract_date: dt.date | None = None,
                  return_year: int | None = None, progress: Progress = _quiet) -> BuildResult:
    """`run_pipeline`'s result, with what a later build adds to (`kept`; None without care episodes, or where
    an issue cannot be tied to a child). Census returns are kept stacked and keyed, by child."""
    ledger, tables, cin = read_inputs(inputs, config, return_year, progress)
    if not sum(len(frame) for frame in tables.episodes):
        return build_from_tables(tables, ledger, cin, config, stage_model, key, extract_date, progress)
    tables.key_children(key)  # keyed once, here: the build and what it keeps share the keys
    cin = keyed_cin(cin, key) if cin is not None else None
    result = build_from_tables(tables, ledger, cin, config, stage_model, None, extract_date, progress)
    rows = {kind: _stacked(getattr(tables, kind)) for kind in KINDS if getattr(tables, kind)}
    census = None if cin is None else census_kept(cin, rows, result.report)
    result.kept = kept_for(result, rows, ledger, tables.inputs, inputs, fingerprint=fingerprint, digest=digest,
                           extract_date=extract_date, return_year=return_year, cin=census)
    return result


def extend(base: Path, inputs: Sequence[Path], config: PathwayConfig, stage_model: StageModel, key: str, *,
           fingerprint: str, digest: Any, extract_date: dt.date | None = None, return_year: int | None = None,
           progress: Progress = _quiet) -> BuildResult:
    """The build of every input, made from the build in `base` and the inputs after its own (NotExtendable:
    why it cannot be; build every input instead)."""
    state = Path(base) / STATE_DIR
    try:
        manifest = json.loads((state / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise NotExtendable(f"{base} keeps nothing to add to: it is not a build folder, or it was built by an "
                            "older version or without care episodes") from None
    needed = [state / "ledger.parquet", state / "issues.parquet", *(Path(base) / f"{name}.parquet" for name in OUTPUTS),
              Path(base) / ATTRIBUTES_FILE, *(state / n for names in manifest.get("segments", {}).values() for n in names)]
    missing = [str(path.relative_to(base)) for path in needed if not path.is_file()]
    if missing or not (Path(base) / "report.json").is_file():
        raise NotExtendable(f"the earlier build in {base} is incomplete ({', '.join(missing) or 'report.json'} "
                            "missing)")
    new_paths = _new_inputs(manifest, inputs, fingerprint, digest, extract_date, return_year)
    if split_inputs(new_paths)[0]:
        raise NotExtendable("the new inputs include CIN census XML, which is not added to a build yet")
    old_tables = [tuple(t) for t in manifest["tables"]]
    ledger = RowLedger()
    for file, table, _, n in old_tables:
        ledger.add_table(file, table, int(n))
    outcomes = pd.read_parquet(state / "ledger.parquet")
    ledger.bucket = outcomes["bucket"].to_numpy(dtype=np.int8).copy()
    ledger.reason = outcomes["reason"].to_numpy(dtype=object, na_value=None).copy()
    _, new, _ = read_inputs(new_paths, config, return_year, progress, ledger=ledger)
    new.key_children(key)
    new_rows = {kind: _stacked(getattr(new, kind)) for kind in KINDS if getattr(new, kind)}
    dated = pd.concat([latest_frame(manifest["latest"]),
                       *([new_rows["episodes"][["start", "end", "return_year"]]] if "episodes" in new_rows else [])])
    when, inferred = decide_extract_date(config, dated, extract_date)
    before = dt.date.fromisoformat(manifest["care_date"])
    kinds = sorted((set(manifest["kinds"]) | set(new_rows)) - set(CIN_KINDS))
    segments = {kind: [state / name for name in names] for kind, names in manifest["segments"].items()}
    moved = None if when == before else min(when, before)
    census = manifest.get("cin")
    cin_when = _census_date(census, config, extract_date, when)
    dated_columns = {kind: [c for c in ("person_id", "start", "end") if c in pq.read_schema(segments[kind][0]).names]
                     for kind in kinds if kind in segments}
    old_keys = {kind: pd.concat([pd.read_parquet(path, columns=dated_columns[kind]) for path in segments[kind]],
                                ignore_index=True) for kind in dated_columns} if moved else {}
    touched, blank = _touched(old_keys, new_rows, moved)
    progress(f"Adding to the earlier build: {touched.size + blank:,} children to build again")
    tables = CanonicalTables()
    for kind in kinds:
        parts = [_touched_rows(path, touched, blank) for path in segments.get(kind, [])] + \
            ([new_rows[kind]] if kind in new_rows else [])
        getattr(tables, kind).append(pd.concat(parts, ignore_index=True))
    cin = _touched_census(census, segments, touched, blank)
    local, ids = _local_ledger(tables, ledger, cin)
    result = build_from_tables(tables, local, cin, config, stage_model, None, extract_date, progress,
                               care_date=CareDate(when, inferred), required=False)
    ledger.bucket[ids], ledger.reason[ids] = local.bucket, local.reason

    progress("Joining them to the earlier build")
    read_here = list(new.issues) + ([issue_frame("inferred-extract-date", None, None, value=f"{when:%d/%m/%Y}")]
                                    if inferred else [])
    rebuilt_rows = {kind: getattr(tables, kind)[0] for kind in kinds} | (
        {"cin_episodes": cin.stack.episodes} if cin is not None else {})
    kept_issues = _joined_issues(pd.read_parquet(state / "issues.parquet"), read_here, result.issues,
                                 rebuilt_rows, touched, blank, config)
    issues = kept_issues.drop(columns=["_child", "_about_child"])
    issues["column"] = issues["column"].map(lambda c: c)  # the type pandas gives these names, as one map of all
    info = CanonicalTables(inputs=[*manifest["table_info"], *new.inputs])
    report = _report(_as_read(ledger), issues, info, config, when, inferred)
    report["extract_dates"] = {config.source.format: when.isoformat(), **(
        {"cin": cin_when} if cin_when is not None else {}), **(
        {"front_door": (extract_date or (config.front_door.extract_date if config.front_door else None) or when)
         .isoformat()} if "front_door" in kinds else {})}
    files = {file: i for i, (file, *_) in reversed(list(enumerate(ledger.tables)))}
    frames = {name: spliced_table(Path(base) / f"{name}.parquet", touched, getattr(result, name),
                             files if name == "episodes" else None) for name in OUTPUTS}
    attributes = spliced_attributes(read_as_built(Path(base) / ATTRIBUTES_FILE), touched, result)
    added = len(manifest["inputs"])  # names this build's files of rows apart from the earlier ones
    manifest = {**manifest, "inputs": manifest["inputs"] + input_entries(new_paths, digest),
                "tables": [list(t) for t in ledger.tables], "table_info": info.inputs,
                "care_date": when.isoformat(), "latest": latest_dates(dated),
                "kinds": sorted(manifest["kinds"] + [k for k in new_rows if k not in manifest["kinds"]]),
                "segments": {kind: [*(p.name for p in segments.get(kind, [])),
                                    *([segment_name(kind, added)] if kind in new_rows else [])]
                             for kind in [*kinds, *(CIN_KINDS if census else ())]}}
    kept = Kept({k: minimised(k, f) for k, f in new_rows.items()}, ledger.bucket, ledger.reason, kept_issues,
                manifest, segments)
    return BuildResult(frames["episodes"], frames["spells"], frames["transitions"], issues, report, stage_model,
                       kept, attributes)


def _joined_issues(earlier: pd.DataFrame, read_here: list[pd.DataFrame], rebuilt: pd.DataFrame,
                   rows: dict[str, pd.DataFrame], touched: np.ndarray, blank: bool, config: PathwayConfig) -> pd.DataFrame:
    """The issues of the build of every input, each with its child: the earlier build's, less those of the
    children built again and those decided again; the new files' own (`read_here`); the rebuilt children's."""
    names = {canon: src for src, canon in config.column_names().items()}
    fresh = combine_issues(read_here)
    fresh["column"] = fresh["column"].map(lambda c: names.get(c, c) if isinstance(c, str) else c)
    gone = earlier["_about_child"].to_numpy() & _is_touched(earlier["_child"], touched, blank) | \
        earlier["code"].isin(DECIDED_AGAIN).to_numpy()
    theirs = attributed(rebuilt, rows)
    if theirs is None:
        raise NotExtendable("an issue of the children built again is about no row of theirs")
    fresh = fresh.assign(_child=pd.array([None] * len(fresh), dtype="UInt64"), _about_child=False)
    joined = combine_issues([earlier[~gone], fresh, theirs])
    if "_child" not in joined:  # none at all
        joined = joined.assign(_child=pd.array([], dtype="UInt64"), _about_child=np.zeros(0, dtype=bool))
    return joined


# --- helpers -----------------------------------------------------------------------------------------------


def _as_read(ledger: RowLedger) -> RowLedger:
    """The ledger with its tables listed as a build of every input reads them: the extracts' tables, then the
    census's (the ids stay: an added build's extracts come after the census it keeps)."""
    census = [t for t in ledger.tables if t[1] in CIN_TABLES]
    return dataclasses.replace(ledger, tables=[t for t in ledger.tables if t[1] not in CIN_TABLES] + census)


def _census_date(census: dict[str, Any] | None, config: PathwayConfig, extract_date: dt.date | None,
                 when: dt.date) -> str | None:
    """The census's extract date in the build of every input, as build_from_tables decides it (None without a
    census); NotExtendable where it would move, since every census child would then be built again."""
    if census is None:
        return None
    given = extract_date or (config.cin.extract_date if config.cin else None)
    decided = given or (dt.date.fromisoformat(census["reference_date"]) if census["reference_date"] else when)
    if decided.isoformat() != census["when"]:
        raise NotExtendable("the census returns' extract date would move (they carry no reference date and the "
                            "care extract's moved)")
    return decided.isoformat()


def _touched_census(census: dict[str, Any] | None, segments: dict[str, list[Path]], touched: np.ndarray,
                    blank: bool) -> CinInputs | None:
    """The kept census of the children built again (keyed), as the build reads it; None without a census."""
    if census is None:
        return None
    episodes = pd.concat([_touched_rows(p, touched, blank) for p in segments["cin_episodes"]], ignore_index=True)
    children = pd.concat([_touched_rows(p, touched, blank, "la_child_id") for p in segments["cin_children"]],
                         ignore_index=True)
    empty = stack_cin([])
    stack = CinStack(children, empty.details, episodes, empty.superseded, empty.repeats, empty.issues)
    return CinInputs(stack, dt.date.fromisoformat(census["reference_date"]) if census["reference_date"] else None,
                     census["first_year"], keyed=True)


def _touched_rows(path: Path, touched: np.ndarray, blank: bool, column: str = "person_id") -> pd.DataFrame:
    """A file of kept rows, only the touched children's (filtered in Arrow: the rest never become pandas)."""
    table = pq.read_table(path)
    keys = table.column(column).to_pandas().astype("UInt64")
    chosen = table.filter(pa.array(_is_touched(keys, touched, blank)))
    return chosen.to_pandas()


def _stacked(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True)


def _new_inputs(manifest: dict[str, Any], inputs: Sequence[Path], fingerprint: str, digest: Any,
                extract_date: dt.date | None, return_year: int | None) -> list[Path]:
    """The inputs after the earlier build's own, once every condition for adding to it holds."""
    if manifest.get("format") != FORMAT:
        raise NotExtendable("the earlier build was written by another version of its format")
    if manifest["fingerprint"] != fingerprint:
        raise NotExtendable("the config, the stage model, the tool or the pseudonymisation key changed since")
    if manifest["extract_date_given"] != iso_day(extract_date) or manifest["return_year_given"] != return_year:
        raise NotExtendable("--extract-date or --year differs from the earlier build's")
    earlier = manifest["inputs"]
    given = [Path(p) for p in inputs]
    if len(given) < len(earlier):
        raise NotExtendable(f"the earlier build read {len(earlier)} files and only {len(given)} are given")
    for old, path in zip(earlier, given):
        if old["name"] != path.name:
            raise NotExtendable(f"the earlier build's inputs must come first, in its order: {old['name']} "
                                f"was read where {path.name} is given")
        if old["sha256"] != digest(path):
            raise NotExtendable(f"{path.name} changed since the earlier build read it")
    return given[len(earlier):]


def _is_touched(keys: pd.Series, touched: np.ndarray, blank: bool) -> np.ndarray:
    """Which rows are of a touched child (`blank`: rows without a child id count as one child)."""
    present = keys.notna().to_numpy()
    out = np.zeros(len(keys), dtype=bool)
    out[present] = member(keys.to_numpy(dtype=np.uint64, na_value=0)[present], touched)
    return out | (~present & blank)


def _touched(old_rows: dict[str, pd.DataFrame], new_rows: dict[str, pd.DataFrame],
             dated_after: dt.date | None) -> tuple[np.ndarray, bool]:
    """The children to build again: every child of a new row, and where the extract date moved
    (`dated_after`: the earlier of the two), every child with an open row or a date after it."""
    keys = [frame["person_id"] for frame in new_rows.values()]
    if dated_after is not None:
        limit = pd.Timestamp(dated_after)
        for frame in old_rows.values():
            if "start" in frame:
                end = frame["end"] if "end" in frame else pd.Series(pd.NaT, index=frame.index)
                moved = (end.isna() | (end > limit) | (frame["start"] > limit)).to_numpy()
                keys.append(frame["person_id"][moved])
    every = pd.concat(keys, ignore_index=True) if keys else pd.Series([], dtype="UInt64")
    blank = bool(every.isna().any())
    return np.unique(every.dropna().to_numpy(dtype=np.uint64)), blank


def _local_ledger(tables: CanonicalTables, ledger: RowLedger,
                  cin: CinInputs | None = None) -> tuple[RowLedger, np.ndarray]:
    """A ledger of every table holding only the rows in `tables` and the census blocks of `cin` (ids
    renumbered in place, as a partition's), and those rows' ids in `ledger`, in the local ledger's order."""
    starts = np.array([first for _, _, first, _ in ledger.tables], dtype=np.int64)
    blocks = np.unique(cin.stack.episodes["row_id"].to_numpy(dtype=np.int64)) if cin is not None else \
        np.zeros(0, dtype=np.int64)
    ids = np.sort(np.concatenate([frame["row_id"].to_numpy(dtype=np.int64) for kind in KINDS
                                  for frame in getattr(tables, kind)] + [blocks]))
    counts = np.bincount(np.searchsorted(starts, ids, side="right") - 1, minlength=len(starts))
    local = RowLedger()
    local_starts = np.zeros(len(starts), dtype=np.int64)
    for i, ((file, table, _, _), n) in enumerate(zip(ledger.tables, counts)):
        local_starts[i] = len(local.bucket)
        local.add_table(file, table, int(n))
    for kind in KINDS:
        for frame in getattr(tables, kind):
            frame["row_id"] = _local_ids(frame["row_id"].to_numpy(dtype=np.int64), starts, local_starts)
    if cin is not None:
        cin.stack.episodes["row_id"] = local_block_ids(cin.stack.episodes["row_id"], starts, local_starts)
    return local, ids


def build_adding(inputs: Sequence[Path], config: PathwayConfig, stage_model: StageModel, key: str, *,
                 base: Path | None, fingerprint: str, digest: Any, extract_date: dt.date | None = None,
                 return_year: int | None = None, progress: Progress = _quiet) -> tuple[BuildResult, str | None]:
    """The build of `inputs`, added to the build in `base` where it can be; else of every input, with the
    reason it could not be added (None: added, or no `base`)."""
    options = {"fingerprint": fingerprint, "digest": digest, "extract_date": extract_date,
               "return_year": return_year, "progress": progress}
    why = None
    if base is not None:
        try:
            return extend(base, inputs, config, stage_model, key, **options), None
        except NotExtendable as reason:
            why = str(reason)
            progress(f"Building every input, not adding to {base}: {why}")
    return build_keeping(inputs, config, stage_model, key, **options), why


def earlier_build(cache_root: Path, inputs: Sequence[Path], fingerprint: str, digest: Any) -> Path | None:
    """The cached build (a folder of `cache_root`) whose inputs are the most of the first `inputs` given, under
    the same fingerprint: what this build can add to. None if there is none."""
    best, most = None, 0
    for manifest_path in Path(cache_root).glob(f"*/{STATE_DIR}/{MANIFEST}"):
        folder = manifest_path.parent.parent
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            earlier = manifest["inputs"]
            if manifest.get("fingerprint") != fingerprint or not (most < len(earlier) <= len(inputs)) or \
                    not (folder / "report.json").is_file():
                continue
            if all(old["name"] == Path(p).name and old["sha256"] == digest(Path(p)) for old, p in zip(earlier, inputs)):
                best, most = folder, len(earlier)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a folder being written, or not ours: not one to add to
    return best
