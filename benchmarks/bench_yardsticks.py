#!/usr/bin/env python
"""Yardsticks for `journeys build`: the same SSDA903 episodes counted other ways, each checked against it.

For each size (10^5 and 10^6 episodes by default; `--full` adds 10^7), on the synthetic SSDA903 CSV that
bench_build.py makes (made here if missing), each in a fresh process whose peak RSS is read with os.wait4:

- **journeys build**: the CLI end to end, CSV in, parquet out (what a council runs);
- **DuckDB, one query**: reads the same CSV and counts transitions per (from, to) stage pair with the
  config's rules written as SQL (the fastest single-engine query we could write: the yardstick);
- **pm4py discover_dfg** (with `--full` or `--pm4py`, so in `make bench-full`, not `make bench`): the
  directly-follows graph of the same episodes as an event log (case = a journey, activity = its stage,
  with where the journey began and how it ended as first and last events); timed alone, on an event
  log made beforehand once per size. Its edges without self-loops (consecutive episodes in the same
  stage) are the transitions;
- **per-child Python loop** building a networkx graph (what a first version would do), up to `--loop-max`.

Every count is checked equal to the pipeline's transitions.parquet, pair by pair. pm4py (AGPL) and DuckDB
are the benchmark's own requirements (benchmarks/requirements.txt), installed by `make bench`; the
shipped tool never imports them (tests/test_package.py checks).

Results: `benchmarks/results/yardsticks.json` and `yardsticks.md`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_build as B  # noqa: E402  (the synthetic inputs, the plain-pandas reference rules, timing helpers)
import reference_builds as R  # noqa: E402  (the embedded build kept for bench_dask)

RESULTS = B.RESULTS
KEY_FILE = B.DATA / "bench.key"  # the pseudonymisation key (made on first use; never the user's own)
TARGET_VS_DUCKDB = 3.0  # journeys build end to end within 3x of the DuckDB query (issue 5)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def rule_sql(column: str, rule: Any) -> str:
    """A config rule's match as SQL over the trimmed, upper-cased value (as the pipeline normalises it)."""
    value = f"upper(trim({column}))"
    if rule.equals is not None:
        return f"{value} IN ({', '.join(_sql_text(v) for v in rule.equals)})"
    if rule.prefix is not None:
        return "(" + " OR ".join(f"starts_with({value}, {_sql_text(p)})" for p in rule.prefix) + ")"
    return "(" + " OR ".join(f"{value} GLOB {_sql_text(g)}" for g in rule.glob or []) + ")"


def transitions_sql(csv: Path, config: Any, date_format: str = "%d/%m/%Y") -> str:
    """One DuckDB query: the CSV read, the config's rules applied, journeys cut and transitions counted, as the
    pipeline does for SSDA903 episodes (the same rules as bench_build's plain-pandas reference)."""
    rules = [r for r in config.rules if getattr(r, "source", None) is None]
    episode = [r for r in rules if r.action != "outcome"]
    exits = [r for r in rules if r.action == "outcome"]
    action = "CASE " + " ".join(f"WHEN {rule_sql(r.column, r)} THEN {_sql_text(r.action)}" for r in episode) + " END"
    stage = "CASE " + " ".join(f"WHEN {rule_sql(r.column, r)} THEN " + (_sql_text(r.stage) if r.stage else "NULL")
                               for r in episode) + " END"
    outcome = "CASE " + " ".join(f"WHEN {rule_sql(r.column, r)} THEN {_sql_text(str(r.outcome))}" for r in exits) + " END"
    continuation = ", ".join(_sql_text(c) for c in config.source.continuation_codes) or "NULL"
    return f"""
WITH raw AS (
  SELECT *, row_number() OVER () AS rn
  FROM read_csv({_sql_text(str(csv))}, all_varchar = true, header = true)
), coded AS (
  SELECT CHILD, RNE, rn, try_strptime(DECOM, {_sql_text(date_format)})::DATE AS decom,
         try_strptime(DEC, {_sql_text(date_format)})::DATE AS dec, {action} AS action, {stage} AS stage,
         (REC IS NOT NULL AND REC NOT IN ({continuation})) AS is_exit, {outcome} AS outcome
  FROM raw
), bounds AS (  -- the 31 March of the latest date given
  SELECT make_date(year(latest) + CASE WHEN month(latest) > 3 THEN 1 ELSE 0 END, 3, 31) AS extract
  FROM (SELECT greatest(max(decom), max(dec)) AS latest FROM coded)
), kept AS (
  SELECT c.*, b.extract, (c.dec IS NULL OR c.dec > b.extract) AS open_ep
  FROM coded c, bounds b
  WHERE c.action IN ('stage', 'absorb') AND NOT (c.is_exit AND c.outcome IS NULL)
    AND c.CHILD IS NOT NULL AND c.decom IS NOT NULL AND c.decom <= b.extract AND NOT coalesce(c.dec < c.decom, false)
  QUALIFY row_number() OVER (PARTITION BY c.CHILD, c.decom ORDER BY c.rn) = 1
), marked AS (
  SELECT *, (NOT open_ep AND outcome IS NOT NULL) AS exits,
         coalesce(lag(CHILD) OVER w = CHILD, false) AS same_child,
         decom - lag(CASE WHEN NOT open_ep THEN dec END) OVER w AS gap,
         lag(NOT open_ep AND outcome IS NOT NULL) OVER w AS after_exit,
         row_number() OVER w AS pos
  FROM kept WINDOW w AS (ORDER BY CHILD, decom)
), journeys AS (
  SELECT *, sum(CASE WHEN NOT same_child OR coalesce(after_exit, false) OR coalesce(gap > {int(config.merge_gap_days)}, false)
                     THEN 1 ELSE 0 END) OVER (ORDER BY pos ROWS UNBOUNDED PRECEDING) AS journey
  FROM marked
), staged AS (
  SELECT journey, pos, open_ep, outcome,
         last_value(stage IGNORE NULLS) OVER (PARTITION BY journey ORDER BY pos ROWS UNBOUNDED PRECEDING) AS s,
         first_value(RNE) OVER (PARTITION BY journey ORDER BY pos) AS first_rne,
         pos = max(pos) OVER (PARTITION BY journey) AS last_row
  FROM journeys
), seq AS (
  SELECT *, lag(s) OVER (PARTITION BY journey ORDER BY pos) AS prev_s FROM staged WHERE s IS NOT NULL
), pairs AS (
  SELECT CASE WHEN first_rne = 'S' THEN 'entry' ELSE 'before_data' END AS from_stage, s AS to_stage
  FROM seq WHERE prev_s IS NULL
  UNION ALL SELECT prev_s, s FROM seq WHERE prev_s IS NOT NULL AND prev_s <> s
  UNION ALL SELECT s, CASE WHEN open_ep THEN 'open' ELSE coalesce(outcome, 'unknown_exit') END FROM seq WHERE last_row
)
SELECT from_stage, to_stage, count(*) AS n FROM pairs GROUP BY ALL
"""


