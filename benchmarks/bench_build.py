#!/usr/bin/env python
"""Benchmark `journeys build` end to end on synthetic SSDA903 returns, alone and mixed with CIN census XML (DESIGN 9).

Two kinds of build, each at 10^5 and 10^6 episode rows by default (`--full` adds plain 10^7):

- plain: one SSDA903 episodes CSV + header CSV (care journeys only);
- mixed: the same kind of CSV pair + the CIN census XML returns (one per collection year) of the same
  children and of children only ever referred, joined into one journey per child. Its size is the
  total of episode rows: care episodes (CSV) + CIN census stage episodes (what the census returns
  become once read and stacked); see `generate_mixed`.

For each plain size:

1. generate the episodes with `journeys.synth.generate_care_episodes`, calibrated so the file has
   (very nearly) the target number of episodes, and write ONE SSDA903 episodes CSV (dd/mm/yyyy,
   blank for missing) and a header CSV to `benchmarks/data/` (git-ignored; reused when the size
   and seed match);
2. time what `journeys build --config pathway_configs/ssda903.yaml EPISODES HEADER --out DIR` does,
   in-process via `run_pipeline` (then, separately, writing the parquet outputs), each repeat in a
   fresh subprocess that reports its own peak RSS (the kernel's VmHWM; `os.wait4`'s ru_maxrss only
   without /proc, as Linux carries a parent's peak into it): the memory a user's `journeys build` would need;
3. attribute the build time to the phases the pipeline reports through its `progress` callback
   (Reading / Checking / Mapping / Building), and to its steps (by timing the functions
   `run_pipeline` calls; nothing in the library is changed);
4. check the outputs: internal invariants (transitions = spells + journeys, one entry per journey)
   and the per stage-pair transition counts against an independent plain-pandas reference built
   straight from the CSV; at 10^5 also a plain per-child Python loop (the yardstick: what a first
   version would do), timed.

For each mixed size: steps 1-3 the same (inputs cached in `benchmarks/data/mixed_n*`; the step timer also
times the CIN reading, stacking, timeline and joined-spell functions), and step 4 checks the invariants,
the row accounting per input table against counts taken from the CSV and XML themselves, that no row is
quarantined, and that every child and CIN stage episode made it through (no plain-pandas reference: it
knows care journeys only).

Results: `benchmarks/results/build.json` and `benchmarks/results/build.md` (the table is printed too).
Run with `make bench`, or `.venv/bin/python benchmarks/bench_build.py --help` for the options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import inspect
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

BENCH = ROOT / "benchmarks"
DATA = BENCH / "data"
RESULTS = BENCH / "results"
CONFIG = ROOT / "pathway_configs" / "ssda903.yaml"
SYNTH = ROOT / "journeys" / "synth"
#: A fixed 16-character pseudonymisation key: the benchmark never touches the user's key file.
BENCH_KEY = "bench-key-0123ab"
DEFAULT_SIZES = [10**5, 10**6]
DEFAULT_MIXED_SIZES = [10**5, 10**6]
FULL_SIZE = 10**7
#: The first word of the pipeline's progress messages; "Joining" only comes in mixed builds (the CIN
#: census and everything after it: CIN intervals, the joined spells, transitions, report).
PHASES = ["Reading", "Checking", "Mapping", "Building", "Joining"]
PLAIN_PHASES = PHASES[:4]
REFERENCE_COLUMNS = ["CHILD", "DECOM", "RNE", "LS", "PLACE", "DEC", "REC"]
TARGETS = {
    "vs_duckdb": "end to end from an SSDA903 CSV of 10^6 episodes within 3x of a DuckDB query that counts "
                 "transitions (measured by bench_yardsticks.py)",
    "peak_rss_mb_at_1e6": 2048,
    "mixed_peak_rss_mb_at_1e6": 2048,
}
#: Beyond `journeys.pipeline`, the step timer wraps these modules' functions (module -> names, "*" = every
#: journeys function the module names) to see inside the CIN and joined-journey steps. Per-element helpers
#: of the XML walk (local_name, text_of, _Walker methods) are left alone: wrapping them would cost more
#: than they do.
STEP_MODULES: dict[str, tuple[str, ...]] = {
    "journeys.cin_source": ("*",), "journeys.cin": ("parse_cin_xml", "_dates"),
    "journeys.cin_reader": ("_frame", "_walk_outline"), "journeys.cin_episodes": ("*",),
    "journeys.joined": ("*",), "journeys.timeline": ("*",),
}
#: Step -> what it is part of, for the mixed build's roll-up (see `step_group`).
GROUPS = ["CIN XML reading", "CIN stacking", "CIN mapping and intervals", "timeline flattening (timeline.py)",
          "joined spells (joined.py)", "SSDA903 care journeys", "transitions, issues, report, outputs"]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def label(size: int) -> str:
    """1e5 for 100000; the plain number otherwise."""
    exp = round(math.log10(size)) if size > 0 else 0
    return f"1e{exp}" if 10**exp == size else str(size)


def parse_size(text: str) -> int:
    value = float(text)
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of episodes")
    return int(value)


def mb(value: float) -> float:
    return round(value / 2**20, 1)


def maxrss_bytes(ru_maxrss: int) -> int:
    """ru_maxrss is in kilobytes on Linux and in bytes on macOS."""
    return ru_maxrss if sys.platform == "darwin" else ru_maxrss * 1024


def median(values: Iterable[float]) -> float:
    return round(statistics.median(list(values)), 3)


# --------------------------------------------------------------------------------------------------
# Synthetic data: generate once per (size, seed), cache as CSV
# --------------------------------------------------------------------------------------------------

def data_paths(size: int, seed: int) -> dict[str, Path]:
    stem = f"ssda903_n{label(size)}_seed{seed}"
    return {"episodes": DATA / f"{stem}_episodes.csv", "header": DATA / f"{stem}_header.csv",
            "meta": DATA / f"{stem}.json", "out": DATA / f"out_n{label(size)}_seed{seed}"}


def synth_fingerprint() -> str | None:
    """A hash of the generator's source, to say when cached data came from an older generator."""
    files = sorted(SYNTH.rglob("*.py")) if SYNTH.is_dir() else []
    if not files:
        return None
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cached_meta(size: int, seed: int) -> dict[str, Any] | None:
    paths = data_paths(size, seed)
    if not (paths["meta"].exists() and paths["episodes"].exists() and paths["header"].exists()):
        return None
    meta = json.loads(paths["meta"].read_text())
    if meta.get("target") != size or meta.get("seed") != seed:
        return None
    return meta


