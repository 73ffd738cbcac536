"""Adding new extracts to a build: only the new files are read, and only the children they touch are built again.

A child's outputs depend only on their own rows and the extract date (the partitioned build rests
on this too; tests/test_partitioned.py checks it). So a build keeps, beside its outputs (the
folder `incremental/`), its input rows with the children keyed (never their ids), where each row
ended up in the row accounting, and its issues, each with the child it is about. A build on top
of it (`journeys build --from BUILD_DIR`; the app's cache when this month's extract joins the
folder):
1. checks that the earlier build's inputs are the first inputs given, byte for byte, under the same
   config, stage model, code and key (else everything is built again, and it says why);
2. reads only the files after them;
3. decides the extract date over every row (the earlier rows by their latest dates, kept);
4. builds again the children the new rows touch and, where the extract date moved, the children
   whose outputs depend on it (an open episode, or a date after the earlier of the two dates);
5. splices them into the earlier outputs in child order, and counts the rows again from every
   row's kept outcome.
The files are the same as a build of every input from scratch (tests/test_incremental.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from journeys.accounting import RowLedger
from journeys.attributes import NOT_IN_CARE, NOT_RECORDED, _sorted_with_last, journey_attributes
from journeys.cache import ATTRIBUTES_FILE
from journeys.cin_source import split_inputs
from journeys.config import PathwayConfig
from journeys.issues import combine_issues, issue_frame
from journeys.partitioned import _in_child_order, _local_ids, child_order
from journeys.pipeline import (BuildResult, CareDate, Progress, _quiet, _report, build_from_tables,
                               decide_extract_date, read_inputs)
from journeys.pseudonymise import pseudonym_order, pseudonymise_keys
from journeys.sources import CanonicalTables
from journeys.stages import StageModel

STATE_DIR = "incremental"
MANIFEST = "manifest.json"
FORMAT = 1
KINDS = ("episodes", "header", "front_door")
#: issues about no child: found when a file is read (kept with it), or decided by the whole build (decided again)
_READ_ISSUES = frozenset({"missing-column", "inferred-return-year"})
_DECIDED_AGAIN = frozenset({"inferred-extract-date"})
_TABLE_LABEL = {"episodes": "episodes", "header": "header", "front_door": "episodes"}  # as issues name them
_OUTPUTS = ("episodes", "spells", "transitions")


class NotExtendable(Exception):
    """Why a build cannot add to an earlier one: the caller builds every input instead and says why."""


@dataclass
class Kept:
    """What a build keeps so that a later one can add to it (written to `incremental/` beside the outputs)."""

    rows: dict[str, pd.DataFrame]  # the rows this build read, by kind, in ledger order; person_id keyed (UInt64)
    bucket: np.ndarray  # every input row's outcome (RowLedger.bucket) ...
    reason: np.ndarray  # ... and its reason
    issues: pd.DataFrame  # the build's issues, with `_child` (UInt64: the child's key) and `_about_child`
    manifest: dict[str, Any]  # with `segments`: each kind's files of rows, the last of them this build's
    carried: dict[str, list[Path]] = field(default_factory=dict)  # earlier builds' files of rows, kept as they are


def input_entries(inputs: Sequence[Path], digest: Any) -> list[dict[str, str]]:
    """Each input's name and SHA-256 (by `digest(path)`), in the order given."""
    return [{"name": Path(p).name, "sha256": digest(Path(p))} for p in inputs]


def build_keeping(inputs: Sequence[Path], config: PathwayConfig, stage_model: StageModel, key: str, *,
                  fingerprint: str, digest: Any, extract_date: dt.date | None = None,
                  return_year: int | None = None, progress: Progress = _quiet) -> BuildResult:
    """`run_pipeline`'s result, with what a later build adds to (`kept`; None for CIN census XML, which is
    not kept yet, or where an issue cannot be tied to a child)."""
    ledger, tables, cin = read_inputs(inputs, config, return_year, progress)
    if cin is not None or not sum(len(frame) for frame in tables.episodes):
        return build_from_tables(tables, ledger, cin, config, stage_model, key, extract_date, progress)
    for kind in KINDS:  # keyed once, here: the build and what it keeps share the keys
        for frame in getattr(tables, kind):
            frame["person_id"] = pseudonymise_keys(frame["person_id"], key)
    result = build_from_tables(tables, ledger, None, config, stage_model, None, extract_date, progress)
    rows = {kind: _stacked(getattr(tables, kind)) for kind in KINDS if getattr(tables, kind)}
    result.kept = kept_for(result, rows, ledger, tables.inputs, inputs, fingerprint=fingerprint, digest=digest,
                           extract_date=extract_date, return_year=return_year)
    return result