def _config() -> Any:
    from journeys.config import load_config
    from journeys.stages import load_stage_model

    return load_config(B.CONFIG, load_stage_model())


def worker_duckdb(job: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    sql = transitions_sql(Path(job["episodes"]), _config())
    connection = duckdb.connect()
    t0 = time.perf_counter()
    rows = connection.execute(sql).fetchall()
    seconds = time.perf_counter() - t0
    threads = connection.execute("SELECT current_setting('threads')").fetchone()
    return {"seconds": round(seconds, 3), "threads": threads[0] if threads else None,
            "counts": [[a, b, int(n)] for a, b, n in rows]}


def _clean(job: dict[str, Any]) -> tuple[Any, Any, Any]:
    config = _config()
    raw = B.read_episodes_csv(Path(job["episodes"]), [r.column for r in config.rules if getattr(r, "source", None) is None])
    rules = B.RefRules(raw, config)
    frame, extract, _ = B.clean_episodes(raw, rules)
    return frame, extract, rules


def event_log(frame: Any, extract: Any, rules: Any) -> Any:
    """The episodes as a pm4py event log: per journey, where it began, each stage episode, how it ended."""
    import numpy as np
    import pandas as pd

    seq = B.journey_stages(frame, extract, rules)
    first, last = seq["_from"].notna().to_numpy(), seq["_to"].notna().to_numpy()
    n = len(seq)
    # each episode at 3 * its position + 1, its journey's first event just before and last just after
    order = np.concatenate([3 * np.flatnonzero(first), 3 * np.arange(n) + 1, 3 * np.flatnonzero(last) + 2])
    case = np.concatenate([seq["_j"].to_numpy()[first], seq["_j"].to_numpy(), seq["_j"].to_numpy()[last]])
    activity = np.concatenate([seq["_from"].to_numpy()[first], seq["_s"].to_numpy(), seq["_to"].to_numpy()[last]])
    sort = np.argsort(order, kind="stable")
    return pd.DataFrame({"case:concept:name": case[sort].astype(str), "concept:name": activity[sort].astype(str),
                         "time:timestamp": pd.Timestamp("2000-01-01") + pd.to_timedelta(order[sort], unit="s")})


def worker_dfg(job: dict[str, Any]) -> dict[str, Any]:
    """discover_dfg timed `repeats` times on one event log, made once: making the log is not what is timed, and
    at 10^6 it took 5-7 s a run (with pm4py's import and the CSV read, 20 s of `make bench` for three runs)."""
    import pm4py

    t0 = time.perf_counter()
    log = event_log(*_clean(job))
    t1 = time.perf_counter()
    runs = []
    for _ in range(int(job.get("repeats", 1))):
        began = time.perf_counter()
        dfg, _, _ = pm4py.discover_dfg(log, case_id_key="case:concept:name", activity_key="concept:name",
                                       timestamp_key="time:timestamp")
        runs.append(round(time.perf_counter() - began, 3))
    return {"seconds": B.median(runs), "runs": runs, "prepare_seconds": round(t1 - t0, 3), "events": len(log),
            "self_loops": int(sum(n for (a, b), n in dfg.items() if a == b)),
            "counts": [[a, b, int(n)] for (a, b), n in dfg.items() if a != b]}


def worker_loop(job: dict[str, Any]) -> dict[str, Any]:
    import networkx as nx

    frame, extract, rules = _clean(job)
    t0 = time.perf_counter()
    graph = nx.DiGraph()
    for (a, b), n in B.loop_counts(frame, extract, rules).items():  # the loop walks each child's episodes in turn
        graph.add_edge(a, b, weight=n)
    seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 3), "counts": [[a, b, int(d["weight"])] for a, b, d in graph.edges(data=True)]}


