"""The build split by child into partitions, each run by the embedded build: the Dask engine.

Every row of one child (episodes, header, front door, CIN census blocks) falls in one partition:
a hash of the authority and the child's id picks it. So each partition is a whole build of its
own children, and `pipeline.build_from_tables` (the function the embedded engine runs) runs on it
unchanged, as a Dask task, on a local cluster or a scheduler's. What needs every child is decided
first: the extract date, and the stacking of the CIN census returns (a child's blocks are merged
over every return before the partitions get them; the <Child> rows, the rows a later return
superseded and repeats are counted as they were read). What comes back is counts to add up (the
row accounting) and issues; the tables each partition wrote are joined in child order, which is
the embedded build's order, so the outputs are the same files (tests/test_partitioned.py checks it).

The partitions are parquet, one folder per partition: `authority=A/bucket=K/episodes.parquet`
(and `header`, `front_door`, and the census blocks as `cin.pickle`), rows in input order, with
their place in the row accounting, and the children already keyed: no partition holds a child's
id, and its worker never sees the key. On a local cluster the workers also parse the census files
(ids and all, on this machine); a remote cluster's are sent keyed rows only. On a real cluster
the partitions' folder must be on storage every worker reads (`--work-dir`). The build keeps what
a later one adds to (journeys.incremental), as the embedded build does.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from journeys.accounting import RowLedger
from journeys.attributes import joined_attributes, journey_attributes
from journeys.cin import CinStack
from journeys.census_apart import parse_or_error, raised
from journeys.cin_source import CinInputs, keyed_cin, split_inputs
from journeys.config import PathwayConfig
from journeys.issues import combine_issues, issue_frame, summarise_issues
from journeys.parquet_out import write_parquet
from journeys.pipeline import (BuildResult, CareDate, Progress, _concat, _quiet, build_from_tables,
                               decide_extract_date, read_inputs)
from journeys.pseudonymise import load_key, pseudonym_order
from journeys.sources import CanonicalTables
from journeys.stages import StageModel, load_stage_model

if TYPE_CHECKING:
    from dask.distributed import Client

KINDS = ("episodes", "header", "front_door")
_COUNTS = ("rows_read", "rows_used", "rows_superseded", "rows_ignored", "rows_quarantined")
_REASONS = ("ignored_by_rule", "quarantined_by_reason")
#: Where each source's episodes sit in the embedded build's episodes table (care, then CIN, then front door).
_BLOCKS = {"cin": 1, "front_door": 2}


@dataclass(frozen=True)
class Layout:
    """What every partition shares: the inputs' tables in ledger order, and what was decided over all children."""

    tables: tuple[tuple[str, str], ...]  # (file, table) as the ledger registered them
    inputs: tuple[dict[str, object], ...]  # each table's report entry (encoding, return year...)
    kinds: tuple[str, ...]  # which canonical tables exist at all
    care_date: CareDate
    cin: tuple[dt.date | None, int | None] | None = None  # the census's reference date and first year, if any


def partition_of(person_id: pd.Series, authority: str, partitions: int) -> np.ndarray:
    """The partition of each row: a hash of authority and child id (a blank id hashes alike), so a child
    never spans two. Keyed ids (UInt64, as `CanonicalTables.key_children` leaves them) hash as numbers.

    >>> partition_of(pd.Series(["A1", "A1", None]), "x", 4).tolist() == [partition_of(pd.Series(["A1"]), "x", 4)[0]] * 2 + [
    ...     partition_of(pd.Series([None]), "x", 4)[0]]
    True
    """
    if pd.api.types.is_integer_dtype(person_id.dtype):  # keyed ids (what a build partitions), hashed as numbers:
        # as text, 10^7 of them took 14 s to hash
        salt = pd.util.hash_array(np.array([authority], dtype=object))[0]
        numbers = person_id.to_numpy(dtype=np.uint64, na_value=0) ^ salt
        part = (pd.util.hash_array(numbers) % np.uint64(partitions)).astype(np.int64)
        missing = person_id.isna().to_numpy()
        if missing.any():  # with the blank ids given as text
            part[missing] = partition_of(pd.Series([None], dtype="str"), authority, partitions)[0]
        return part
    text = (authority + "\x1f" + person_id.astype("str").fillna("")).to_numpy(dtype=object)
    return (pd.util.hash_array(text, categorize=True) % np.uint64(partitions)).astype(np.int64)


