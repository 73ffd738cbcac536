#!/usr/bin/env python
"""Benchmark `journeys build` end to end on synthetic SSDA903 returns (DESIGN 9).

For each size (10^5 and 10^6 episodes by default; `--full` adds 10^7):

1. generate the episodes with `journeys.synth.generate_care_episodes`, calibrated so the file has
   (very nearly) the target number of episodes, and write ONE SSDA903 episodes CSV (dd/mm/yyyy,
   blank for missing) and a header CSV to `benchmarks/data/` (git-ignored; reused when the size
   and seed match);
2. time what `journeys build --config pathway_configs/ssda903.yaml EPISODES HEADER --out DIR` does,
   in-process via `run_pipeline` (then, separately, writing the parquet outputs), each repeat in a
   fresh subprocess whose peak RSS the parent reads with `os.wait4` (the per-child form of
   `getrusage(RUSAGE_CHILDREN)`): the memory a user's `journeys build` would need;
3. attribute the build time to the phases the pipeline reports through its `progress` callback
   (Reading / Checking / Mapping / Building), and to its steps (by timing the functions
   `run_pipeline` calls; nothing in the library is changed);
4. check the outputs: internal invariants (transitions = spells + journeys, one entry per journey)
   and the per stage-pair transition counts against an independent plain-pandas reference built
   straight from the CSV; at 10^5 also a plain per-child Python loop (the yardstick: what a first
   version would do), timed.

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
FULL_SIZE = 10**7
PHASES = ["Reading", "Checking", "Mapping", "Building"]
REFERENCE_COLUMNS = ["CHILD", "DECOM", "RNE", "LS", "PLACE", "DEC", "REC"]
TARGETS = {
    "vs_duckdb": "end to end from an SSDA903 CSV of 10^6 episodes within 3x of a DuckDB query that counts "
                 "transitions (DuckDB and pm4py comparisons arrive with issue 5)",
    "peak_rss_mb_at_1e6": 2048,
}


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
# Worker: one timed build in a fresh process
# --------------------------------------------------------------------------------------------------

class StepTimer:
    """Times the functions `run_pipeline` calls, by wrapping the journeys functions the pipeline module
    names (its own helpers too). Each gets its self time (minus the wrapped calls inside it), so the
    steps add up to the build without double counting, whatever the pipeline's helpers are called."""

    def __init__(self, module: Any, skip: tuple[str, ...] = ("run_pipeline", "_quiet")) -> None:
        self.self_seconds: dict[str, float] = {}  # in the order the steps first ran
        self.total_seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.peak_after: dict[str, float] = {}  # peak RSS (MB) so far when the step last returned
        self._children: list[float] = []
        for name, obj in list(vars(module).items()):
            if inspect.isfunction(obj) and obj.__module__.startswith("journeys") and name not in skip:
                setattr(module, name, self._wrap(name, obj))

    def _wrap(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if name not in self.self_seconds:
                self.self_seconds[name] = self.total_seconds[name] = 0.0
                self.calls[name] = 0
            self._children.append(0.0)
            t0 = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t0
                inner = self._children.pop()
                self.self_seconds[name] += elapsed - inner
                self.total_seconds[name] += elapsed
                self.calls[name] += 1
                if self._children:
                    self._children[-1] += elapsed
                self.peak_after[name] = peak_rss_mb()
        return timed


def peak_rss_mb() -> float:
    """This process's peak resident memory so far."""
    return mb(maxrss_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


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
    """run_pipeline on the cached CSVs as `journeys build` would, then write its outputs."""
    t_import = time.perf_counter()
    import pandas as pd

    import journeys.pipeline as pipeline
    from journeys.config import load_config
    from journeys.stages import load_stage_model

    stage_model = load_stage_model()
    config = load_config(CONFIG, stage_model)
    setup_seconds = time.perf_counter() - t_import
    rss_setup = maxrss_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

    steps = StepTimer(pipeline)
    marks: list[tuple[float, str]] = []

    peaks: list[tuple[str, float]] = []

    def progress(message: str) -> None:
        marks.append((time.perf_counter(), message))
        peaks.append((message, peak_rss_mb()))

    inputs = [Path(job["episodes"]), Path(job["header"])]
    profiler = None
    if job.get("profile"):
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    c0, t0 = time.process_time(), time.perf_counter()
    result = pipeline.run_pipeline(inputs, config, stage_model=stage_model, key=BENCH_KEY, progress=progress)
    t1, c1 = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.disable()
    rss_build = maxrss_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

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
    sub_steps = {k: round(v, 3) for k, v in steps.self_seconds.items()}  # in the order they ran
    sub_steps["(inline in run_pipeline)"] = round(t1 - t0 - sum(steps.self_seconds.values()), 3)
    outcome: dict[str, Any] = {
        "build_seconds": round(t1 - t0, 3), "build_cpu_seconds": round(c1 - c0, 3),
        "write_seconds": round(t3 - t2, 3),
        "setup_seconds": round(setup_seconds, 3), "phases": phase_seconds(marks, t0, t1), "steps": sub_steps,
        "progress": [[round(t - t0, 3), m, peak] for (t, m), (_, peak) in zip(marks, peaks)],
        "peak_rss_mb_after_step": steps.peak_after,
        "steps_inclusive": {k: round(v, 3) for k, v in steps.total_seconds.items()}, "step_calls": steps.calls,
        "rss_after_setup_mb": mb(rss_setup), "rss_after_build_mb": mb(rss_build),
        "outputs": {
            "episodes_in": int(report["rows_read"]) - sum(int(i["rows_read"]) for i in report["inputs"]
                                                           if i["table"] == "header"),
            "episodes_out": int(len(result.episodes)), "spells": int(len(spells)),
            "transitions": int(len(transitions)), "journeys": journeys_n,
            "children": int(spells["person_id"].nunique()), "issues": int(len(result.issues)),
            "rows_read": report["rows_read"], "rows_used": report["rows_used"],
            "rows_superseded": report["rows_superseded"], "rows_ignored": report["rows_ignored"],
            "rows_quarantined": report["rows_quarantined"], "extract_date": report["extract_date"],
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


def reference_counts(frame: Any, extract: Any, rules: RefRules) -> Counter[tuple[str, str]]:
    """Transitions per (from, to) stage pair, vectorised in plain pandas over all children at once."""
    import numpy as np

    open_ep = (frame["DEC"].isna() | (frame["DEC"] > extract)).to_numpy()
    exits = (~open_ep & frame["ref_outcome"].notna()).to_numpy()
    same_child = (frame["CHILD"] == frame["CHILD"].shift()).to_numpy()
    prev_end = frame["DEC"].where(~open_ep).shift()
    gap = (frame["DECOM"] - prev_end).dt.days.to_numpy()
    new_journey = ~same_child | np.append(False, exits[:-1]) | (gap > rules.merge_gap_days)
    journey = np.cumsum(new_journey)
    stage = frame["ref_stage"].groupby(journey).ffill()
    has_stage = stage.notna().to_numpy()
    # the stage sequence per journey (absorbed episodes take the stage before them, else the one after)
    seq = frame.assign(_j=journey, _s=stage)[has_stage]
    prev_same = (seq["_j"] == seq["_j"].shift()).to_numpy()
    prev_s = seq["_s"].shift()
    moves = seq[prev_same & (seq["_s"] != prev_s).to_numpy()]
    firsts = seq[~prev_same]
    starts = frame.loc[new_journey, ["RNE"]].assign(_j=journey[new_journey]).set_index("_j")["RNE"]
    pseudo = np.where(starts.reindex(firsts["_j"]).to_numpy() == "S", "entry", "before_data")
    last = np.append(new_journey[1:], True)
    ends = frame.assign(_s=stage)[last & has_stage]
    end_open = open_ep[last & has_stage]
    end_to = np.where(end_open, "open", ends["ref_outcome"].fillna("unknown_exit").to_numpy())
    counts: Counter[tuple[str, str]] = Counter()
    for pairs in (zip(pseudo, firsts["_s"]), zip(prev_s.loc[moves.index], moves["_s"]), zip(ends["_s"], end_to)):
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
    raw = read_episodes_csv(Path(job["episodes"]), [rule.column for rule in config.rules])
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
        return json.loads(out_path.read_text()), maxrss_bytes(usage.ru_maxrss)


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


def bench_size(size: int, args: argparse.Namespace) -> dict[str, Any]:
    meta = ensure_data(size, args.seed, args)
    paths = data_paths(size, args.seed)
    repeats = args.repeats or default_repeats(size)
    job = {"episodes": str(paths["episodes"]), "header": str(paths["header"]), "out": str(paths["out"])}
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
        "repeats": len(runs),
        "build_seconds": {"median": median(builds), "best": min(builds), "runs": builds},
        "build_cpu_seconds": {"median": median(r["build_cpu_seconds"] for r in runs),
                              "runs": [r["build_cpu_seconds"] for r in runs]},
        "write_seconds": {"median": median(r["write_seconds"] for r in runs),
                          "runs": [r["write_seconds"] for r in runs]},
        "end_to_end_seconds": median(r["build_seconds"] + r["write_seconds"] for r in runs),
        "rows_per_second": round(meta["episodes"] / median(builds)),
        "peak_rss_mb": max(mb(p) for p in rss), "peak_rss_mb_runs": [mb(p) for p in rss],
        "rss_after_imports_mb": last["rss_after_setup_mb"],
        "phases": {p: median(r["phases"].get(p, 0.0) for r in runs) for p in runs[0]["phases"]},
        "steps": {s: median(r["steps"].get(s, 0.0) for r in runs) for s in runs[0]["steps"]},
        "steps_inclusive": {s: median(r["steps_inclusive"].get(s, 0.0) for r in runs)
                            for s in runs[0]["steps_inclusive"]},
        "peak_rss_mb_after_step": last["peak_rss_mb_after_step"],
        "outputs": last["outputs"], "checks": last["checks"],
    }
    loop = size <= args.loop_max
    if not args.no_reference:
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
    wall = sum(s["build_seconds"]["median"] for s in results["sizes"])
    cpu = sum(s["build_cpu_seconds"]["median"] for s in results["sizes"])
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
             "Build = `run_pipeline` on the episodes CSV + header CSV (what `journeys build` does before writing); "
             "write = the parquet/CSV/JSON outputs; phases from the pipeline's progress messages (seconds, "
             "median over runs).", "",
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
                     + " | ".join(f"{ph.get(p, 0):.1f}" for p in PHASES) + f" | {ok} |")
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
    at_1e6 = [s for s in results["sizes"] if s["target"] == 10**6]
    lines += ["", "Targets (project issues):", ""]
    if at_1e6:
        rss = at_1e6[0]["peak_rss_mb"]
        lines.append(f"- peak memory under 2 GB at 10^6 episodes: {rss:,.0f} MB, "
                     f"{'met' if rss < TARGETS['peak_rss_mb_at_1e6'] else 'NOT met'}")
    else:
        lines.append("- peak memory under 2 GB at 10^6 episodes: not measured in this run")
    lines.append("- end to end within 3x of a DuckDB query counting transitions at 10^6: DuckDB comparison "
                 "arrives with issue 5")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=parse_size, metavar="N",
                        help="target episode counts (default: 1e5 1e6)")
    parser.add_argument("--full", action="store_true",
                        help="add 1e7 episodes (slow; about 15 GB peak if memory scales as at 1e6)")
    parser.add_argument("--repeats", type=int, help="timed runs per size (default: 3 up to 1e5, 2 up to 1e6, "
                                                    "then 1)")
    parser.add_argument("--seed", type=int, default=1, help="synthetic data seed (default 1)")
    parser.add_argument("--first-year", type=int, default=2016)
    parser.add_argument("--last-year", type=int, default=2025)
    parser.add_argument("--regenerate", action="store_true", help="regenerate the cached CSVs")
    parser.add_argument("--loop-max", type=parse_size, default=10**5,
                        help="run the per-child loop yardstick up to this size (default 1e5)")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference check and the loop")
    parser.add_argument("--profile", action="store_true",
                        help="also write a cProfile of one extra build per size to results/profile_n*.txt")
    parser.add_argument("--worker", choices=["generate", "build", "reference"], help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        job = json.loads(args.job.read_text())
        if args.worker == "generate":
            result = generate(job["size"], job["seed"], job["first_year"], job["last_year"])
        elif args.worker == "build":
            result = worker_build(job)
        else:
            result = worker_reference(job)
        args.result.write_text(json.dumps(result, indent=2, default=str))
        return 0

    sizes = sorted(set(args.sizes or DEFAULT_SIZES) | ({FULL_SIZE} if args.full else set()))
    started = time.perf_counter()
    missing = [s for s in sizes if args.regenerate or cached_meta(s, args.seed) is None]
    if missing:
        try:
            from journeys.synth import generate_care_episodes  # noqa: F401
        except ImportError as exc:
            print(f"journeys.synth.generate_care_episodes is not available ({exc}), and there is no cached "
                  f"data for {', '.join(label(s) for s in missing)} in {DATA}", file=sys.stderr)
            return 1
    results: dict[str, Any] = {
        "benchmark": "journeys build, end to end from one SSDA903 episodes CSV + header CSV",
        "date": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine_info(),
        "config": str(CONFIG.relative_to(ROOT)), "seed": args.seed, "targets": TARGETS,
        "load_average_start": [round(x, 2) for x in os.getloadavg()], "sizes": [],
    }
    for size in sizes:
        results["sizes"].append(bench_size(size, args))
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "build.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = render_markdown(results)
    (RESULTS / "build.md").write_text(table)
    print(table)
    log(f"done in {results['total_seconds']} s; results in {RESULTS.relative_to(ROOT)}/build.json and build.md")
    failed = [s["label"] for s in results["sizes"] if not all(s["checks"].values())]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