WORKERS = {"duckdb": worker_duckdb, "dfg": worker_dfg, "loop": worker_loop}


def run_worker(kind: str, job: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """One worker in a fresh interpreter: its result and its peak RSS in bytes."""
    with tempfile.TemporaryDirectory(prefix="yardstick-") as tmp:
        job_path, out_path = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job_path.write_text(json.dumps(job))
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--job",
                                 str(job_path), "--result", str(out_path)], cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"the {kind} yardstick failed for {job}")
        return json.loads(out_path.read_text()), B.maxrss_bytes(usage.ru_maxrss)


def timed_build(paths: dict[str, Path], out: Path) -> tuple[float, int]:
    """`journeys build` as a council runs it (CSV in, parquet out): wall seconds and peak RSS in bytes."""
    command = [sys.executable, "-m", "journeys.cli", "build", "--config", str(B.CONFIG), str(paths["episodes"]),
               str(paths["header"]), "--out", str(out), "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, env=dict(os.environ, JOURNEYS_KEY_FILE=str(KEY_FILE)))
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"journeys build failed on {paths['episodes']}")
    return seconds, B.maxrss_bytes(usage.ru_maxrss)


def pipeline_counts(out: Path) -> Counter[tuple[str, str]]:
    import pandas as pd

    transitions = pd.read_parquet(out / "transitions.parquet", columns=["from_stage", "to_stage"])
    return B._count_pairs(zip(transitions["from_stage"], transitions["to_stage"]))


def bench_size(size: int, args: argparse.Namespace) -> dict[str, Any]:
    meta = B.ensure_data(size, args.seed, args)
    paths = B.data_paths(size, args.seed)
    job = {"episodes": str(paths["episodes"])}
    entry: dict[str, Any] = {"target": size, "label": B.label(size), "episodes": meta["episodes"],
                             "children": meta["children"], "episodes_csv_mb": meta["episodes_csv_mb"]}
    R.FOLDER.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="yardstick-build-", dir=R.FOLDER) as tmp:
        repeats = args.repeats or (3 if size <= 10**6 else 1)
        # each build back to back with a DuckDB query: this VM's speed drifts by a fifth within minutes, so the
        # ratio is taken pair by pair (the median of the pairs' ratios), not from runs minutes apart
        runs, duck_runs = [], []
        for i in range(repeats):
            runs.append(timed_build(paths, Path(tmp) / f"run{i}"))
            duck_runs.append(run_worker("duckdb", job))
        pipeline = pipeline_counts(Path(tmp) / "run0")
        entry["journeys_build"] = {"seconds": B.median(s for s, _ in runs), "runs": [round(s, 2) for s, _ in runs],
                                   "peak_rss_mb": B.mb(max(r for _, r in runs))}
        # bench_dask compares its builds with this one's files (and reports its time) rather than build again
        R.keep(f"ssda903_{B.label(size)}", R.reference_key([paths["episodes"], paths["header"]], B.CONFIG, KEY_FILE),
               Path(tmp) / "run0", {**entry["journeys_build"], "timed_by": "bench_yardsticks.py",
                                    "date": dt.datetime.now().isoformat(timespec="seconds")})
    B.log(f"{B.label(size)}: journeys build {entry['journeys_build']['seconds']} s, "
          f"peak {entry['journeys_build']['peak_rss_mb']} MB")
    kinds = ["duckdb"] + (["dfg"] if args.full or args.pm4py else []) + (["loop"] if size <= args.loop_max else [])
    for kind in kinds:
        # the loop runs once; discover_dfg `repeats` times in one process, on one event log
        runs_k = duck_runs if kind == "duckdb" else [run_worker(kind, {**job, "repeats": repeats if kind == "dfg" else 1})]
        result = dict(runs_k[-1][0])
        counts = Counter({(a, b): n for a, b, n in result.pop("counts")})
        timed = [t for r, _ in runs_k for t in r.get("runs", [r["seconds"]])]
        result["seconds"] = B.median(timed)
        result["runs"] = timed
        result["peak_rss_mb"] = B.mb(max(p for _, p in runs_k))
        result["vs_pipeline"] = B.compare(pipeline, counts)
        entry[kind] = result
        B.log(f"  {kind}: {result['seconds']} s, peak {result['peak_rss_mb']} MB, "
              f"identical to the pipeline: {result['vs_pipeline']['identical']}")
    pairs = [b / d for (b, _), (r, _) in zip(runs, duck_runs) if (d := r["seconds"])]
    entry["build_vs_duckdb_pairs"] = [round(x, 2) for x in pairs]
    entry["build_vs_duckdb"] = round(B.median(pairs), 2) if pairs else None
    return entry


