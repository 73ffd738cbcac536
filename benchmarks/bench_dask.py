#!/usr/bin/env python
"""`journeys build --engine dask` against the embedded build: the same files, and how it scales from 1 to 2 workers.

For each size (10^5 and 10^6 episodes by default; `--full` adds 10^7), on bench_build.py's synthetic
SSDA903 CSV, the CLI runs in a fresh process, as a council or a national body would run it:

- the embedded build (`journeys build`): the one bench_yardsticks.py timed and kept
  (benchmarks/reference_builds.py) when the inputs and every module are the same, else run here and kept;
- the Dask engine on a local cluster of 1 worker process, then 2 (`--engine dask --workers N`); at 10^7, and the
  mixed data's 10^6, only 2 (`--full-workers`: one worker there took three minutes, and one, of
  `make bench-full`'s thirty).

Each Dask build's output files are compared byte for byte with the embedded build's (exit 1 if any
differs). Timed from outside (wall seconds), with each phase read from the progress lines as they
arrive (cluster start and reading, writing the partitions, building them, joining them and writing
the outputs), and peak RSS of the largest process (os.wait4: the driver or a worker).

Run by `make bench-full` (issue 5: `make bench` is 10^5 and 10^6 without pm4py and Dask), or alone.
Results: `benchmarks/results/dask.json` and `dask.md`; the scaling note is in benchmarks/README.md.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_build as B  # noqa: E402  (the synthetic inputs and helpers)
import reference_builds as R  # noqa: E402  (the embedded build bench_yardsticks kept)

KEY_FILE = B.DATA / "bench.key"
OUTPUTS = ("episodes.parquet", "spells.parquet", "transitions.parquet", "journey_attributes.parquet", "issues.csv",
           "report.json")
#: progress lines that start each phase of a Dask build, and the phase's name
PHASES = (("Reading", "start cluster + read"), ("Writing", "write partitions"), ("Building", "build partitions"),
          ("Joining", "join + write outputs"))


def timed(extra: list[str], inputs: list[Path], out: Path) -> dict[str, Any]:
    """One `journeys build` in a fresh process: wall seconds, phases from its progress lines, peak RSS."""
    command = [sys.executable, "-m", "journeys.cli", "build", "--config", str(B.CONFIG), *map(str, inputs),
               "--out", str(out), *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, JOURNEYS_KEY_FILE=str(KEY_FILE)))
    marks: list[tuple[float, str]] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        for start, name in PHASES:
            if line.startswith(f"... {start}") and name not in [m for _, m in marks]:
                marks.append((time.perf_counter() - t0, name))
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"journeys build {' '.join(extra)} failed on {paths['episodes']}")
    bounds = [0.0] + [t for t, _ in marks[1:]] + [seconds]
    phases = {name: round(bounds[i + 1] - bounds[i], 2) for i, (_, name) in enumerate(marks)}
    return {"seconds": round(seconds, 2), "phases": phases, "peak_rss_mb": B.mb(B.maxrss_bytes(usage.ru_maxrss))}


def same_files(a: Path, b: Path) -> dict[str, bool]:
    return {name: (a / name).read_bytes() == (b / name).read_bytes() for name in OUTPUTS}


def bench_size(size: int, args: argparse.Namespace, mixed: bool = False) -> dict[str, Any]:
    """The embedded build, then Dask with each number of workers, on the SSDA903 CSVs (or, `mixed`, the CSVs
    and the CIN census XML of bench_build's mixed data)."""
    if mixed:
        meta = B.ensure_mixed_data(size, args.seed, args)
        inputs = B.mixed_inputs(meta, B.mixed_paths(size, args.seed))
        entry: dict[str, Any] = {"target": size, "label": B.label(size), "episodes": meta["episode_rows"],
                                 "children": meta["children"], "data": "SSDA903 + CIN census", "runs": {}}
    else:
        meta = B.ensure_data(size, args.seed, args)
        paths = B.data_paths(size, args.seed)
        inputs = [paths["episodes"], paths["header"]]
        entry = {"target": size, "label": B.label(size), "episodes": meta["episodes"], "children": meta["children"],
                 "data": "SSDA903", "runs": {}}
    label = f"{'mixed' if mixed else 'ssda903'}_{B.label(size)}"
    key = R.reference_key(inputs, B.CONFIG, KEY_FILE)
    reference = R.kept(label, key)  # the embedded build bench_yardsticks (or an earlier run of this) kept
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        if reference:
            embedded, timing = reference
            entry["runs"]["embedded"] = {k: timing[k] for k in ("seconds", "runs", "peak_rss_mb")} | {
                "phases": {}, "timed_by": timing["timed_by"], "date": timing["date"]}
            B.log(f"{B.label(size)} {entry['data']} embedded: {timing['seconds']} s, as {timing['timed_by']} timed it "
                  f"({timing['date']}; same inputs and code)")
        else:
            embedded = Path(tmp) / "embedded"
        # the largest sizes with the larger cluster only: the scaling from 1 to 2 workers is measured below them
        workers = args.full_workers if size >= B.FULL_SIZE or (mixed and size >= 10**6) else args.workers
        cases = ([] if reference else [("embedded", [])]) + [
            (f"dask, {w} worker{'s' if w > 1 else ''}", ["--engine", "dask", "--workers", str(w)]) for w in workers]
        for name, extra in cases:
            runs = []
            for i in range(args.repeats):
                out = embedded if not extra and i == 0 else Path(tmp) / f"{len(entry['runs'])}-{i}"
                runs.append(timed(extra + ["--quiet"] if not extra else extra, inputs, out))
                if extra:
                    runs[-1]["same_as_embedded"] = same_files(embedded, out)
            best = min(runs, key=lambda r: r["seconds"])
            result = {"seconds": B.median(r["seconds"] for r in runs), "runs": [r["seconds"] for r in runs],
                      "phases": best["phases"], "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}
            if extra:
                result["identical"] = all(all(r["same_as_embedded"].values()) for r in runs)
            entry["runs"][name] = result
            if not extra:  # kept for the next run with the same inputs and code
                embedded = R.keep(label, key, embedded, {**result, "timed_by": "bench_dask.py",
                                                         "date": dt.datetime.now().isoformat(timespec="seconds")})
            B.log(f"{B.label(size)} {entry['data']} {name}: {result['seconds']} s, peak {result['peak_rss_mb']} MB"
                  + (f", phases {result['phases']}, identical files: {result['identical']}" if extra else ""))
    return entry


def write_results(entries: list[dict[str, Any]]) -> None:
    import dask

    out = {"date": dt.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
           "cpus": os.cpu_count(), "python": platform.python_version(), "dask": dask.__version__, "sizes": entries}
    B.RESULTS.mkdir(exist_ok=True)
    (B.RESULTS / "dask.json").write_text(json.dumps(out, indent=2))
    lines = [f"# `journeys build --engine dask` ({out['date']})", "",
             f"{out['machine']}, {out['cpus']} CPUs, Python {out['python']}, Dask {out['dask']}. Synthetic SSDA903 "
             "episodes (bench_build.py's), and its mixed data (SSDA903 CSVs and CIN census XML; episode rows = care "
             "episodes + CIN stage episodes); `journeys build` from the files in a fresh process, wall seconds (median "
             "of runs), peak RSS of the largest process. A local cluster on 127.0.0.1, four partitions per worker. "
             "Every Dask build's six output files are compared byte for byte with the embedded build's: the one "
             "bench_yardsticks.py timed in the same `make bench-full` run where the inputs and code are the same (a 10^7 "
             "build not run twice), else built here.", "",
             "| data | episodes | engine | seconds | start + read | write partitions | build partitions | "
             "join + write | peak RSS MB | identical files |", "|:--|---:|:--|---:|---:|---:|---:|---:|---:|:--|"]
    for e in entries:
        for name, r in e["runs"].items():
            p = r["phases"]
            cells = [str(p.get(n, "")) for _, n in PHASES] if "identical" in r else ["", "", "", ""]
            if "timed_by" in r:  # the embedded build kept by another script (or an earlier run) for the same code
                name = f"{name} (timed by {r['timed_by']}, {r['date'][:10]})"
            lines.append(f"| {e.get('data', 'SSDA903')} | {e['episodes']:,} | {name} | {r['seconds']} | {' | '.join(cells)} | {r['peak_rss_mb']:,} | "
                         f"{'-' if 'identical' not in r else 'yes' if r['identical'] else 'NO'} |")
    (B.RESULTS / "dask.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.size_options(parser)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs of each engine (default 1)")
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2], help="local cluster sizes (default: 1 2)")
    parser.add_argument("--full-workers", nargs="+", type=int, default=[2],
                        help="local cluster sizes at 10^7 episodes and 10^6 mixed rows (default: 2; one worker took 3 "
                             "minutes and 1 minute there, and the scaling from 1 to 2 is measured at the smaller sizes)")
    parser.add_argument("--mixed-sizes", nargs="*", type=B.parse_size, metavar="N",
                        help="episode rows of the mixed SSDA903 + CIN census data (default: 1e5, and 1e6 with --full)")
    args = parser.parse_args(argv)
    sizes = B.chosen_sizes(args)
    mixed = args.mixed_sizes if args.mixed_sizes is not None else [10**5] + ([10**6] if args.full else [])
    entries = [bench_size(size, args) for size in sizes] + [bench_size(size, args, mixed=True) for size in mixed]
    write_results(entries)
    return 0 if all(r.get("identical", True) for e in entries for r in e["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