def write_partitions(tables: CanonicalTables, ledger: RowLedger, authority: str, partitions: int,
                     folder: Path, cin: CinInputs | None = None) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """Each partition's canonical rows as parquet under `folder` (and its children's stacked census, keyed,
    as `cin.pickle`): the partitions' folders, how many rows of each input table (the ledger's) each
    holds, and which of the ledger's rows went to a partition at all.

    A partition's ledger registers every input table in the same order with only its own rows, so
    its ids are its rows' places in that ledger and its counts line up with every other's. Of the
    census, a partition gets the CINdetails blocks its children's episodes come from: the rest (the
    <Child> rows, blocks a later return superseded, repeats) are settled as they were read.
    """
    starts = np.array([first for _, _, first, _ in ledger.tables], dtype=np.int64)
    out = [folder / f"authority={authority}" / f"bucket={k}" for k in range(partitions)]
    for path in out:
        path.mkdir(parents=True, exist_ok=True)
    rows = np.zeros((partitions, len(starts)), dtype=np.int64)
    sent = np.zeros(len(ledger.bucket), dtype=bool)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="journeys-partitions") as writer:
        written = []
        for kind in KINDS:
            frames = getattr(tables, kind)
            if not frames:
                continue
            frame = pd.concat(frames, ignore_index=True)
            part = partition_of(frame["person_id"], authority, partitions)
            ids = frame["row_id"].to_numpy(dtype=np.int64)
            sent[ids] = True
            table = np.searchsorted(starts, ids, side="right") - 1
            rows += np.bincount(part * len(starts) + table, minlength=rows.size).reshape(rows.shape)
            # the rows in partition order once (stable: each keeps its order), then each partition a slice of them:
            # selecting every column once per partition took a third of the Dask build's driver time at 10^7
            order = np.argsort(part, kind="stable")
            frame = frame.take(order).reset_index(drop=True)
            bounds = np.searchsorted(part[order], np.arange(partitions + 1))
            written += [writer.submit(write_parquet, frame.iloc[bounds[k]:bounds[k + 1]].reset_index(drop=True),
                                      out[k] / f"{kind}.parquet") for k in range(partitions)]  # Arrow writes without the GIL
        for done in written:
            done.result()
    if cin is not None:
        stack = cin.stack
        part = partition_of(stack.episodes["person_id"], authority, partitions)
        part_child = partition_of(stack.children["la_child_id"], authority, partitions)
        for k in range(partitions):
            episodes = stack.episodes.loc[part == k].reset_index(drop=True)
            blocks = np.unique(episodes["row_id"].to_numpy(dtype=np.int64))
            sent[blocks] = True
            np.add.at(rows[k], np.searchsorted(starts, blocks, side="right") - 1, 1)
            mine = CinStack(stack.children.loc[part_child == k].reset_index(drop=True), stack.details, episodes,
                            stack.superseded, stack.repeats, stack.issues.iloc[:0])
            (out[k] / "cin.pickle").write_bytes(pickle.dumps(mine, protocol=5))
    return out, rows, sent


def _local_ids(row_id: np.ndarray, starts: np.ndarray, local_starts: np.ndarray) -> np.ndarray:
    """Global row ids -> ids in the partition's ledger (rows keep their order within each table)."""
    table = np.searchsorted(starts, row_id, side="right") - 1
    order = np.argsort(row_id, kind="stable")
    rank = np.empty(row_id.size, dtype=np.int64)
    sorted_table = table[order]
    first_of_table = np.searchsorted(sorted_table, sorted_table, side="left")
    rank[order] = np.arange(row_id.size) - first_of_table
    return local_starts[table] + rank


def local_block_ids(row_id: pd.Series, starts: np.ndarray, local_starts: np.ndarray) -> np.ndarray:
    """Census episodes' block ids -> ids in a partition's ledger (a block's episodes share its id)."""
    blocks, at = np.unique(row_id.to_numpy(dtype=np.int64), return_inverse=True)
    return _local_ids(blocks, starts, local_starts)[at]