NAMES = {"duckdb": "DuckDB, one query (CSV in)", "dfg": "pm4py discover_dfg alone", "loop": "per-child loop + networkx"}


def write_results(entries: list[dict[str, Any]]) -> None:
    import duckdb

    pm4py_version = None
    if any("dfg" in e for e in entries):
        import pm4py

        pm4py_version = pm4py.__version__
    out = {"date": dt.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
           "cpus": os.cpu_count(), "python": platform.python_version(), "duckdb": duckdb.__version__,
           "pm4py": pm4py_version, "target_build_vs_duckdb": TARGET_VS_DUCKDB, "sizes": entries}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "yardsticks.json").write_text(json.dumps(out, indent=2))
    lines = [f"# Yardsticks for `journeys build` ({out['date']})", "",
             f"{out['machine']}, {out['cpus']} CPUs, Python {out['python']}, DuckDB {out['duckdb']}, "
             + (f"pm4py {pm4py_version}" if pm4py_version else "pm4py not run (`make bench-full` or --pm4py runs it)")
             + ". Synthetic SSDA903 episodes (bench_build.py's), seconds (median of runs) and peak RSS "
             "of a fresh process each. Every yardstick's transition counts are checked against the pipeline's, "
             "pair by pair.", "",
             "| episodes | what | seconds | peak RSS MB | identical to the pipeline | note |", "|---:|:--|---:|---:|:--|:--|"]
    for e in entries:
        b = e["journeys_build"]
        lines.append(f"| {e['episodes']:,} | `journeys build` (CSV in, parquet out) | {b['seconds']} | {b['peak_rss_mb']:,} | - | |")
        for kind in ("duckdb", "dfg", "loop"):
            if kind in e:
                r = e[kind]
                note = (f"{r['threads']} threads" if kind == "duckdb" else
                        f"{r['events']:,} events, made in {r['prepare_seconds']} s first; {r['self_loops']:,} self-loops left out"
                        if kind == "dfg" else "")
                lines.append(f"| {e['episodes']:,} | {NAMES[kind]} | {r['seconds']} | {r['peak_rss_mb']:,} | "
                             f"{'yes' if r['vs_pipeline']['identical'] else 'NO'} | {note} |")
    lines += ["", f"Target (issue 5): `journeys build` end to end within {TARGET_VS_DUCKDB:.0f}x of the DuckDB query at "
              "10^6 episodes. Each build runs back to back with a DuckDB query; the ratio is the median of the pairs' "
              "ratios (listed):"]
    lines += [f"- {e['episodes']:,} episodes: {e['build_vs_duckdb']}x "
              f"({', '.join(map(str, e.get('build_vs_duckdb_pairs', [])))}; "
              f"{'met' if e['build_vs_duckdb'] <= TARGET_VS_DUCKDB else 'not met'})" for e in entries]
    (RESULTS / "yardsticks.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.size_options(parser)
    parser.add_argument("--repeats", type=int, help="timed runs of each (default 3 up to 1e6, 1 at 1e7; the loop runs once)")
    parser.add_argument("--pm4py", action="store_true",
                        help="also time pm4py's discover_dfg at every size (on with --full: `make bench-full` adds pm4py "
                             "and Dask to `make bench`, as issue 5 has it)")
    parser.add_argument("--loop-max", type=B.parse_size, default=10**5, help="run the per-child loop up to this size")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.result.write_text(json.dumps(WORKERS[args.worker](json.loads(args.job.read_text()))))
        return 0
    sizes = B.chosen_sizes(args)
    entries = [bench_size(size, args) for size in sizes]
    write_results(entries)
    failed = [f"{e['label']} {k}" for e in entries for k in ("duckdb", "dfg", "loop") if k in e
              and not e[k]["vs_pipeline"]["identical"]]
    if failed:
        B.log(f"NOT IDENTICAL to the pipeline: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