def write_csv(frame: Any, path: Path) -> None:
    """SSDA903 CSV as councils send it: dd/mm/yyyy dates, blank cells for missing values.

    Written with pyarrow (about 10x faster than `DataFrame.to_csv(date_format=...)`, which matters at
    10^7); the bytes are the same as pandas writes for these columns.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    columns = {}
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            iso = pa.array(col.to_numpy().astype("datetime64[D]").astype("U10"), mask=col.isna().to_numpy())
            text = pc.binary_join_element_wise(pc.utf8_slice_codeunits(iso, 8, 10),
                                               pc.utf8_slice_codeunits(iso, 5, 7),
                                               pc.utf8_slice_codeunits(iso, 0, 4), "/")
        else:
            text = pa.array(col).cast(pa.string())
        columns[str(name)] = pc.fill_null(text, "")
    tmp = path.with_suffix(".tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write((",".join(columns) + "\n").encode())
            pacsv.write_csv(pa.table(columns), handle,
                            pacsv.WriteOptions(include_header=False, quoting_style="none"))
    except pa.ArrowInvalid:  # a value that needs quoting: let pandas quote it
        frame.to_csv(tmp, index=False, date_format="%d/%m/%Y", na_rep="")
    tmp.replace(path)


def generate(size: int, seed: int, first_year: int, last_year: int) -> dict[str, Any]:
    """Generate about `size` episodes: calibrate children per episode, over-generate a little, then keep
    randomly chosen whole children until the target is reached (so no child is cut in half)."""
    import numpy as np

    from journeys.synth import generate_care_episodes

    t0 = time.perf_counter()
    probe_children = 2000
    probe, _ = generate_care_episodes(probe_children, seed=seed + 7919, first_year=first_year,
                                      last_year=last_year)
    ratio = max(len(probe) / probe_children, 1e-3)
    n_children = math.ceil(size / ratio * 1.04) + 50
    for attempt in range(3):
        log(f"generating {n_children:,} children (~{ratio:.2f} episodes each) for {size:,} episodes")
        episodes, header = generate_care_episodes(n_children, seed=seed, first_year=first_year,
                                                  last_year=last_year)
        if len(episodes) >= size or attempt == 2:
            break
        ratio = max(len(episodes) / n_children, 1e-3)
        n_children = math.ceil(size / ratio * 1.06) + 50
    generate_seconds = time.perf_counter() - t0
    per_child = episodes.groupby("CHILD", sort=False).size()
    order = np.random.default_rng(seed).permutation(len(per_child))
    cumulative = per_child.iloc[order].cumsum().to_numpy()
    keep_n = min(int(np.searchsorted(cumulative, size)) + 1, len(order))
    keep = per_child.index[order[:keep_n]]
    episodes = episodes[episodes["CHILD"].isin(keep)]
    header = header[header["CHILD"].isin(keep)]
    paths = data_paths(size, seed)
    DATA.mkdir(parents=True, exist_ok=True)
    t1 = time.perf_counter()
    write_csv(episodes, paths["episodes"])
    write_csv(header, paths["header"])
    meta = {"target": size, "seed": seed, "first_year": first_year, "last_year": last_year,
            "episodes": int(len(episodes)), "children": int(episodes["CHILD"].nunique()),
            "header_rows": int(len(header)), "n_children_generated": n_children,
            "episodes_per_child_probe": round(len(probe) / probe_children, 3),
            "generate_seconds": round(generate_seconds, 2), "write_csv_seconds": round(time.perf_counter() - t1, 2),
            "episodes_csv_mb": mb(paths["episodes"].stat().st_size),
            "header_csv_mb": mb(paths["header"].stat().st_size),
            "synth_fingerprint": synth_fingerprint(), "created": dt.datetime.now().isoformat(timespec="seconds")}
    paths["meta"].write_text(json.dumps(meta, indent=2))
    return meta


# --------------------------------------------------------------------------------------------------
# Mixed inputs: SSDA903 CSVs + the CIN census XML of the same children (and of children only referred)
# --------------------------------------------------------------------------------------------------

def mixed_paths(size: int, seed: int) -> dict[str, Path]:
    stem = f"mixed_n{label(size)}_seed{seed}"
    return {"episodes": DATA / f"{stem}_episodes.csv", "header": DATA / f"{stem}_header.csv",
            "cin": DATA / f"{stem}_cin", "meta": DATA / f"{stem}.json", "out": DATA / f"out_mixed_n{label(size)}_seed{seed}"}


def mixed_inputs(meta: dict[str, Any], paths: dict[str, Path]) -> list[Path]:
    """The episodes CSV, the header CSV and every census XML, as a user would list them."""
    return [paths["episodes"], paths["header"], *(paths["cin"] / f["file"] for f in meta["cin_files"])]


def cached_mixed_meta(size: int, seed: int) -> dict[str, Any] | None:
    paths = mixed_paths(size, seed)
    if not paths["meta"].exists():
        return None
    meta = json.loads(paths["meta"].read_text())
    if meta.get("target") != size or meta.get("seed") != seed or not all(p.exists() for p in mixed_inputs(meta, paths)):
        return None
    return meta


def count_cin(paths: list[Path]) -> Any:
    """The census returns read and stacked as a build reads them (parsed in helper processes where a build
    would parse them so): (CinInputs, seconds)."""
    from journeys.accounting import RowLedger
    from journeys.census_apart import parsing_apart
    from journeys.cin_source import load_cin

    t0 = time.perf_counter()
    with parsing_apart(paths) as collect:
        cin = load_cin(paths, RowLedger(), collect)
    return cin, time.perf_counter() - t0


def xml_counts(path: Path) -> dict[str, Any]:
    """<Child> and <CINdetails> elements counted in the bytes (not by the library's reader): the rows
    the build must account for in the file's cin_children and cin_details tables."""
    data = path.read_bytes()
    return {"file": path.name, "children": data.count(b"<Child>"), "cin_details": data.count(b"<CINdetails>"),
            "mb": mb(len(data))}


def keep_children(tables: Any, drop: Any) -> Any:
    """CinTables without the children in `drop` (every frame carries LAchildID)."""
    from journeys.synth import CinTables

    frames = {name: frame[~frame["LAchildID"].astype(str).isin(drop)].reset_index(drop=True)
              for name, frame in tables.as_dict().items()}
    return CinTables(**frames, first_year=tables.first_year, last_year=tables.last_year)


def generate_mixed(size: int, seed: int, first_year: int, last_year: int) -> dict[str, Any]:
    """About `size` episode rows in all: care episodes (CSV) + CIN census stage episodes (XML, once stacked).

    `generate_cin` gives every child in care the referrals and plans around their care, and adds
    8 children only known to the front door per child in care (its default, kept: that is the mix of
    an authority's returns), so the CIN census supplies about 90% of the rows. A trial run gives the
    rows per child in care; a little more than the target is generated, read back with the build's own
    `load_cin` to count each child's stage episodes, and then randomly chosen referred-only children are
    left out, whole, until the total is just under the target; the census XML is written again
    without them (a child's stage episodes depend on its own blocks only, so the count stays exact,
    and the build checks it).
    """
    import shutil

    import numpy as np

    from journeys.synth import generate_care_episodes, generate_cin, write_cin_census

    paths = mixed_paths(size, seed)
    DATA.mkdir(parents=True, exist_ok=True)
    scratch = DATA / f"{paths['cin'].name}.tmp"
    timings: dict[str, float] = {"generate_care": 0.0, "generate_cin": 0.0, "write_xml": 0.0, "count_cin": 0.0}

    def make(n_care: int, care_seed: int, out: Path) -> tuple[Any, Any, Any, list[Path], Any]:
        t0 = time.perf_counter()
        episodes, header = generate_care_episodes(n_care, seed=care_seed, first_year=first_year, last_year=last_year)
        t1 = time.perf_counter()
        tables = generate_cin(episodes, header, seed=care_seed, first_year=first_year, last_year=last_year)
        t2 = time.perf_counter()
        shutil.rmtree(out, ignore_errors=True)
        xml = write_cin_census(tables, out, first_year, last_year)
        t3 = time.perf_counter()
        cin, counted = count_cin(xml)
        for key, secs in zip(timings, (t1 - t0, t2 - t1, t3 - t2, counted)):
            timings[key] += secs
        return episodes, header, tables, xml, cin

    probe_n = 1000
    episodes, _, _, _, cin = make(probe_n, seed + 7919, scratch)
    ratio = (len(episodes) + len(cin.stack.episodes)) / probe_n
    n_care = math.ceil(size / ratio * 1.04) + 10
    for attempt in range(3):
        log(f"mixed {label(size)}: generating {n_care:,} children in care (+{8 * n_care:,} only referred, "
            f"~{ratio:.1f} episode rows per child in care)")
        episodes, header, tables, xml, cin = make(n_care, seed, scratch)
        total = len(episodes) + len(cin.stack.episodes)
        if total >= size or attempt == 2:
            break
        ratio = total / n_care
        n_care = math.ceil(size / ratio * 1.06) + 10
    per_child = cin.stack.episodes.groupby("person_id", sort=False).size()
    in_care = set(header["CHILD"].astype(str))
    referred_only = tables.children.loc[~tables.children["in_care"].astype(bool), "LAchildID"].astype(str)
    candidates = per_child.reindex(referred_only.to_numpy(), fill_value=0)
    excess = total - size
    drop: list[str] = []
    if excess > 0:
        order = np.random.default_rng(seed).permutation(len(candidates))
        cumulative = candidates.iloc[order].cumsum().to_numpy()
        k = min(int(np.searchsorted(cumulative, excess)) + 1, len(order))
        drop = list(candidates.index[order[:k]])
    dropped_rows = int(candidates.loc[drop].sum()) if drop else 0
    stage_episodes = int(len(cin.stack.episodes)) - dropped_rows
    cin_children = set(cin.stack.children["la_child_id"].astype(str)) - set(drop)
    children = len(cin_children | in_care)
    del cin, per_child, candidates
    t0 = time.perf_counter()
    tables = keep_children(tables, drop)
    shutil.rmtree(paths["cin"], ignore_errors=True)
    xml = write_cin_census(tables, paths["cin"], first_year, last_year)
    timings["write_xml"] += time.perf_counter() - t0
    shutil.rmtree(scratch, ignore_errors=True)
    t1 = time.perf_counter()
    write_csv(episodes, paths["episodes"])
    write_csv(header, paths["header"])
    files = [xml_counts(path) for path in xml]
    meta = {"target": size, "seed": seed, "first_year": first_year, "last_year": last_year,
            "care_episodes": int(len(episodes)), "cin_stage_episodes": stage_episodes,
            "episode_rows": int(len(episodes)) + stage_episodes,
            "care_children": len(in_care), "header_rows": int(len(header)),
            "referred_only_children": len(cin_children - in_care), "children": children,
            "cin_children_generated": int(len(tables.children)), "cin_details_generated": int(len(tables.cin_details)),
            "n_care_generated": n_care, "referred_only_dropped": len(drop), "rows_per_care_child_probe": round(ratio, 2),
            "cin_files": files, "xml_mb": round(sum(f["mb"] for f in files), 1),
            "episodes_csv_mb": mb(paths["episodes"].stat().st_size), "header_csv_mb": mb(paths["header"].stat().st_size),
            "seconds": {k: round(v, 2) for k, v in timings.items()},
            "write_csv_seconds": round(time.perf_counter() - t1, 2),
            "synth_fingerprint": synth_fingerprint(), "created": dt.datetime.now().isoformat(timespec="seconds")}
    paths["meta"].write_text(json.dumps(meta, indent=2))
    return meta


# --------------------------------------------------------------------------------------------------
# Worker: one timed build in a fresh process
# --------------------------------------------------------------------------------------------------

class StepTimer:
    """Times the functions `run_pipeline` calls, by wrapping the journeys functions the pipeline module
    names (its own helpers too), and those of the `extra` modules (module -> names, "*" = all; these
    steps are named `module.function`, e.g. `timeline._events`). Each gets its self time (minus the
    wrapped calls inside it), so the steps add up to the build without double counting, whatever the
    pipeline's helpers are called. `summaries` (step -> function of its return value) record what
    flowed through a step (rows read, intervals, segments)."""

    def __init__(self, module: Any, skip: tuple[str, ...] = ("run_pipeline", "_quiet"),
                 extra: dict[str, tuple[str, ...]] | None = None,
                 summaries: dict[str, Callable[[Any], Any]] | None = None) -> None:
        import importlib

        self.self_seconds: dict[str, float] = {}  # in the order the steps first ran
        self.total_seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.peak_after: dict[str, float] = {}  # peak RSS (MB) so far when the step last returned
        self.rss_after: dict[str, float | None] = {}  # resident memory (MB) when the step last returned
        self.summaries = summaries or {}
        self.seen: dict[str, Any] = {}
        self._children: list[float] = []
        self._wrap_module(module, "", ("*",), skip)
        for name, names in (extra or {}).items():
            try:
                other = importlib.import_module(name)
            except ImportError:  # the library moved on: time what is there
                continue
            self._wrap_module(other, name.rpartition(".")[2] + ".", names, skip)

    def _wrap_module(self, module: Any, prefix: str, names: tuple[str, ...], skip: tuple[str, ...]) -> None:
        for name, obj in list(vars(module).items()):
            if (inspect.isfunction(obj) and obj.__module__.startswith("journeys") and name not in skip
                    and ("*" in names or name in names)):
                setattr(module, name, self._wrap(prefix + name, obj))

    def _wrap(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if name not in self.self_seconds:
                self.self_seconds[name] = self.total_seconds[name] = 0.0
                self.calls[name] = 0
            self._children.append(0.0)
            t0 = time.perf_counter()
            try:
                result = func(*args, **kwargs)
                if name in self.summaries:
                    self.seen[name] = self.summaries[name](result)
                return result
            finally:
                elapsed = time.perf_counter() - t0
                inner = self._children.pop()
                self.self_seconds[name] += elapsed - inner
                self.total_seconds[name] += elapsed
                self.calls[name] += 1
                if self._children:
                    self._children[-1] += elapsed
                self.peak_after[name] = peak_rss_mb()
                self.rss_after[name] = rss_now_mb()
        return timed


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far: the kernel's high-water mark of its own memory (VmHWM).

    Not getrusage's ru_maxrss: Linux carries it over from the parent through fork and exec, so a worker
    started by a parent holding 1.6 GB reported 1.6 GB (the mixed 10^5 build, after the 10^7 sizes)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return maxrss_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (the census helpers of a mixed build)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, MB (`peak_rss_bytes`)."""
    return mb(peak_rss_bytes())


def rss_now_mb() -> float | None:
    """This process's resident memory now (Linux; None elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            return mb(int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, IndexError):
        return None


#: What flowed through the steps of a mixed build (rows, intervals, segments), from their return values.
FLOW: dict[str, Callable[[Any], Any]] = {
    "load_cin": lambda r: {"cin_stage_episodes": len(r.stack.episodes), "cin_children_kept": len(r.stack.children),
                           "cin_details_kept": len(r.stack.details), "superseded": len(r.stack.superseded),
                           "reference_date": str(r.reference_date)},
    "cin_intervals": lambda r: {"cin_intervals": len(r[0]), "cin_rows_used": len(r[1])},
    "care_intervals": lambda r: {"care_intervals": len(r)},
    "joined.flatten_timeline": lambda r: {"segments": len(r)},
    "joined_spells": lambda r: {"joined_spells": len(r)},
}


def phase_seconds(marks: list[tuple[float, str]], t0: float, t1: float) -> dict[str, float]:
    """Time between progress messages, summed per phase (the first word of the message)."""
    out = {phase: 0.0 for phase in PHASES}
    points = [(t0, marks[0][1] if marks else "Reading")] + marks + [(t1, "end")]
    for (start, message), (stop, _) in zip(points[:-1], points[1:]):
        word = message.split()[0] if message else "Other"
        phase = word if word in out else "Other"
        out[phase] = out.get(phase, 0.0) + stop - start
    return {k: round(v, 3) for k, v in out.items()}


def worker_build(job: dict[str, Any]) -> dict[str, Any]:
    """run_pipeline on the cached inputs as `journeys build` would, then write its outputs.

    `job["inputs"]` lists the files (mixed builds: the CSVs and the census XML), else episodes + header;
    `job["expect"]` holds counts taken from the data when it was made, for the accounting checks."""
    t_import = time.perf_counter()
    import pandas as pd

    import journeys.pipeline as pipeline
    from journeys.config import load_config
    from journeys.stages import load_stage_model

    stage_model = load_stage_model()
    config = load_config(CONFIG, stage_model)
    setup_seconds = time.perf_counter() - t_import
    rss_setup = peak_rss_bytes()

    steps = StepTimer(pipeline, extra=STEP_MODULES, summaries=FLOW)
    marks: list[tuple[float, str]] = []

    peaks: list[tuple[str, float]] = []

    def progress(message: str) -> None:
        marks.append((time.perf_counter(), message))
        peaks.append((message, peak_rss_mb()))

    inputs = [Path(p) for p in job.get("inputs") or [job["episodes"], job["header"]]]
    profiler = None
    if job.get("profile"):
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    c0, t0 = cpu_seconds(), time.perf_counter()
    result = pipeline.run_pipeline(inputs, config, stage_model=stage_model, key=BENCH_KEY, progress=progress)
    t1, c1 = time.perf_counter(), cpu_seconds()
    if profiler is not None:
        profiler.disable()
    rss_build = peak_rss_bytes()

    # the writes of `journeys build` (cli.cmd_build), timed apart
    out = Path(job["out"])
    out.mkdir(parents=True, exist_ok=True)
    t2 = time.perf_counter()
    result.episodes.to_parquet(out / "episodes.parquet", index=False)
    result.spells.to_parquet(out / "spells.parquet", index=False)
    result.transitions.to_parquet(out / "transitions.parquet", index=False)
    result.issues.to_csv(out / "issues.csv", index=False)
    (out / "report.json").write_text(json.dumps(result.report, indent=2, default=str), encoding="utf-8")
    t3 = time.perf_counter()

    spells, transitions = result.spells, result.transitions
    report: dict[str, Any] = result.report
    journeys_n = int(spells[spells["step"] == 1].shape[0])
    starts = transitions["from_stage"].isin(["entry", "before_data"])
    checks = {
        "transitions == spells + journeys": int(len(transitions)) == len(spells) + journeys_n,
        "one entry/before_data transition per journey": int(starts.sum()) == journeys_n,
        "journeys == distinct (child, journey_no)":
            journeys_n == int(spells[["person_id", "journey_no"]].drop_duplicates().shape[0]),
        "rows_read == used + superseded + ignored + quarantined":
            report["rows_read"] == report["rows_used"] + report["rows_superseded"] + report["rows_ignored"]
            + report["rows_quarantined"],
    }
    checks.update(accounting_checks(report, job.get("expect") or {}, result.episodes, spells, steps.seen))
    sub_steps = {k: round(v, 3) for k, v in steps.self_seconds.items()}  # in the order they ran
    sub_steps["(inline in run_pipeline)"] = round(t1 - t0 - sum(steps.self_seconds.values()), 3)
    outcome: dict[str, Any] = {
        "build_seconds": round(t1 - t0, 3), "build_cpu_seconds": round(c1 - c0, 3),
        "write_seconds": round(t3 - t2, 3),
        "setup_seconds": round(setup_seconds, 3), "phases": phase_seconds(marks, t0, t1), "steps": sub_steps,
        "progress": [[round(t - t0, 3), m, peak] for (t, m), (_, peak) in zip(marks, peaks)],
        "peak_rss_mb_after_step": steps.peak_after, "rss_mb_after_step": steps.rss_after,
        "flow": {k: v for summary in steps.seen.values() for k, v in summary.items()},
        "steps_inclusive": {k: round(v, 3) for k, v in steps.total_seconds.items()}, "step_calls": steps.calls,
        "rss_after_setup_mb": mb(rss_setup), "rss_after_build_mb": mb(rss_build),
        # the processes that parsed the census files (journeys.census_apart), the largest; 0 if none ran
        "helpers_peak_rss_mb": mb(maxrss_bytes(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)),
        "outputs": {
            "episodes_in": sum(int(i["rows_read"]) for i in report["inputs"] if i["table"] == "episodes"),
            "episodes_out": int(len(result.episodes)),
            "episodes_out_by_source": {str(k): int(v) for k, v in result.episodes["source"].value_counts().items()},
            "spells": int(len(spells)),
            "transitions": int(len(transitions)), "journeys": journeys_n,
            "children": int(spells["person_id"].nunique()), "issues": int(len(result.issues)),
            "rows_read": report["rows_read"], "rows_used": report["rows_used"],
            "rows_superseded": report["rows_superseded"], "rows_ignored": report["rows_ignored"],
            "rows_quarantined": report["rows_quarantined"], "extract_date": report["extract_date"],
            "extract_dates": report.get("extract_dates"),
            "rows_by_table": rows_by_table(report),
            "issues_by_code": {i["code"]: i["count"] for i in report["issues"]},
            "outputs_mb": {p.name: mb(p.stat().st_size) for p in sorted(out.iterdir())},
        },
        "checks": checks,
        "pandas": pd.__version__,
    }
    if profiler is not None:
        import io
        import pstats
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
        Path(job["profile"]).write_text(text.getvalue())
    return outcome


ROW_BUCKETS = ["read", "used", "superseded", "ignored", "quarantined"]


def rows_by_table(report: dict[str, Any]) -> dict[str, dict[str, int]]:
    """The report's per-input accounting summed per table kind (episodes, header, cin_children, cin_details)."""
    out: dict[str, dict[str, int]] = {}
    for entry in report["inputs"]:
        sums = out.setdefault(str(entry["table"]), {"files": 0, **{f"rows_{b}": 0 for b in ROW_BUCKETS}})
        sums["files"] += 1
        for bucket in ROW_BUCKETS:
            sums[f"rows_{bucket}"] += int(entry.get(f"rows_{bucket}", 0))
    return out


def accounting_checks(report: dict[str, Any], expect: dict[str, Any], episodes: Any, spells: Any,
                      seen: dict[str, Any]) -> dict[str, bool]:
    """Row accounting across every input table, against counts taken from the files when they were made."""
    inputs = report["inputs"]

    def read(table: str, file: str | None = None) -> int:
        return sum(int(i["rows_read"]) for i in inputs if i["table"] == table and (file is None or i["file"] == file))

    checks = {
        "no rows quarantined (clean synthetic data)": int(report["rows_quarantined"]) == 0,
        "every input table: read == used + superseded + ignored + quarantined":
            all(int(i["rows_read"]) == sum(int(i[f"rows_{b}"]) for b in ROW_BUCKETS[1:]) for i in inputs),
        "input tables' rows add up to rows_read": sum(int(i["rows_read"]) for i in inputs) == int(report["rows_read"]),
    }
    if "care_episodes" in expect:
        checks["episodes CSV rows read == rows in the CSV"] = read("episodes") == expect["care_episodes"]
        checks["header CSV rows read == rows in the CSV"] = read("header") == expect["header_rows"]
    stage = seen.get("load_cin", {}).get("cin_stage_episodes")
    checks["episodes out == used rows of the episodes CSV" + (" + CIN stage episodes" if stage is not None else "")] = (
        len(episodes) == sum(int(i["rows_used"]) for i in inputs if i["table"] == "episodes") + (stage or 0))
    if expect.get("cin_files"):
        checks["each census file: cin_children, cin_details read == <Child>, <CINdetails> in the XML"] = all(
            read("cin_children", f["file"]) == f["children"] and read("cin_details", f["file"]) == f["cin_details"]
            for f in expect["cin_files"])
        checks["CIN stage episodes read == generated"] = stage == expect["cin_stage_episodes"]
        checks["every CIN stage episode is in the episodes output"] = int((episodes["source"] == "cin").sum()) == stage
        checks["one set of journeys per child: children in spells == children in the inputs"] = (
            int(spells["person_id"].nunique()) == expect["children"])
    return checks


# --------------------------------------------------------------------------------------------------
# Worker: independent reference (plain pandas) and the per-child loop yardstick
# --------------------------------------------------------------------------------------------------

class RefRules:
    """The config's rules as plain lookups on the SSDA903 columns (first match wins)."""

    def __init__(self, frame: Any, config: Any) -> None:
        self.continuation = set(config.source.continuation_codes)
        self.merge_gap_days = config.merge_gap_days
        upper = {c.upper(): c for c in frame.columns}
        #: (column, matching values, action, stage or outcome) in rule order
        self.episode_rules: list[tuple[str, frozenset[str], str, str | None]] = []
        self.exit_rules: list[tuple[str, frozenset[str], str]] = []
        for rule in config.rules:
            if getattr(rule, "source", None) is not None:  # CIN census / front-door rules: not SSDA903 rows
                continue
            col = upper[rule.column.upper()]
            distinct = frame[col].dropna().unique()
            values = frozenset(v for v in distinct if rule.matches(str(v).strip().upper()))
            if rule.action == "outcome":
                self.exit_rules.append((col, values, str(rule.outcome)))
            else:
                self.episode_rules.append((col, values, rule.action, rule.stage))


def read_episodes_csv(path: Path, rule_columns: Iterable[str] = ()) -> Any:
    """The columns the reference needs, read as plain pandas would (pyarrow engine, text)."""
    import numpy as np
    import pandas as pd

    wanted = {c.upper() for c in [*REFERENCE_COLUMNS, *rule_columns]}
    with open(path, encoding="utf-8-sig") as handle:
        present = handle.readline().rstrip("\r\n").split(",")
    frame = pd.read_csv(path, usecols=[c for c in present if c.strip().upper() in wanted], dtype=str,
                        engine="pyarrow")
    for col in ("DECOM", "DEC"):  # parse each distinct date once: a few thousand, not a million
        codes, distinct = pd.factorize(frame[col])
        parsed = pd.to_datetime(pd.Series(distinct), format="%d/%m/%Y", errors="coerce").to_numpy()
        frame[col] = np.where(codes >= 0, parsed[np.maximum(codes, 0)], np.datetime64("NaT"))
    return frame


def clean_episodes(frame: Any, rules: RefRules) -> tuple[Any, Any, dt.date]:
    """What a careful first version does before counting: map codes, drop rows it cannot use, sort."""
    import numpy as np
    import pandas as pd

    latest = max(frame["DECOM"].max(), frame["DEC"].max())
    extract = pd.Timestamp(latest.year + (1 if (latest.month, latest.day) > (3, 31) else 0), 3, 31)
    n = len(frame)
    action = np.full(n, None, dtype=object)
    stage = np.full(n, None, dtype=object)
    for col, values, act, st in rules.episode_rules:
        hit = (action == None) & frame[col].isin(values).to_numpy()  # noqa: E711
        action[hit], stage[hit] = act, st
    rec = frame["REC"]
    is_exit = (rec.notna() & ~rec.isin(rules.continuation)).to_numpy()
    outcome = np.full(n, None, dtype=object)
    for col, values, out in rules.exit_rules:
        hit = is_exit & (outcome == None) & frame[col].isin(values).to_numpy()  # noqa: E711
        outcome[hit] = out
    ok = ((action == "stage") | (action == "absorb")) & ~(is_exit & (outcome == None))  # noqa: E711
    ok &= (frame["CHILD"].notna() & frame["DECOM"].notna() & (frame["DECOM"] <= extract)
           & ~(frame["DEC"] < frame["DECOM"])).to_numpy()
    frame = frame.assign(ref_stage=stage, ref_outcome=outcome)[ok]
    frame = frame.drop_duplicates(["CHILD", "DECOM"], keep="first")
    frame = frame.sort_values(["CHILD", "DECOM"], kind="stable").reset_index(drop=True)
    return frame, extract, extract.date()


def journey_stages(frame: Any, extract: Any, rules: RefRules) -> Any:
    """Each stage episode with its journey (`_j`) and stage (`_s`), in order, and per journey where its first stage
    was entered from (`_from`, on its first row) and how its last one ended (`_to`, on its last row).

    Absorbed episodes take the stage before them, else the one after; rows with neither are left out.
    """
    import numpy as np
    import pandas as pd

    open_ep = (frame["DEC"].isna() | (frame["DEC"] > extract)).to_numpy()
    exits = (~open_ep & frame["ref_outcome"].notna()).to_numpy()
    same_child = (frame["CHILD"] == frame["CHILD"].shift()).to_numpy()
    prev_end = frame["DEC"].where(~open_ep).shift()
    gap = (frame["DECOM"] - prev_end).dt.days.to_numpy()
    new_journey = ~same_child | np.append(False, exits[:-1]) | (gap > rules.merge_gap_days)
    journey = np.cumsum(new_journey)
    stage = frame["ref_stage"].groupby(journey).ffill()
    has_stage = stage.notna().to_numpy()
    last = np.append(new_journey[1:], True)
    end_to = np.where(open_ep, "open", frame["ref_outcome"].fillna("unknown_exit").to_numpy())
    starts = frame.loc[new_journey, ["RNE"]].assign(_j=journey[new_journey]).set_index("_j")["RNE"]
    seq = frame.assign(_j=journey, _s=stage, _to=pd.Series(end_to, index=frame.index).where(last))[has_stage]
    first = (seq["_j"] != seq["_j"].shift()).to_numpy()
    began = np.where(starts.reindex(seq["_j"]).to_numpy() == "S", "entry", "before_data")
    seq["_from"] = pd.Series(began, index=seq.index).where(first)
    return seq.reset_index(drop=True)


def reference_counts(frame: Any, extract: Any, rules: RefRules) -> Counter[tuple[str, str]]:
    """Transitions per (from, to) stage pair, vectorised in plain pandas over all children at once."""
    seq = journey_stages(frame, extract, rules)
    prev_same = (seq["_j"] == seq["_j"].shift()).to_numpy()
    prev_s = seq["_s"].shift()
    moves = seq[prev_same & (seq["_s"] != prev_s).to_numpy()]
    firsts, ends = seq[seq["_from"].notna()], seq[seq["_to"].notna()]
    counts: Counter[tuple[str, str]] = Counter()
    for pairs in (zip(firsts["_from"], firsts["_s"]), zip(prev_s.loc[moves.index], moves["_s"]),
                  zip(ends["_s"], ends["_to"])):
        counts.update(_count_pairs(pairs))
    return counts


def _count_pairs(pairs: Iterable[tuple[Any, Any]]) -> Counter[tuple[str, str]]:
    import pandas as pd

    items = list(pairs)
    if not items:
        return Counter()
    frame = pd.DataFrame(items, columns=["a", "b"])
    sizes = frame.groupby(["a", "b"]).size()
    return Counter({(str(a), str(b)): int(n) for (a, b), n in sizes.items()})


def loop_counts(frame: Any, extract: Any, rules: RefRules) -> Counter[tuple[str, str]]:
    """The yardstick: what a first version does, one child at a time in a Python loop."""
    import pandas as pd

    counts: Counter[tuple[str, str]] = Counter()
    gap_days = rules.merge_gap_days
    for _child, episodes in frame.groupby("CHILD", sort=False):
        current = None      # the stage the child is in, inside a journey
        start_from = "entry"  # or before_data: where the journey's first stage is entered from
        prev_end = None
        in_journey = False
        last_open = False
        for ep in episodes.itertuples(index=False):
            if in_journey and prev_end is not None and (ep.DECOM - prev_end).days > gap_days:
                if current is not None:
                    counts[(current, "unknown_exit")] += 1
                in_journey = False
            if not in_journey:
                in_journey, current, prev_end = True, None, None
                start_from = "entry" if ep.RNE == "S" else "before_data"
            stage = ep.ref_stage if ep.ref_stage is not None and not pd.isna(ep.ref_stage) else None
            if stage is not None:
                if current is None:
                    counts[(start_from, stage)] += 1
                elif stage != current:
                    counts[(current, stage)] += 1
                current = stage
            last_open = pd.isna(ep.DEC) or ep.DEC > extract
            if last_open:
                prev_end = None
            elif ep.ref_outcome is not None and not pd.isna(ep.ref_outcome):
                if current is not None:
                    counts[(current, ep.ref_outcome)] += 1
                in_journey = False
            else:
                prev_end = ep.DEC
        if in_journey and current is not None:
            counts[(current, "open" if last_open else "unknown_exit")] += 1
    return counts


def compare(pipeline: Counter[tuple[str, str]], reference: Counter[tuple[str, str]]) -> dict[str, Any]:
    keys = set(pipeline) | set(reference)
    matched = sum(min(pipeline[k], reference[k]) for k in keys)
    total = max(sum(pipeline.values()), sum(reference.values()), 1)
    diffs = sorted(((k, pipeline[k], reference[k]) for k in keys if pipeline[k] != reference[k]),
                   key=lambda d: -abs(d[1] - d[2]))
    return {"transitions_pipeline": sum(pipeline.values()), "transitions_reference": sum(reference.values()),
            "pairs_pipeline": len(pipeline), "pairs_reference": len(reference),
            "identical": not diffs, "agreement": round(matched / total, 6),
            "largest_differences": [{"from": k[0], "to": k[1], "pipeline": p, "reference": r}
                                    for k, p, r in diffs[:8]]}


def worker_reference(job: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd

    from journeys.config import load_config
    from journeys.stages import load_stage_model

    config = load_config(CONFIG, load_stage_model())
    t0 = time.perf_counter()
    raw = read_episodes_csv(Path(job["episodes"]), [rule.column for rule in config.rules
                                                    if getattr(rule, "source", None) is None])
    t1 = time.perf_counter()
    rules = RefRules(raw, config)
    frame, extract, extract_date = clean_episodes(raw, rules)
    del raw
    t2 = time.perf_counter()
    ref = reference_counts(frame, extract, rules)
    t3 = time.perf_counter()
    transitions = pd.read_parquet(Path(job["out"]) / "transitions.parquet", columns=["from_stage", "to_stage"])
    report = json.loads((Path(job["out"]) / "report.json").read_text())
    pipe = _count_pairs(zip(transitions["from_stage"], transitions["to_stage"]))
    outcome: dict[str, Any] = {
        "read_csv_seconds": round(t1 - t0, 3), "clean_seconds": round(t2 - t1, 3),
        "reference_seconds": round(t3 - t2, 3), "extract_date": extract_date.isoformat(),
        "extract_date_matches_pipeline": report["extract_date"] == extract_date.isoformat(),
        "vs_pipeline": compare(pipe, ref),
    }
    if job.get("loop"):
        t4 = time.perf_counter()
        loop = loop_counts(frame, extract, rules)
        t5 = time.perf_counter()
        outcome["loop"] = {"loop_seconds": round(t5 - t4, 3),
                           "read_clean_loop_seconds": round(t5 - t4 + t2 - t0, 3),
                           "children": int(frame["CHILD"].nunique()),
                           "same_as_reference": loop == ref, "vs_pipeline": compare(pipe, loop)}
    return outcome


def parquet_inputs(paths: dict[str, Path]) -> list[Path]:
    """The episodes and header CSVs as parquet (every column text, as a case system's export would give them),
    made once beside the CSVs: the input of the 'full build' issue 5 times against pm4py."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = []
    for name in ("episodes", "header"):
        target = paths[name].with_suffix(".parquet")
        if not target.is_file() or target.stat().st_mtime < paths[name].stat().st_mtime:
            with open(paths[name], encoding="utf-8") as handle:
                names = handle.readline().strip().split(",")
            table = pacsv.read_csv(paths[name], convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in names}))
            pq.write_table(table, target)
        out.append(target)
    return out


def worker_parquet(job: dict[str, Any]) -> dict[str, Any]:
    """The full build from parquet (run_pipeline, then the stage graph), then one quarter's flows: counted,
    and suppressed as `journeys flows` prints them."""
    import pandas as pd

    import journeys.pipeline as pipeline
    from journeys.config import load_config
    from journeys.cohorts import around, compare_cohorts
    from journeys.flows import Period, quarter_flows, suppressed_flows
    from journeys.stages import load_stage_model

    stage_model = load_stage_model()
    config = load_config(CONFIG, stage_model)
    t0 = time.perf_counter()
    result = pipeline.run_pipeline([Path(p) for p in job["inputs"]], config, stage_model=stage_model, key=BENCH_KEY)
    t1 = time.perf_counter()
    graph = result.graph()
    t2 = time.perf_counter()
    extract = pd.Timestamp(str(result.report["extract_date"]))
    period = Period.parse(f"{extract.year}Q{(extract.month - 1) // 3 + 1}").previous()  # the last whole quarter
    counts = quarter_flows(result.spells, period, stage_model)
    t3 = time.perf_counter()
    suppressed_flows(result.spells, period, stage_model)
    t4 = time.perf_counter()
    cohorts = around(dt.date(extract.year - 2, 4, 1))  # the After year is followed 12 months before the extract
    comparison = compare_cohorts(result.spells, stage_model, cohorts, followed_until=extract.date())
    t5 = time.perf_counter()
    return {"build_seconds": round(t1 - t0, 3), "graph_seconds": round(t2 - t1, 3),
            "full_build_seconds": round(t2 - t0, 3), "quarter": period.key,
            "quarter_flows_seconds": round(t3 - t2, 3), "suppressed_flows_seconds": round(t4 - t3, 3),
            "graph_edges": graph.number_of_edges(), "quarter_children": int(counts.to_numpy().sum()),
            "transitions": int(len(result.transitions)),
            "cohort_seconds": round(t5 - t4, 3), **cohort_check(result.spells, cohorts, comparison)}


def cohort_check(spells: Any, cohorts: Any, comparison: Any) -> dict[str, Any]:
    """The comparison's cohorts, counted again the plain pandas way: children with a journey whose first
    spell (not left-truncated) starts in the window."""
    import numpy as np
    import pandas as pd

    from journeys.cohorts import members

    firsts = spells[(spells["step"] == 1) & ~spells["left_truncated"]]
    plain = [int(firsts[(firsts["start"] >= pd.Timestamp(c.first)) & (firsts["start"] <= pd.Timestamp(c.last))]
                 .drop_duplicates(["authority", "person_id"]).shape[0]) for c in cohorts]
    sizes = np.bincount(members(spells, cohorts).cohort, minlength=2).tolist()
    test = comparison.test
    return {"cohort_children": sizes, "cohort_children_plain": plain,
            "cohort_p": None if test is None else test.p_text(),
            "cohort_dates": [f"{c.first}..{c.last}" for c in cohorts]}


# --------------------------------------------------------------------------------------------------
# Parent: run workers in fresh processes, collect, report
# --------------------------------------------------------------------------------------------------

def run_worker(kind: str, job: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Run one worker in a fresh interpreter; returns its result and its peak RSS in bytes."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        job_path, out_path = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job_path.write_text(json.dumps(job))
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", kind,
                                 "--job", str(job_path), "--result", str(out_path)], cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"the {kind} worker failed (exit {proc.returncode}) for {job}")
        result = json.loads(out_path.read_text())
        # the worker's own high-water mark; os.wait4's ru_maxrss only where /proc is missing (it can be this
        # process's peak, carried over into the child)
        own = result.pop("worker_peak_rss_bytes", None)
        return result, int(own) if own else maxrss_bytes(usage.ru_maxrss)


def size_options(parser: argparse.ArgumentParser) -> None:
    """--sizes, --full and --seed, as the scripts that reuse these inputs take them."""
    parser.add_argument("--sizes", nargs="+", type=parse_size, metavar="N", help="episode counts (default: 1e5 1e6)")
    parser.add_argument("--full", action="store_true", help="add 1e7 episodes")
    parser.add_argument("--seed", type=int, default=1)


def chosen_sizes(args: argparse.Namespace) -> list[int]:
    """The sizes size_options chose; sets what ensure_data reads (cached inputs, years 2016-2025)."""
    args.regenerate, args.first_year, args.last_year = False, 2016, 2025
    return sorted(set(args.sizes or DEFAULT_SIZES) | ({FULL_SIZE} if args.full else set()))


def default_repeats(size: int) -> int:
    return 3 if size <= 10**5 else 2 if size <= 10**6 else 1


def ensure_data(size: int, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    meta = None if args.regenerate else cached_meta(size, seed)
    if meta is not None:
        fingerprint = synth_fingerprint()
        if fingerprint and meta.get("synth_fingerprint") != fingerprint:
            log(f"note: {data_paths(size, seed)['episodes'].name} came from an older journeys.synth; "
                "run with --regenerate to refresh it")
        log(f"reusing {data_paths(size, seed)['episodes'].name} ({meta['episodes']:,} episodes)")
        return meta
    meta, _ = run_worker("generate", {"size": size, "seed": seed, "first_year": args.first_year,
                                      "last_year": args.last_year})
    log(f"wrote {data_paths(size, seed)['episodes'].name}: {meta['episodes']:,} episodes, "
        f"{meta['children']:,} children, {meta['episodes_csv_mb']} MB "
        f"(generated in {meta['generate_seconds']} s, CSV in {meta['write_csv_seconds']} s)")
    return meta


def _timing_summary(runs: list[dict[str, Any]], rss: list[int]) -> dict[str, Any]:
    """The timing and memory figures every case reports (medians over its runs)."""
    builds = [r["build_seconds"] for r in runs]
    last = runs[-1]
    return {
        "repeats": len(runs),
        "build_seconds": {"median": median(builds), "best": min(builds), "runs": builds},
        "build_cpu_seconds": {"median": median(r["build_cpu_seconds"] for r in runs),
                              "runs": [r["build_cpu_seconds"] for r in runs]},
        "write_seconds": {"median": median(r["write_seconds"] for r in runs),
                          "runs": [r["write_seconds"] for r in runs]},
        "end_to_end_seconds": median(r["build_seconds"] + r["write_seconds"] for r in runs),
        "peak_rss_mb": max(mb(p) for p in rss), "peak_rss_mb_runs": [mb(p) for p in rss],
        "rss_after_imports_mb": last["rss_after_setup_mb"],
        "phases": {p: median(r["phases"].get(p, 0.0) for r in runs) for p in runs[0]["phases"]},
        "steps": {s: median(r["steps"].get(s, 0.0) for r in runs) for s in runs[0]["steps"]},
        "steps_inclusive": {s: median(r["steps_inclusive"].get(s, 0.0) for r in runs)
                            for s in runs[0]["steps_inclusive"]},
    }


def bench_size(size: int, args: argparse.Namespace) -> dict[str, Any]:
    meta = ensure_data(size, args.seed, args)
    paths = data_paths(size, args.seed)
    repeats = args.repeats or default_repeats(size)
    job = {"episodes": str(paths["episodes"]), "header": str(paths["header"]), "out": str(paths["out"]),
           "expect": {"care_episodes": meta["episodes"], "header_rows": meta["header_rows"]}}
    if args.profile:  # an extra run under cProfile, left out of the timings
        RESULTS.mkdir(parents=True, exist_ok=True)
        profile = RESULTS / f"profile_n{label(size)}.txt"
        log(f"build {label(size)} under cProfile -> {profile.relative_to(ROOT)}")
        run_worker("build", {**job, "profile": str(profile)})
    runs, rss = [], []
    for i in range(repeats):
        log(f"build {label(size)} run {i + 1}/{repeats}")
        run, peak = run_worker("build", job)
        runs.append(run)
        rss.append(peak)
        log(f"  build {run['build_seconds']} s (CPU {run['build_cpu_seconds']} s) + write {run['write_seconds']} s, "
            f"peak RSS {mb(peak)} MB, "
            f"phases {run['phases']}")
    builds = [r["build_seconds"] for r in runs]
    last = runs[-1]
    entry: dict[str, Any] = {
        "target": size, "label": label(size), "episodes": meta["episodes"], "children": meta["children"],
        "header_rows": meta["header_rows"], "episodes_csv_mb": meta["episodes_csv_mb"],
        "data": {k: meta[k] for k in ("generate_seconds", "write_csv_seconds", "synth_fingerprint", "created")},
        **_timing_summary(runs, rss),
        "rows_per_second": round(meta["episodes"] / median(builds)),
        "input_columns_mb": input_columns_mb(paths),
        "peak_rss_mb_after_step": last["peak_rss_mb_after_step"],
        "outputs": last["outputs"], "checks": last["checks"],
    }
    log(f"full build from parquet {label(size)} (run_pipeline + graph), then one quarter's flows")
    full, full_rss = run_worker("parquet", {"inputs": [str(p) for p in parquet_inputs(paths)]})
    entry["from_parquet"] = {**full, "peak_rss_mb": mb(full_rss)}
    entry["checks"]["the build from parquet gives the same transitions"] = \
        full["transitions"] == last["outputs"]["transitions"]
    entry["checks"]["the cohorts compared are the children a plain pandas count finds"] = \
        full["cohort_children"] == full["cohort_children_plain"]
    log(f"  build {full['build_seconds']} s + graph {full['graph_seconds']} s; {full['quarter']} flows "
        f"{full['quarter_flows_seconds']} s counted, {full['suppressed_flows_seconds']} s suppressed; "
        f"cohorts {full['cohort_seconds']} s; "
        f"peak RSS {mb(full_rss)} MB")
    loop = size <= args.loop_max
    if not args.no_reference and size <= args.reference_max:
        log(f"reference {label(size)}" + (" + per-child loop" if loop else ""))
        ref, ref_rss = run_worker("reference", {"episodes": str(paths["episodes"]), "out": str(paths["out"]),
                                                "loop": loop})
        ref["peak_rss_mb"] = mb(ref_rss)
        entry["reference"] = ref
        agreement = ref["vs_pipeline"]["agreement"]
        log(f"  plain pandas reference {ref['reference_seconds']} s (+ read {ref['read_csv_seconds']} s), "
            f"agreement with the pipeline {agreement:.4%}")
        if "loop" in ref:
            log(f"  per-child loop {ref['loop']['loop_seconds']} s, same as the reference: "
                f"{ref['loop']['same_as_reference']}")
    failed = [k for k, ok in entry["checks"].items() if not ok]
    if failed:
        log(f"  CHECKS FAILED at {label(size)}: {failed}")
    return entry


def default_mixed_repeats(size: int) -> int:
    """Fewer than plain: at 10^6 rows one mixed build takes half a minute, and two at 10^5 keep `make bench` under
    its ten minutes (a third run there cost 6 s and moved the median by a tenth of a second)."""
    return 2 if size <= 10**5 else 1


def ensure_mixed_data(size: int, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    meta = None if args.regenerate else cached_mixed_meta(size, seed)
    name = mixed_paths(size, seed)["meta"].stem
    if meta is not None:
        fingerprint = synth_fingerprint()
        if fingerprint and meta.get("synth_fingerprint") != fingerprint:
            log(f"note: {name} came from an older journeys.synth; run with --regenerate to refresh it")
        log(f"reusing {name} ({meta['care_episodes']:,} care episodes + {meta['cin_stage_episodes']:,} CIN stage "
            f"episodes, {meta['xml_mb']} MB of XML)")
        return meta
    meta, _ = run_worker("generate-mixed", {"size": size, "seed": seed, "first_year": args.first_year,
                                            "last_year": args.last_year})
    log(f"wrote {name}: {meta['care_episodes']:,} care episodes + {meta['cin_stage_episodes']:,} CIN stage episodes "
        f"= {meta['episode_rows']:,} rows, {meta['children']:,} children, {len(meta['cin_files'])} XML files of "
        f"{meta['xml_mb']} MB in all (seconds: {meta['seconds']})")
    return meta


def bench_mixed(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """The mixed build at one size: CSVs + census XML, timed in fresh processes, checked."""
    meta = ensure_mixed_data(size, args.seed, args)
    paths = mixed_paths(size, args.seed)
    repeats = args.repeats or default_mixed_repeats(size)
    expect = {k: meta[k] for k in ("care_episodes", "header_rows", "cin_stage_episodes", "children", "cin_files")}
    job = {"inputs": [str(p) for p in mixed_inputs(meta, paths)], "out": str(paths["out"]), "expect": expect}
    tag = f"mixed {label(size)}"
    if args.profile:
        RESULTS.mkdir(parents=True, exist_ok=True)
        profile = RESULTS / f"profile_mixed_n{label(size)}.txt"
        log(f"build {tag} under cProfile -> {profile.relative_to(ROOT)}")
        run_worker("build", {**job, "profile": str(profile)})
    runs, rss = [], []
    for i in range(repeats):
        log(f"build {tag} run {i + 1}/{repeats}")
        run, peak = run_worker("build", job)
        runs.append(run)
        rss.append(peak)
        log(f"  build {run['build_seconds']} s (CPU {run['build_cpu_seconds']} s) + write {run['write_seconds']} s, "
            f"peak RSS {mb(peak)} MB, phases {run['phases']}")
    builds = [r["build_seconds"] for r in runs]
    last = runs[-1]
    entry: dict[str, Any] = {
        "kind": "mixed", "target": size, "label": label(size),
        "episode_rows": meta["episode_rows"], "care_episodes": meta["care_episodes"],
        "cin_stage_episodes": meta["cin_stage_episodes"], "children": meta["children"],
        "care_children": meta["care_children"], "referred_only_children": meta["referred_only_children"],
        "header_rows": meta["header_rows"], "cin_files": len(meta["cin_files"]), "xml_mb": meta["xml_mb"],
        "cin_children_rows": sum(f["children"] for f in meta["cin_files"]),
        "cin_details_rows": sum(f["cin_details"] for f in meta["cin_files"]),
        "episodes_csv_mb": meta["episodes_csv_mb"], "header_csv_mb": meta["header_csv_mb"],
        "data": {k: meta[k] for k in ("seconds", "write_csv_seconds", "n_care_generated", "referred_only_dropped",
                                      "rows_per_care_child_probe", "synth_fingerprint", "created")},
        **_timing_summary(runs, rss),
        "rows_per_second": round(meta["episode_rows"] / median(builds)),
        "step_calls": last["step_calls"],
        "peak_rss_mb_after_step": last["peak_rss_mb_after_step"], "rss_mb_after_step": last["rss_mb_after_step"],
        "progress": last["progress"], "flow": last["flow"],
        "outputs": last["outputs"], "checks": last["checks"],
        "helpers_peak_rss_mb": max(r.get("helpers_peak_rss_mb", 0.0) for r in runs),
    }
    entry["step_groups"] = group_steps(entry["steps"])
    failed = [k for k, ok in entry["checks"].items() if not ok]
    if failed:
        log(f"  CHECKS FAILED at {tag}: {failed}")
    return entry


def step_group(step: str) -> str:
    """Which part of a mixed build a step belongs to (GROUPS)."""
    module, _, name = step.rpartition(".")
    if step in ("load_cin", "split_inputs", "cin_source.read_cin_census", "cin_source.is_cin_census") \
            or module in ("cin", "cin_reader"):
        return "CIN XML reading"
    if step == "cin_source.account_cin" or module == "cin_episodes":
        return "CIN stacking"
    if step in ("cin_intervals", "_joined_episodes_out") or module == "cin_source":
        return "CIN mapping and intervals"
    if module == "timeline" or step == "joined.flatten_timeline":
        return "timeline flattening (timeline.py)"
    if module == "joined" or step in ("joined_spells", "care_intervals"):
        return "joined spells (joined.py)"
    if step in ("build_transitions", "combine_issues", "_report", "summarise_issues", "pseudonym_text",
                "check_outputs", "(inline in run_pipeline)"):
        return "transitions, issues, report, outputs"
    return "SSDA903 care journeys"


def group_steps(steps: dict[str, float]) -> dict[str, float]:
    groups = {g: 0.0 for g in GROUPS}
    for step, secs in steps.items():
        group = step_group(step)
        groups[group] = groups.get(group, 0.0) + secs
    return {g: round(v, 3) for g, v in groups.items()}


def machine_info() -> dict[str, Any]:
    import numpy
    import pandas
    import pyarrow

    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(), "platform": platform.platform(), "machine": platform.machine(),
        "python": platform.python_version(), "pandas": pandas.__version__, "numpy": numpy.__version__,
        "pyarrow": pyarrow.__version__,
    }
    try:
        with open("/proc/meminfo") as handle:
            total_kb = int(handle.readline().split()[1])
        info["memory_total_gb"] = round(total_kb / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/proc/cpuinfo") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        if names:
            info["cpu_model"] = names[0]
    except OSError:
        pass
    return info


def load_note(results: dict[str, Any]) -> str:
    start = results["load_average_start"][0]
    end = results.get("load_average_end", [start])[0]
    note = f"1-minute load average {start} at the start, {end} at the end"
    cases = results["sizes"] + results.get("mixed", [])
    wall = sum(s["build_seconds"]["median"] for s in cases)
    cpu = sum(s["build_cpu_seconds"]["median"] for s in cases)
    if cpu and wall > 1.15 * cpu:
        note += (f"; the builds took {wall / cpu:.2f}x their CPU time: other work shared the machine, so wall "
                 "times are inflated and noisy, and CPU seconds are the steadier figure")
    return note + "."


def render_markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [f"# `journeys build` benchmark ({results['date'][:10]})", "",
             f"{m.get('cpu_model', m['machine'])}, {m['cpu_count']} CPUs, {m.get('memory_total_gb', '?')} GB; "
             f"Python {m['python']}, pandas {m['pandas']}, numpy {m['numpy']}, pyarrow {m['pyarrow']}. "
             f"Config `pathway_configs/ssda903.yaml`, synthetic data seed {results['seed']}. " + load_note(results),
             "",
             "Build = `run_pipeline` on the inputs (what `journeys build` does before writing); "
             "write = the parquet/CSV/JSON outputs; phases from the pipeline's progress messages (seconds, "
             "median over runs)."]
    if results["sizes"]:
        lines += render_plain(results)
    if results.get("mixed"):
        lines += render_mixed(results)
    lines += ["", "Targets (project issues):", ""]
    at_1e6 = [s for s in results["sizes"] if s["target"] == 10**6]
    if at_1e6:
        rss = at_1e6[0]["peak_rss_mb"]
        lines.append(f"- peak memory under 2 GB at 10^6 episodes (SSDA903 only): {rss:,.0f} MB, "
                     f"{'met' if rss < TARGETS['peak_rss_mb_at_1e6'] else 'NOT met'}")
    else:
        lines.append("- peak memory under 2 GB at 10^6 episodes (SSDA903 only): not measured in this run")
    mixed_1e6 = [s for s in results.get("mixed", []) if s["target"] == 10**6]
    if mixed_1e6:
        rss = mixed_1e6[0]["peak_rss_mb"]
        lines.append(f"- peak memory under 2 GB for the mixed build at 10^6 episode rows (SSDA903 CSV + CIN census "
                     f"XML): {rss:,.0f} MB, {'met' if rss < TARGETS['mixed_peak_rss_mb_at_1e6'] else 'NOT met'}")
    else:
        lines.append("- peak memory under 2 GB for the mixed build at 10^6 episode rows: not measured in this run")
    for size in results["sizes"]:
        if size.get("input_columns_mb"):
            ratio = size["peak_rss_mb"] / size["input_columns_mb"]
            lines.append(f"- peak memory under 3x the in-memory size of the input columns at {size['episodes']:,} "
                         f"episodes: {size['peak_rss_mb']:,.0f} MB against {size['input_columns_mb']:,.0f} MB of "
                         f"columns read as text (Arrow), {ratio:.1f}x, {'met' if ratio < 3 else 'NOT met'}")
    lines.append("- end to end within 3x of a DuckDB query counting transitions at 10^6: see yardsticks.md "
                 "(bench_yardsticks.py, run next by `make bench`)")
    return "\n".join(lines) + "\n"


def input_columns_mb(paths: dict[str, Path]) -> float:
    """The inputs' columns in memory, read as the pipeline reads them (every column text), in Arrow."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    total = 0
    for name in ("episodes", "header"):
        with open(paths[name], encoding="utf-8") as handle:
            names = handle.readline().strip().split(",")
        table = pacsv.read_csv(paths[name], convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in names}))
        total += table.nbytes
    return mb(total)


def render_plain(results: dict[str, Any]) -> list[str]:
    lines = ["", "## SSDA903 only: one episodes CSV + header CSV", "",
             "| episodes | children | build s (median) | runs | build CPU s | write s | rows/s | peak RSS MB "
             "| Reading | Checking | Mapping | Building | checks |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--|"]
    for s in results["sizes"]:
        ph = s["phases"]
        ok = "ok" if all(s["checks"].values()) else "FAILED"
        lines.append(f"| {s['episodes']:,} | {s['children']:,} | {s['build_seconds']['median']:.1f} | "
                     f"{', '.join(f'{x:.1f}' for x in s['build_seconds']['runs'])} | "
                     f"{s['build_cpu_seconds']['median']:.1f} | "
                     f"{s['write_seconds']['median']:.1f} | {s['rows_per_second']:,} | {s['peak_rss_mb']:,.0f} | "
                     + " | ".join(f"{ph.get(p, 0):.1f}" for p in PLAIN_PHASES) + f" | {ok} |")
    full = [s for s in results["sizes"] if "from_parquet" in s]
    if full:
        lines += ["", "The full build from parquet (the same episodes and header as text columns in parquet; "
                  "`run_pipeline` then the networkx stage graph), then on its spells one quarter's flows, counted "
                  "(`quarter_flows`) and suppressed as `journeys flows` prints them, and a cohort comparison "
                  "(below; seconds, one run):", "",
                  "| episodes | build | graph | full build | quarter | flows counted | flows suppressed | "
                  "cohort comparison | cohorts (children) | p | peak RSS MB |",
                  "|---:|---:|---:|---:|:--|---:|---:|---:|:--|:--|---:|"]
        for s in full:
            f = s["from_parquet"]
            lines.append(f"| {s['episodes']:,} | {f['build_seconds']:.2f} | {f['graph_seconds']:.3f} | "
                         f"{f['full_build_seconds']:.2f} | {f['quarter']} | {f['quarter_flows_seconds']:.3f} | "
                         f"{f['suppressed_flows_seconds']:.3f} | {f.get('cohort_seconds', float('nan')):.3f} | "
                         f"{' / '.join(f'{n:,}' for n in f.get('cohort_children', []))} | {f.get('cohort_p')} | "
                         f"{f['peak_rss_mb']:,.0f} |")
        dates = next((s["from_parquet"]["cohort_dates"] for s in full if "cohort_dates" in s["from_parquet"]), None)
        if dates:
            lines += ["", f"Cohort comparison = `journeys compare`'s work on the built spells "
                      f"(`cohorts.compare_cohorts`): children whose journey started {dates[0]} against "
                      f"{dates[1]}, where they were 12 months on (suppressed table, shares, permutation test) and "
                      "time in the whole journey (Kaplan-Meier, log-rank). Its cohorts are checked against a plain "
                      "pandas count of the same children."]
    refs = [s for s in results["sizes"] if "reference" in s]
    if refs:
        lines += ["", "Side by side, same episodes (seconds; the reference and the loop start from the CSV "
                  "read with `pandas.read_csv`):", "",
                  "| episodes | pipeline build | read CSV + clean | plain pandas transition counts | "
                  "per-child Python loop | pipeline vs reference |",
                  "|---:|---:|---:|---:|---:|:--|"]
        for s in refs:
            r = s["reference"]
            loop = f"{r['loop']['loop_seconds']:.1f}" if "loop" in r else "not run"
            v = r["vs_pipeline"]
            agree = "identical" if v["identical"] else f"{v['agreement']:.2%} of transitions agree"
            lines.append(f"| {s['episodes']:,} | {s['build_seconds']['median']:.1f} | "
                         f"{r['read_csv_seconds'] + r['clean_seconds']:.1f} | {r['reference_seconds']:.1f} | "
                         f"{loop} | {agree} |")
        unchecked = [s for s in results["sizes"] if "reference" not in s]
        if unchecked:
            lines += ["", "Not run at " + ", ".join(f"{s['episodes']:,}" for s in unchecked) + " episodes "
                      "(`--reference-max`): there bench_yardsticks.py checks the pipeline's counts against DuckDB's "
                      "and pm4py's, pair by pair."]
    big = max(results["sizes"], key=lambda s: s["episodes"])
    lines += ["", f"Where the build time goes at {big['episodes']:,} episodes: the library functions the pipeline "
              "module calls, in the order they first run; self seconds (median, without the listed functions "
              "they call) and the peak RSS so far when each returns (where it jumps, that step raised the "
              "peak). Steps under 1% are left out:", "",
              "| step | self seconds | share | peak RSS after, MB |", "|:--|---:|---:|---:|"]
    total = big["build_seconds"]["median"] or 1
    peaks = big.get("peak_rss_mb_after_step", {})
    for step, secs in big["steps"].items():
        if secs >= 0.01 * total:
            peak = f"{peaks[step]:,.0f}" if step in peaks else ""
            lines.append(f"| `{step}` | {secs:.2f} | {secs / total:.0%} | {peak} |")
    return lines


def render_mixed(results: dict[str, Any]) -> list[str]:
    mixed = results["mixed"]
    lines = ["", "## Mixed: SSDA903 episodes CSV + header CSV + CIN census XML (joined journeys)", "",
             "The same kind of CSV pair plus the CIN census returns (one XML per collection year) of the same "
             "children in care and of children only ever referred (8 per child in care, the generator's "
             "default), joined into one journey per child. Episode rows = care episodes (CSV) + CIN census "
             "stage episodes (referral, assessment, child in need, CIN plan, s47, CP plan intervals, as read "
             "and stacked over the returns). Joining = the CIN census and everything after it (CIN intervals, "
             "timeline, joined spells, transitions, issues, report).", "",
             "| episode rows | care episodes | CIN stage episodes | children (in care + only referred) | XML MB (files) "
             "| build s (median) | runs | build CPU s | write s | rows/s | peak RSS MB "
             "| Reading | Checking | Mapping | Building | Joining | checks |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--|"]
    for s in mixed:
        ph = s["phases"]
        ok = "ok" if all(s["checks"].values()) else "FAILED"
        lines.append(f"| {s['episode_rows']:,} | {s['care_episodes']:,} | {s['cin_stage_episodes']:,} | "
                     f"{s['children']:,} ({s['care_children']:,} + {s['referred_only_children']:,}) | "
                     f"{s['xml_mb']:,.0f} ({s['cin_files']}) | {s['build_seconds']['median']:.1f} | "
                     f"{', '.join(f'{x:.1f}' for x in s['build_seconds']['runs'])} | "
                     f"{s['build_cpu_seconds']['median']:.1f} | {s['write_seconds']['median']:.1f} | "
                     f"{s['rows_per_second']:,} | {s['peak_rss_mb']:,.0f} | "
                     + " | ".join(f"{ph.get(p, 0):.1f}" for p in PHASES) + f" | {ok} |")
    helped = [s for s in mixed if s.get("helpers_peak_rss_mb")]
    if helped:
        lines += ["", "The census files are parsed by helper processes, one per CPU, while the build reads the CSVs "
                  "(journeys.census_apart); the build waits for them in `load_cin`. The largest helper's peak RSS, at most: "
                  + ", ".join(f"{s['helpers_peak_rss_mb']:,.0f} MB at {s['episode_rows']:,} episode rows" for s in helped)
                  + " (getrusage's figure for the build's children, which counts the build's own memory when they "
                  "started; the peak RSS column is the build process's own high-water mark; build CPU s counts the helpers' "
                  "CPU too)."]
    lines += ["", "Row accounting (last run; report.json's per-input rows summed per table; the checks compare "
              "them with counts taken from the CSV lines and the XML's <Child>/<CINdetails> elements):", "",
              "| episode rows | table | files | read | used | superseded | ignored | quarantined |",
              "|---:|:--|---:|---:|---:|---:|---:|---:|"]
    for s in mixed:
        for table, r in s["outputs"]["rows_by_table"].items():
            lines.append(f"| {s['episode_rows']:,} | {table} | {r['files']} | {r['rows_read']:,} | {r['rows_used']:,} | "
                         f"{r['rows_superseded']:,} | {r['rows_ignored']:,} | {r['rows_quarantined']:,} |")
    lines += ["", "Checks (every mixed size): " + "; ".join(mixed[-1]["checks"]) + "."]
    failed = {s["label"]: [k for k, ok in s["checks"].items() if not ok] for s in mixed}
    if any(failed.values()):
        lines.append("FAILED: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in failed.items() if v))
    big = max(mixed, key=lambda s: s["episode_rows"])
    total = big["build_seconds"]["median"] or 1
    flow = big.get("flow", {})
    lines += ["", f"Where the mixed build's time goes at {big['episode_rows']:,} episode rows, by part (self seconds of "
              "the steps in each part, median):", "", "| part | seconds | share |", "|:--|---:|---:|"]
    for group, secs in big["step_groups"].items():
        lines.append(f"| {group} | {secs:.1f} | {secs / total:.0%} |")
    if flow:
        lines += ["", "Through the joined steps: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" if isinstance(v, int)
                                                              else f"{k.replace('_', ' ')} {v}"
                                                              for k, v in flow.items()) + "."]
    lines += ["", "Its steps (library functions; `module.function` for those inside the CIN and joined-journey "
              "modules), in the order they first run; self seconds (median), calls, the peak RSS so far and the "
              "resident memory when each returns. Steps under 1% are left out:", "",
              "| step | part | self seconds | share | calls | peak RSS after, MB | RSS after, MB |",
              "|:--|:--|---:|---:|---:|---:|---:|"]
    peaks, now, calls = big.get("peak_rss_mb_after_step", {}), big.get("rss_mb_after_step", {}), big.get("step_calls", {})
    for step, secs in big["steps"].items():
        if secs >= 0.01 * total:
            peak = f"{peaks[step]:,.0f}" if step in peaks else ""
            rss = f"{now[step]:,.0f}" if now.get(step) is not None else ""
            lines.append(f"| `{step}` | {step_group(step)} | {secs:.2f} | {secs / total:.0%} | {calls.get(step, '')} | "
                         f"{peak} | {rss} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=parse_size, metavar="N",
                        help="SSDA903-only builds: target episode counts (default: 1e5 1e6)")
    parser.add_argument("--mixed-sizes", nargs="+", type=parse_size, metavar="N",
                        help="mixed builds (SSDA903 CSVs + CIN census XML): target episode rows, care episodes + "
                             "CIN stage episodes (default: 1e5 1e6)")
    parser.add_argument("--no-plain", action="store_true", help="skip the SSDA903-only builds")
    parser.add_argument("--no-mixed", action="store_true", help="skip the mixed builds")
    parser.add_argument("--full", action="store_true",
                        help="add 1e7 episodes, SSDA903 only (slow; about 15 GB peak if memory scales as at 1e6)")
    parser.add_argument("--repeats", type=int, help="timed runs per size (default: 3 up to 1e5, 2 up to 1e6, "
                                                    "then 1; mixed: 2 up to 1e5, then 1)")
    parser.add_argument("--seed", type=int, default=1, help="synthetic data seed (default 1)")
    parser.add_argument("--first-year", type=int, default=2016)
    parser.add_argument("--last-year", type=int, default=2025)
    parser.add_argument("--regenerate", action="store_true", help="regenerate the cached CSVs")
    parser.add_argument("--loop-max", type=parse_size, default=0,
                        help="run the per-child loop here too, up to this size (default: never; bench_yardsticks.py "
                             "runs it in the same `make bench`, and it took 25 s at 1e5)")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference check and the loop")
    parser.add_argument("--reference-max", type=parse_size, default=10**6,
                        help="the plain pandas reference up to this size (default 1e6: at 1e7 it took 1.5 minutes, "
                             "and bench_yardsticks.py checks the pipeline's counts there against DuckDB and pm4py)")
    parser.add_argument("--profile", action="store_true",
                        help="also write a cProfile of one extra build per size to results/profile_n*.txt")
    parser.add_argument("--worker", choices=["generate", "generate-mixed", "build", "reference", "parquet"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        job = json.loads(args.job.read_text())
        if args.worker == "generate":
            result = generate(job["size"], job["seed"], job["first_year"], job["last_year"])
        elif args.worker == "generate-mixed":
            result = generate_mixed(job["size"], job["seed"], job["first_year"], job["last_year"])
        elif args.worker == "build":
            result = worker_build(job)
        elif args.worker == "parquet":
            result = worker_parquet(job)
        else:
            result = worker_reference(job)
        result["worker_peak_rss_bytes"] = peak_rss_bytes()  # the parent's ru_maxrss may be its own (peak_rss_bytes)
        args.result.write_text(json.dumps(result, indent=2, default=str))
        return 0

    sizes = [] if args.no_plain else sorted(set(args.sizes or DEFAULT_SIZES) | ({FULL_SIZE} if args.full else set()))
    mixed_sizes = [] if args.no_mixed else sorted(set(args.mixed_sizes or DEFAULT_MIXED_SIZES))
    started = time.perf_counter()
    missing = [s for s in sizes if args.regenerate or cached_meta(s, args.seed) is None]
    missing_mixed = [s for s in mixed_sizes if args.regenerate or cached_mixed_meta(s, args.seed) is None]
    if missing or missing_mixed:
        try:
            from journeys.synth import generate_care_episodes  # noqa: F401
            if missing_mixed:
                from journeys.synth import generate_cin, write_cin_census  # noqa: F401
        except ImportError as exc:
            print(f"journeys.synth cannot generate the data ({exc}), and there is no cached data for "
                  f"{', '.join([label(s) for s in missing] + [f'mixed {label(s)}' for s in missing_mixed])} in {DATA}",
                  file=sys.stderr)
            return 1
    results: dict[str, Any] = {
        "benchmark": "journeys build, end to end from one SSDA903 episodes CSV + header CSV ('sizes'), and from "
                     "those plus the CIN census XML returns of the same children ('mixed')",
        "date": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine_info(),
        "config": str(CONFIG.relative_to(ROOT)), "seed": args.seed, "targets": TARGETS,
        "load_average_start": [round(x, 2) for x in os.getloadavg()], "sizes": [], "mixed": [],
    }
    for size in sizes:
        results["sizes"].append(bench_size(size, args))
    for size in mixed_sizes:
        results["mixed"].append(bench_mixed(size, args))
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "build.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = render_markdown(results)
    (RESULTS / "build.md").write_text(table)
    print(table)
    log(f"done in {results['total_seconds']} s; results in {RESULTS.relative_to(ROOT)}/build.json and build.md")
    failed = [s["label"] for s in results["sizes"] + results["mixed"] if not all(s["checks"].values())]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