def build_partition(folder: Path, rows: np.ndarray, starts: np.ndarray, layout: Layout, config: PathwayConfig,
                    stage_model: StageModel, extract_date: dt.date | None) -> Path:
    """One partition's build (a Dask task): its tables, report, issues and its rows' outcomes, in a file
    beside its inputs. The children come keyed: a worker sees neither their ids nor the key."""
    ledger, tables = RowLedger(), CanonicalTables(inputs=[dict(entry) for entry in layout.inputs])
    local_starts = np.zeros(len(layout.tables), dtype=np.int64)
    for i, ((file, table), n) in enumerate(zip(layout.tables, rows)):
        local_starts[i] = len(ledger.bucket)
        ledger.add_table(file, table, int(n))
    for kind in layout.kinds:
        frame = pd.read_parquet(folder / f"{kind}.parquet")
        frame["row_id"] = _local_ids(frame["row_id"].to_numpy(dtype=np.int64), starts, local_starts)
        getattr(tables, kind).append(frame)
    cin = None
    if layout.cin is not None:
        stack: CinStack = pickle.loads((folder / "cin.pickle").read_bytes())
        stack.episodes["row_id"] = local_block_ids(stack.episodes["row_id"], starts, local_starts)
        cin = CinInputs(stack, *layout.cin, keyed=True)
    result = build_from_tables(tables, ledger, cin, config, stage_model, None, extract_date,
                               care_date=layout.care_date, required=False)
    # written beside the partition, pickled (types kept exactly): through Dask's connection, 10^6 episodes'
    # tables took ~2 s to reach the build, as bytes or frames; from the file, a fraction of that
    built = folder / "built.pickle"
    with built.open("wb") as handle:
        pickle.dump({"report": result.report, "issues": result.issues, "episodes": result.episodes,
                     "spells": result.spells, "transitions": result.transitions, "bucket": ledger.bucket,
                     "reason": ledger.reason, "attributes": journey_attributes(result.episodes, result.spells)},
                    handle, protocol=5)
    return built


def _on_this_machine(address: str) -> bool:
    """Whether a worker's address is this machine's loopback (a local cluster's workers)."""
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


def _ready() -> None:
    """Nothing: a task whose unpickling makes a worker import this module and the pipeline."""


def merge_reports(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The partitions' reports as one: the row counts added up, overall and per input table (issues apart)."""
    def add(target: dict[str, Any], part: dict[str, Any]) -> None:
        for name in _COUNTS:
            target[name] += part[name]
        for name in _REASONS:
            merged = dict(target[name])
            for reason, n in part[name].items():
                merged[reason] = merged.get(reason, 0) + n
            target[name] = dict(sorted(merged.items()))

    first = reports[0]
    out = {**first, "inputs": [dict(entry) for entry in first["inputs"]], "extract_dates": {}}
    for report in reports[1:]:
        add(out, report)
        for total, entry in zip(out["inputs"], report["inputs"]):
            add(total, entry)
    for report in reports:
        out["extract_dates"].update(report["extract_dates"])
    return out


def local_client(workers: int) -> tuple[Client, ExitStack]:
    """A Dask cluster on this machine only (127.0.0.1, no dashboard), one single-threaded process per worker."""
    from dask.distributed import Client, LocalCluster

    stack = ExitStack()
    cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                               host="127.0.0.1", dashboard_address=None))
    return stack.enter_context(Client(cluster)), stack