def kept_for(result: BuildResult, rows: dict[str, pd.DataFrame], ledger: RowLedger, table_info: list[dict[str, Any]],
             inputs: Sequence[Path], *, fingerprint: str, digest: Any, extract_date: dt.date | None,
             return_year: int | None) -> Kept | None:
    """What a build of every input keeps for the next (its rows keyed, in ledger order; the ledger with every
    row's outcome), or None where an issue cannot be tied to a child."""
    issues = _attributed(result.issues, rows)
    if issues is None:
        return None
    manifest = {
        "format": FORMAT, "fingerprint": fingerprint, "inputs": input_entries(inputs, digest),
        "tables": [list(t) for t in ledger.tables], "table_info": table_info, "kinds": sorted(rows),
        "extract_date_given": _iso(extract_date), "return_year_given": return_year,
        "care_date": _iso(_care_date(result.report)), "latest": _latest(rows["episodes"]),
        "segments": {kind: [_segment(kind, 0)] for kind in rows},
    }
    return Kept({k: _minimised(k, f) for k, f in rows.items()}, ledger.bucket, ledger.reason, issues, manifest)


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
                            "older version, from CIN census XML or without care episodes") from None
    needed = [state / "ledger.parquet", state / "issues.parquet", *(Path(base) / f"{name}.parquet" for name in _OUTPUTS),
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
    for kind in KINDS:
        for frame in getattr(new, kind):
            frame["person_id"] = pseudonymise_keys(frame["person_id"], key)
    new_rows = {kind: _stacked(getattr(new, kind)) for kind in KINDS if getattr(new, kind)}
    dated = pd.concat([_latest_frame(manifest["latest"]),
                       *([new_rows["episodes"][["start", "end", "return_year"]]] if "episodes" in new_rows else [])])
    when, inferred = decide_extract_date(config, dated, extract_date)
    before = dt.date.fromisoformat(manifest["care_date"])
    kinds = sorted(set(manifest["kinds"]) | set(new_rows))
    segments = {kind: [state / name for name in names] for kind, names in manifest["segments"].items()}
    dated_columns = {kind: [c for c in ("person_id", "start", "end") if c in pq.read_schema(paths[0]).names]
                     for kind, paths in segments.items()}
    old_keys = {kind: pd.concat([pd.read_parquet(path, columns=dated_columns[kind]) for path in paths],
                                ignore_index=True) for kind, paths in segments.items()}
    touched, blank = _touched(old_keys, new_rows, None if when == before else min(when, before))
    progress(f"Adding to the earlier build: {touched.size + blank:,} children to build again")
    tables = CanonicalTables()
    for kind in kinds:
        parts = [_touched_rows(path, touched, blank) for path in segments.get(kind, [])] + \
            ([new_rows[kind]] if kind in new_rows else [])
        getattr(tables, kind).append(pd.concat(parts, ignore_index=True))
    local, ids = _local_ledger(tables, ledger)
    result = build_from_tables(tables, local, None, config, stage_model, None, extract_date, progress,
                               care_date=CareDate(when, inferred), required=False)
    ledger.bucket[ids], ledger.reason[ids] = local.bucket, local.reason

    progress("Joining them to the earlier build")
    read_here = list(new.issues) + ([issue_frame("inferred-extract-date", None, None, value=f"{when:%d/%m/%Y}")]
                                    if inferred else [])
    kept_issues = _joined_issues(pd.read_parquet(state / "issues.parquet"), read_here, result.issues,
                                 {kind: getattr(tables, kind)[0] for kind in kinds}, touched, blank, config)
    issues = kept_issues.drop(columns=["_child", "_about_child"])
    issues["column"] = issues["column"].map(lambda c: c)  # the type pandas gives these names, as one map of all
    info = CanonicalTables(inputs=[*manifest["table_info"], *new.inputs])
    report = _report(ledger, issues, info, config, when, inferred)
    report["extract_dates"] = {config.source.format: when.isoformat(), **(
        {"front_door": (extract_date or (config.front_door.extract_date if config.front_door else None) or when)
         .isoformat()} if "front_door" in kinds else {})}
    files = {file: i for i, (file, *_) in reversed(list(enumerate(ledger.tables)))}
    frames = {name: _spliced(Path(base) / f"{name}.parquet", touched, getattr(result, name),
                             files if name == "episodes" else None) for name in _OUTPUTS}
    attributes = _spliced_attributes(_read_as_built(Path(base) / ATTRIBUTES_FILE), touched, result)
    added = len(manifest["inputs"])  # names this build's files of rows apart from the earlier ones
    manifest = {**manifest, "inputs": manifest["inputs"] + input_entries(new_paths, digest),
                "tables": [list(t) for t in ledger.tables], "table_info": info.inputs, "kinds": kinds,
                "care_date": when.isoformat(), "latest": _latest(dated),
                "segments": {kind: [*(p.name for p in segments.get(kind, [])),
                                    *([_segment(kind, added)] if kind in new_rows else [])] for kind in kinds}}
    kept = Kept({k: _minimised(k, f) for k, f in new_rows.items()}, ledger.bucket, ledger.reason, kept_issues,
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
        earlier["code"].isin(_DECIDED_AGAIN).to_numpy()
    theirs = _attributed(rebuilt, rows)
    if theirs is None:
        raise NotExtendable("an issue of the children built again is about no row of theirs")
    fresh = fresh.assign(_child=pd.array([None] * len(fresh), dtype="UInt64"), _about_child=False)
    joined = combine_issues([earlier[~gone], fresh, theirs])
    if "_child" not in joined:  # none at all
        joined = joined.assign(_child=pd.array([], dtype="UInt64"), _about_child=np.zeros(0, dtype=bool))
    return joined


def write_kept(kept: Kept, out: Path) -> None:
    """Write what a later build adds to into `out/incremental/` (the manifest last)."""
    state = Path(out) / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    (state / MANIFEST).unlink(missing_ok=True)
    listed = {name for names in kept.manifest["segments"].values() for name in names}
    for stale in state.glob("rows-*.parquet"):
        if stale.name not in listed:
            stale.unlink()
    for paths in kept.carried.values():  # the earlier build's rows, linked (or copied) unless already here
        for path in paths:
            target = state / path.name
            if target.exists() and target.samefile(path):
                continue
            target.unlink(missing_ok=True)
            try:
                os.link(path, target)
            except OSError:
                shutil.copyfile(path, target)
    for kind, frame in kept.rows.items():
        frame.to_parquet(state / kept.manifest["segments"][kind][-1], index=False)
    pd.DataFrame({"bucket": kept.bucket, "reason": pd.array(kept.reason, dtype="str")}).to_parquet(
        state / "ledger.parquet", index=False)
    kept.issues.to_parquet(state / "issues.parquet", index=False)
    (state / MANIFEST).write_text(json.dumps(kept.manifest, indent=1, default=str), encoding="utf-8")


# --- helpers -----------------------------------------------------------------------------------------------

def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _care_date(report: dict[str, object]) -> dt.date:
    return dt.date.fromisoformat(str(report["extract_date"]))


def _segment(kind: str, inputs_before: int) -> str:
    """The file of one build's rows of a kind, named by how many inputs were read before them."""
    return f"rows-{kind}-{inputs_before}.parquet"


def _touched_rows(path: Path, touched: np.ndarray, blank: bool) -> pd.DataFrame:
    """A file of kept rows, only the touched children's (filtered in Arrow: the rest never become pandas)."""
    table = pq.read_table(path)
    keys = table.column("person_id").to_pandas().astype("UInt64")
    chosen = table.filter(pa.array(_is_touched(keys, touched, blank)))
    return chosen.to_pandas()


def _stacked(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True)


def _latest(dated: pd.DataFrame) -> dict[str, object]:
    """The latest dates and return year of the care rows: all the extract date is decided from."""
    def day(series: pd.Series) -> str | None:
        value = series.max()
        return None if pd.isna(value) else pd.Timestamp(value).isoformat()

    return {"start": day(dated["start"]), "end": day(dated["end"]),
            "return_year": int(dated["return_year"].max()) if len(dated) else 0}


def _latest_frame(latest: dict[str, object]) -> pd.DataFrame:
    """One row standing for every earlier care row in the extract date's decision."""
    return pd.DataFrame({"start": pd.to_datetime([latest["start"]]).astype("datetime64[us]"),
                         "end": pd.to_datetime([latest["end"]]).astype("datetime64[us]"),
                         "return_year": np.array([latest["return_year"]], dtype=np.int32)})


def _minimised(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows as kept: a header's date of birth only as its month (all a build reads of it), and as written
    only where it could not be read (the warning quotes it)."""
    if kind != "header" or "birth_date" not in frame:
        return frame
    out = frame.copy()
    born = pd.to_datetime(out["birth_date"])
    out["birth_date"] = born.dt.to_period("M").dt.start_time.astype(born.dtype)
    if "birth_date_text" in out:
        out["birth_date_text"] = out["birth_date_text"].where(born.isna())
    return out


def _new_inputs(manifest: dict[str, Any], inputs: Sequence[Path], fingerprint: str, digest: Any,
                extract_date: dt.date | None, return_year: int | None) -> list[Path]:
    """The inputs after the earlier build's own, once every condition for adding to it holds."""
    if manifest.get("format") != FORMAT:
        raise NotExtendable("the earlier build was written by another version of its format")
    if manifest["fingerprint"] != fingerprint:
        raise NotExtendable("the config, the stage model, the tool or the pseudonymisation key changed since")
    if manifest["extract_date_given"] != _iso(extract_date) or manifest["return_year_given"] != return_year:
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
    out[present] = _member(keys.to_numpy(dtype=np.uint64, na_value=0)[present], touched)
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


def _local_ledger(tables: CanonicalTables, ledger: RowLedger) -> tuple[RowLedger, np.ndarray]:
    """A ledger of every table holding only the rows in `tables` (ids renumbered in place, as a partition's),
    and those rows' ids in `ledger`, in the local ledger's order."""
    starts = np.array([first for _, _, first, _ in ledger.tables], dtype=np.int64)
    ids = np.sort(np.concatenate([frame["row_id"].to_numpy(dtype=np.int64) for kind in KINDS
                                  for frame in getattr(tables, kind)] or [np.zeros(0, dtype=np.int64)]))
    counts = np.bincount(np.searchsorted(starts, ids, side="right") - 1, minlength=len(starts))
    local = RowLedger()
    local_starts = np.zeros(len(starts), dtype=np.int64)
    for i, ((file, table, _, _), n) in enumerate(zip(ledger.tables, counts)):
        local_starts[i] = len(local.bucket)
        local.add_table(file, table, int(n))
    for kind in KINDS:
        for frame in getattr(tables, kind):
            frame["row_id"] = _local_ids(frame["row_id"].to_numpy(dtype=np.int64), starts, local_starts)
    return local, ids


def _spliced_attributes(earlier: pd.DataFrame, touched: np.ndarray, rebuilt: BuildResult) -> pd.DataFrame:
    """Each journey's attributes: the earlier build's, with the children built again worked out afresh, in
    child order; the filters whose values depend on the data (legal status, need) take the values present."""
    parts = [earlier[~_member(pseudonym_order(earlier["person_id"]), touched)]]
    if len(rebuilt.spells):
        parts.append(journey_attributes(rebuilt.episodes, rebuilt.spells))
    joined = pd.concat(parts, ignore_index=True)
    joined = joined.take(np.argsort(pseudonym_order(joined["person_id"]), kind="stable")).reset_index(drop=True)
    for column, missing in (("legal_status", NOT_IN_CARE), ("need_code", NOT_RECORDED)):
        values = joined[column].astype("object")
        joined[column] = pd.Categorical(values, categories=_sorted_with_last(values, missing))
    return joined


def _spliced(path: Path, touched: np.ndarray, rebuilt: pd.DataFrame, files: dict[str, int] | None) -> pd.DataFrame:
    """An output table of the earlier build without the children built again, with their new rows, in the
    build's order. Joined in Arrow, with one take (in pandas, putting 10^6 episodes in order cost three
    times as much), children found and ordered by their pseudonyms' numbers (strings cost more)."""
    earlier = pq.read_table(path)
    rebuilt = _blanks_typed(rebuilt, earlier.schema.empty_table().to_pandas())
    added = pa.Table.from_pandas(rebuilt, preserve_index=False)
    child = pseudonym_order(earlier.column("person_id"))
    alive = ~_member(child, touched)
    if _types(added.schema) != _types(earlier.schema) and added.num_rows and alive.any():
        # a column typed by its values (one side has none): joined as pandas joins them
        return _in_child_order([_as_built(earlier.filter(pa.array(alive)).to_pandas(), earlier.schema), rebuilt],
                               files)
    both = pa.concat_tables([earlier, added.cast(earlier.schema) if added.num_rows else earlier.schema.empty_table()])
    child = np.concatenate([child, pseudonym_order(added.column("person_id"))])
    alive = np.concatenate([alive, np.ones(added.num_rows, dtype=bool)])
    keys = [c for c in ("source", "row_ref") if c in both.column_names] if files is not None else []
    order = child_order(both.select(keys).to_pandas(), files, child)
    return _as_built(both.take(pa.array(order[alive[order]])).to_pandas(), both.schema)


def _member(values: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Which `values` are among `chosen` (a hash lookup: numpy's isin sorts 10^7 values)."""
    return pd.Index(chosen).get_indexer(values) >= 0 if len(chosen) else np.zeros(len(values), dtype=bool)


def _types(schema: pa.Schema) -> list[tuple[str, str]]:
    """Each column's name and type, text as text however long its offsets (pandas makes either)."""
    return [(f.name, str(f.type).replace("large_string", "string")) for f in schema]


def _as_built(frame: pd.DataFrame, schema: pa.Schema) -> pd.DataFrame:
    """Text columns the build held untyped (object, by the file's pandas metadata) as such, not as str, so
    that a table spliced from them is written as the build of every row writes it."""
    untyped = [c["name"] for c in (schema.pandas_metadata or {}).get("columns", [])
               if c.get("numpy_type") == "object" and c["name"] in frame and frame[c["name"]].dtype != object]
    return frame.astype({column: object for column in untyped}) if untyped else frame


def _read_as_built(path: Path) -> pd.DataFrame:
    """An output table as the build held it (`_as_built`)."""
    return _as_built(pd.read_parquet(path), pq.read_schema(path))


def _blanks_typed(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """`frame` with a column of blanks only (untyped: object) typed as in `like`: the children built again
    may have none of a value (no header row, say) that the build of every child types."""
    blank = {column: like[column].dtype for column in frame if column in like and frame[column].dtype == object
             and like[column].dtype != object and frame[column].isna().all()}
    return frame.astype(blank) if blank else frame


def _attributed(issues: pd.DataFrame, rows: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    """The issues with the child each is about (`_child`, `_about_child`), by the file and row it names;
    None where an issue names a row no kept row is, or is about no child and is not one of the kinds kept
    as they are (read from a file) or decided again."""
    frames = {kind: frame for kind, frame in rows.items() if len(frame)}
    files = pd.Index(sorted({str(f) for frame in frames.values() for f in frame["file"].unique()} |
                            {str(f) for f in issues["file"].dropna().unique()}))
    labels = sorted(set(_TABLE_LABEL.values()))

    def where(file: pd.Series, label: np.ndarray, row: np.ndarray) -> np.ndarray:
        """(table label, file, row) as one number: labels and files are few, rows below 2^40."""
        return (label.astype(np.int64) << 60) | (files.get_indexer(file.astype("str")).astype(np.int64) << 40) | row

    keys = [where(frame["file"], np.full(len(frame), labels.index(_TABLE_LABEL[kind])),
                  frame["row"].to_numpy(dtype=np.int64)) for kind, frame in frames.items()]
    lookup = pd.Index(np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64))
    if not lookup.is_unique:
        return None
    children = pd.concat([frame["person_id"] for frame in frames.values()], ignore_index=True).astype("UInt64") \
        if frames else pd.Series([], dtype="UInt64")
    named = issues["row"].notna().to_numpy()
    label = issues["table"].map({name: i for i, name in enumerate(labels)}).fillna(len(labels)).to_numpy(np.int64)
    at = lookup.get_indexer(where(issues["file"].fillna(""), label, issues["row"].fillna(-1).to_numpy(np.int64)))
    at[~named] = -1
    if (named & (at < 0)).any() or not issues.loc[~named, "code"].isin(_READ_ISSUES | _DECIDED_AGAIN).all():
        return None
    out = issues.copy()
    found = np.maximum(at, 0)
    values = children.to_numpy(dtype=np.uint64, na_value=0)[found] if len(children) else \
        np.zeros(len(at), dtype=np.uint64)
    missing = (at < 0) | (children.isna().to_numpy()[found] if len(children) else True)
    out["_child"] = pd.arrays.IntegerArray(values, np.asarray(missing, dtype=bool))
    out["_about_child"] = named
    return out


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