def run_partitioned(inputs: Sequence[Path], config: PathwayConfig, *, client: Client,
                    stage_model: StageModel | None = None, extract_date: dt.date | None = None,
                    return_year: int | None = None, key: str | None = None, partitions: int | None = None,
                    work_dir: Path | None = None, progress: Progress = _quiet, fingerprint: str | None = None,
                    digest: Any = None) -> BuildResult:
    """`run_pipeline`'s result, built partition by partition on a Dask cluster (`client`) (without care
    episodes, by the embedded build: there is nothing to split). With `fingerprint` and `digest`, it keeps
    what a later build adds to, as the embedded build does (journeys.incremental)."""
    # each worker loads the code (unpickling a task of this module imports the pipeline) while the inputs are read
    workers = list(client.scheduler_info()["workers"])
    loading = [client.submit(_ready, workers=[worker], pure=False) for worker in workers]
    stage_model = stage_model or load_stage_model()
    key = key or load_key()
    census_files = split_inputs(inputs)[0]
    parse = None
    if census_files and all(_on_this_machine(worker) for worker in workers):
        # the census files are parsed by the workers while this process reads the rest (a remote cluster's
        # workers would see the children's ids, and may not see these files: there, this process parses them)
        parsing = client.map(parse_or_error, census_files, pure=False)
        parse = lambda _paths: [raised(r) for r in client.gather(parsing)]  # noqa: E731 - the futures' order
    ledger, tables, cin = read_inputs(inputs, config, return_year, progress, parse=parse)
    # only what the extract date is decided from (the frames' every column would be a copy of the whole input)
    dated = ["start", "end", "return_year"]
    episodes = _concat([frame[[c for c in dated if c in frame]] for frame in tables.episodes], dated)
    if episodes.empty:  # nothing to partition: the embedded build says what is wrong, or builds the front door
        return build_from_tables(tables, ledger, cin, config, stage_model, key, extract_date, progress)
    when, inferred = decide_extract_date(config, episodes, extract_date)
    tables.key_children(key)  # keyed here: the workers are sent neither the children's ids nor the key
    cin = keyed_cin(cin, key) if cin is not None else None
    own_issues = list(tables.issues) + ([cin.stack.issues] if cin is not None else [])
    if inferred:
        own_issues.append(issue_frame("inferred-extract-date", None, None, value=f"{when:%d/%m/%Y}"))
    with ExitStack() as stack:
        folder = work_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="journeys-partitions-")))
        n = partitions or 4 * max(len(client.nthreads()), 1)
        progress(f"Writing {n} partitions of {len(episodes):,} episodes")
        layout = Layout(tuple((file, table) for file, table, _, _ in ledger.tables), tuple(tables.inputs),
                        tuple(kind for kind in KINDS if getattr(tables, kind)), CareDate(when, inferred),
                        None if cin is None else (cin.reference_date, cin.first_year))
        folders, rows, sent = write_partitions(tables, ledger, config.authority, n, folder, cin)
        table_info = tables.inputs
        del episodes, tables  # the partitions hold the rows now: the joined tables will need the memory
        starts = np.array([first for _, _, first, _ in ledger.tables], dtype=np.int64)
        progress(f"Building {n} partitions on Dask")
        task = partial(build_partition, starts=starts, layout=layout, config=config, stage_model=stage_model,
                       extract_date=extract_date)
        futures = client.map(task, folders, list(rows), pure=False)
        parts = [pickle.loads(Path(built).read_bytes()) for built in client.gather(futures)]
        del loading
        progress("Joining the partitions")
        result = _joined(parts, sent, ledger, own_issues, config, stage_model)
        if fingerprint is not None:
            from journeys.kept import census_kept, kept_for

            kept_rows = _rows_kept(folders, layout.kinds, parts, ledger)
            census = None if cin is None else census_kept(cin, kept_rows, result.report)
            result.kept = kept_for(result, kept_rows, ledger, table_info, inputs, fingerprint=fingerprint, cin=census,
                                   digest=digest, extract_date=extract_date, return_year=return_year)
    return result


def _rows_kept(folders: list[Path], kinds: tuple[str, ...], parts: list[dict[str, Any]],
               ledger: RowLedger) -> dict[str, pd.DataFrame]:
    """The partitions' rows back in ledger order, by kind; and every row's outcome from the partitions'
    ledgers into `ledger` (a partition's ledger holds its rows in the global order, table by table)."""
    rows: dict[str, list[pd.DataFrame]] = {kind: [] for kind in kinds}
    for folder, part in zip(folders, parts):  # each partition's files read once
        frames = {kind: pd.read_parquet(folder / f"{kind}.parquet") for kind in kinds}
        blocks = [np.unique(pickle.loads((folder / "cin.pickle").read_bytes()).episodes["row_id"].to_numpy(
            dtype=np.int64))] if (folder / "cin.pickle").is_file() else []  # the census blocks it was given
        ids = np.sort(np.concatenate([frame["row_id"].to_numpy(dtype=np.int64) for frame in frames.values()] + blocks))
        ledger.bucket[ids], ledger.reason[ids] = part["bucket"], part["reason"]
        for kind, frame in frames.items():
            rows[kind].append(frame)
    return {kind: pd.concat(frames, ignore_index=True).sort_values("row_id", kind="stable").reset_index(drop=True)
            for kind, frames in rows.items()}


def _joined(parts: list[dict[str, Any]], sent: np.ndarray, ledger: RowLedger, own_issues: list[pd.DataFrame],
            config: PathwayConfig, stage_model: StageModel) -> BuildResult:
    """One BuildResult from the partitions': tables in child order, counts added up, issues in their order.
    `sent`: which of the ledger's rows went to a partition (the others are counted as they were read)."""
    names = {canon: src for src, canon in config.column_names().items()}
    own = combine_issues(own_issues)
    own["column"] = own["column"].map(lambda c: names.get(c, c) if isinstance(c, str) else c)
    issues = combine_issues([own, *(part["issues"] for part in parts)])
    issues["column"] = issues["column"].map(lambda c: c)  # the type pandas gives these names, as one map of all
    # rows no partition saw (tables quarantined whole as they were read, census rows settled by the stacking)
    # keep the reading's counts
    whole = RowLedger()
    for file, table, first, n in ledger.tables:
        unsent = first + np.flatnonzero(~sent[first:first + n])
        ids = whole.add_table(file, table, unsent.size)
        whole.bucket[ids], whole.reason[ids] = ledger.bucket[unsent], ledger.reason[unsent]
    reports = [part["report"] for part in parts]
    report = merge_reports(reports + [{**reports[0], **whole.counts(), "extract_dates": {}}])
    report["issues"] = summarise_issues(issues)
    report["extract_dates"] = report.pop("extract_dates")  # last, as the embedded build writes it
    files = {file: i for i, (file, *_) in reversed(list(enumerate(ledger.tables)))}  # first table of that name
    frames = {name: _in_child_order([part.pop(name) for part in parts], files if name == "episodes" else None)
              for name in ("episodes", "spells", "transitions")}
    attributes = joined_attributes([part.pop("attributes") for part in parts])  # worked out in the partitions
    return BuildResult(frames["episodes"], frames["spells"], frames["transitions"], issues, report, stage_model,
                       attributes=attributes)


def _in_child_order(frames: list[pd.DataFrame], files: dict[str, int] | None) -> pd.DataFrame:
    """The partitions' rows in the embedded build's order: by child, each child's rows as its partition left
    them. The episodes table (`files`: each input's place) has care episodes so, then the front door's in
    input order (file, then row, read back from row_ref)."""
    frame = pd.concat(frames, ignore_index=True)
    return frame.take(child_order(frame, files)).reset_index(drop=True)


def child_order(frame: pd.DataFrame, files: dict[str, int] | None, child: np.ndarray | None = None) -> np.ndarray:
    """The positions that put `frame` (person_id, or its pseudonyms' numbers as `child`; for episodes, also
    source and row_ref) in the embedded build's order, as `_in_child_order` says."""
    if child is None:
        child = pseudonym_order(frame["person_id"])  # the pseudonyms' own order, without sorting text
    if files is None:
        return np.argsort(child, kind="stable")
    source = frame["source"].astype("category")
    block = pd.Series(source.cat.categories).map(_BLOCKS).fillna(0).to_numpy(dtype=np.int64)[source.cat.codes]
    joined = np.flatnonzero(block > 0)
    in_input, row = np.zeros((2, len(frame)), dtype=np.int64)
    if joined.size:  # only theirs: splitting 10^6 row_refs cost 2 s
        ref = frame["row_ref"].iloc[joined].astype("str").str.rpartition(":")
        in_input[joined] = ref[0].map(files).fillna(-1).to_numpy(dtype=np.int64)
        row[joined] = pd.to_numeric(ref[2], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    return np.lexsort((np.where(block > 0, 0, child), row, in_input, block))  # stable: a child keeps its order


def default_workers() -> int:
    """Local workers: one per core."""
    return max(os.cpu_count() or 1, 1)
