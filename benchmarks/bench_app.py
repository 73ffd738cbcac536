#!/usr/bin/env python
"""Benchmark the app at 10^6 episodes: start time from cache, and the server time of each filter change.

1. Data: the mixed SSDA903 + CIN census synthetic authority of `bench_build.py` (10^6 episode rows
   by default; inputs cached in benchmarks/data/), built once into benchmarks/data/app-cache/ the
   way `journeys serve --config ... INPUT...` builds (keyed by input, config and code hashes).
2. Start time from cache: `journeys serve --config CFG INPUT... --cache DIR` started as a
   subprocess until it first answers GET / (hashing the inputs, reading the cached parquet, the
   journey attributes, building the working set, importing dash): median of 3 starts. With `--full`
   (`make bench-full`), also at 10^7 SSDA903 episodes (bench_build.py's CSV): `journeys serve --data` on
   the build bench_yardsticks.py made and kept in the same run (benchmarks/reference_builds.py), or, run
   alone, from the cache after a first start that builds it and is not counted: target < 5 s (issue 5).
3. Filter changes: the real Dash callback endpoint (`/_dash-update-component`, through Flask's
   test client, so JSON encoding and the figure are included), with 50 random filter combinations
   (authority, age band, sex, ethnicity, legal status, need, a stage clicked to narrow, a quarter
   or year). A filter change fires every callback of the page that listens to the filters, and
   the browser sends them together: they are posted at once from a pool of threads (waitress
   serves them the same way), and the page's time is until the last one answers. The flows page is
   measured with each of its three panels on show. Median, p95 and max milliseconds of the page,
   and the chart's own callback. Target p95 < 150 ms.

Results: benchmarks/results/app.json and app.md. Run: `make bench` (with the build benchmark) or
`.venv/bin/python benchmarks/bench_app.py [--size 1e6] [--changes 50]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_build  # noqa: E402  (the synthetic inputs and their cache)
import reference_builds as R  # noqa: E402  (the 10^7 build bench_yardsticks kept)

from journeys.attributes import FILTER_COLUMNS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CACHE = bench_build.DATA / "app-cache"
KEY_FILE = bench_build.DATA / "bench.key"
TARGET_P95_MS = 150.0
FULL_SIZE = bench_build.FULL_SIZE
TARGET_START_1E7_S = 5.0  # issue 5: the app starts from cache at 10^7 episodes in under 5 s


def inputs_for(size: int, seed: int) -> list[Path]:
    args = argparse.Namespace(regenerate=False, first_year=2016, last_year=2025)
    meta = bench_build.ensure_mixed_data(size, seed, args)
    return bench_build.mixed_inputs(meta, bench_build.mixed_paths(size, seed))


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def from_cache(inputs: list[Path]) -> list[str]:
    """`journeys serve`'s arguments for these inputs, built into (or read from) the bench's cache."""
    return ["--config", str(bench_build.CONFIG), *map(str, inputs), "--cache", str(CACHE)]


def start_seconds(serve: list[str], env: dict[str, str]) -> float:
    """Seconds from starting `journeys serve` (with these arguments) to its first answer."""
    port = free_port()
    begun = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "journeys.cli", "serve", *serve, "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError("journeys serve stopped before answering")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    if response.status == 200:
                        return time.perf_counter() - begun
            except OSError:
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(10)


def callback_body(outputs: list[tuple[str, str]], inputs: list[tuple[str, str, Any]], changed: str,
                  state: Sequence[tuple[str, str, Any]] = ()) -> dict[str, Any]:
    """The JSON the Dash renderer posts for one callback."""
    return {"output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".." if len(outputs) > 1 else f"{outputs[0][0]}.{outputs[0][1]}",
            "outputs": [{"id": i, "property": p} for i, p in outputs] if len(outputs) > 1 else {"id": outputs[0][0], "property": outputs[0][1]},
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "changedPropIds": [changed], "state": [{"id": i, "property": p, "value": v} for i, p, v in state]}


def random_filters(rng: random.Random, options: dict[str, list[str]], stages: list[str]) -> list[tuple[str, str, Any]]:
    """Shell filter values as the renderer sends them: most filters 'All', some with one or two values chosen."""
    from journeys.ui.shell import FILTER_IDS
    values: list[tuple[str, str, Any]] = [("filter-authority", "value", [])]
    for column in FILTER_COLUMNS:
        chosen = rng.sample(options[column], k=min(len(options[column]), rng.choice([1, 2]))) if rng.random() < 0.35 else []
        values.append((FILTER_IDS[column], "value", chosen))
    values.append(("shell-through-stage", "data", rng.choice(stages) if rng.random() < 0.25 else None))
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=bench_build.parse_size, default=10**6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--full", action="store_true",
                        help="also time the start from cache at 10^7 SSDA903 episodes (built into the cache first)")
    args = parser.parse_args()
    env = dict(os.environ, JOURNEYS_KEY_FILE=str(KEY_FILE), PYTHONUNBUFFERED="1")
    os.environ["JOURNEYS_KEY_FILE"] = str(KEY_FILE)
    inputs = inputs_for(args.size, args.seed)

    from journeys.cache import build_inputs
    from journeys.ui import AppState, create_app
    from journeys.views import quarters

    began = time.perf_counter()
    build = build_inputs(bench_build.CONFIG, inputs, CACHE, progress=bench_build.log)
    first_build = time.perf_counter() - began
    bench_build.log(f"build ready in {first_build:.1f} s: {len(build.spells):,} spells, {len(build.attributes):,} journeys")
    starts = [start_seconds(from_cache(inputs), env) for _ in range(0 if os.environ.get("BENCH_SKIP_START") else 3)] \
        or [0.0]
    bench_build.log(f"start from cache: {', '.join(f'{s:.1f}' for s in starts)} s")
    starts_full: list[float] = []
    full_start = ""
    if args.full:  # issue 5: all of England, 10^7 episodes; the first start builds the cache and is not counted
        meta = bench_build.ensure_data(FULL_SIZE, args.seed, argparse.Namespace(regenerate=False, first_year=2016,
                                                                                 last_year=2025))
        paths = bench_build.data_paths(FULL_SIZE, args.seed)
        full_inputs = [paths["episodes"], paths["header"]]
        kept = R.kept(f"ssda903_{bench_build.label(FULL_SIZE)}", R.reference_key(full_inputs, bench_build.CONFIG, KEY_FILE))
        if kept:  # the build bench_yardsticks.py timed in this `make bench-full`, for the same inputs and code
            full_start = f"the `journeys build` folder bench_yardsticks.py made in this run ({kept[1]['date']})"
            bench_build.log(f"10^7: starting on {full_start} (journeys serve --data)")
            starts_full = [start_seconds(["--data", str(kept[0])], env) for _ in range(3)]
        else:
            full_start = "the cache (built by a first start, not counted)"
            bench_build.log(f"10^7: building {meta['episodes']:,} episodes into the cache (first start)")
            starts_full = [start_seconds(from_cache(full_inputs), env) for _ in range(4)][1:]
        bench_build.log(f"start at 10^7 from {full_start}: {', '.join(f'{s:.1f}' for s in starts_full)} s")

    state = AppState([build], cache_root=CACHE)
    app = create_app(state)
    client = app.server.test_client()
    client.get("/")  # sets up the server (callbacks, CSP) as the first visit does
    assert state.data is not None and state.warming is not None
    warm_began = time.perf_counter()
    state.warming.join()  # the app codes every quarter's spells in its first seconds, before a user's first change
    warm_up_s = time.perf_counter() - warm_began + 1.0  # + the second it waits before starting
    bench_build.log(f"warm-up (coding the quarters' spells, in the background): {warm_up_s:.1f} s")
    options = state.data.options()
    stages = state.stage_model.of_kind("stage")
    periods = [p.key for p in quarters([dt.date.fromisoformat(str(build.report["extract_date"]))], years=5)]
    years = sorted({int(k[:4]) for k in periods})[1:]
    filters_only = ["filter-sex.value"]
    flows_main = ([("flows-graph", "figure"), ("flows-table", "children"), ("flows-graph", "config"), ("flows-drawn", "data")],
                  lambda period: [("flows-period", "value", period), ("flows-picture-format", "value", "png")])

    def flows_panel(panel: str) -> list[tuple[list[tuple[str, str]], Any]]:
        """The callbacks a filter change fires on the flows page with `panel` on show (the others answer at once):
        the flows first, then, once they answer (flows-drawn), the panels, with the period and filters as state."""
        outputs = {"stages": [("flows-stages-table", "children")], "year": [("flows-yoy-table", "children")],
                   "trends": [("flows-trends-graph", "figure"), ("flows-trends-table", "children"),
                              ("flows-trends-graph", "config")]}
        extra = {"trends": [("flows-trend-measure", "value", "stock_end"), ("flows-trends-picture-format", "value", "png")]}
        return [flows_main, *[(outputs[name], lambda period, name=name: [("flows-panel", "value", panel),
                                                                          *extra.get(name, []),
                                                                          ("flows-drawn", "data", period)])
                              for name in outputs]]

    def journeys_main(year: int, depth: int) -> list[tuple[str, str, Any]]:
        return [("journeys-period", "value", year), ("journeys-depth", "value", depth), ("journeys-truncated", "value", []),
                ("journeys-picture-format", "value", "png")]

    # each page: the callbacks one filter change fires there (the browser sends them together), and their own inputs
    pages: dict[str, tuple[list[tuple[list[tuple[str, str]], Any]], Any]] = {
        "Quarterly flows (per-stage panel)": (flows_panel("stages"), lambda rng: rng.choice(periods)),
        "Quarterly flows (year-before panel)": (flows_panel("year"), lambda rng: rng.choice(periods)),
        "Quarterly flows (trends panel)": (flows_panel("trends"), lambda rng: rng.choice(periods)),
        "Journeys": ([([("journeys-graph", "figure"), ("journeys-table", "children"), ("journeys-graph", "config")],
                       lambda choice: journeys_main(*choice))],
                     lambda rng: (rng.choice(years), rng.choice([3, 4, 6]))),
        "Overview": ([([("overview-table", "children")], lambda year: [("overview-year", "value", year)])],
                     lambda rng: rng.choice(years)),
    }
    results: dict[str, Any] = {}
    pool = ThreadPoolExecutor(max_workers=4)  # as waitress serves the browser's parallel requests
    clients = threading.local()

    def post(body: dict[str, Any]) -> float:
        if not hasattr(clients, "client"):
            clients.client = app.server.test_client()
        began = time.perf_counter()
        response = clients.client.post("/_dash-update-component", json=body)
        if response.status_code not in (200, 204):
            raise RuntimeError(f"{response.status_code} {response.get_data(as_text=True)[:500]}")
        return (time.perf_counter() - began) * 1000

    for page, (callbacks, own) in pages.items():
        rng = random.Random(f"{args.seed}:{page}")  # each page its own filter changes: none found in the memo
        times, first = [], []
        for i in range(args.changes + 3):
            choice, filters = own(rng), random_filters(rng, options, stages)
            if page.startswith("Quarterly flows"):  # the flows, then the panels they fire, with period and filters as state
                main, *panels = callbacks
                bodies = [callback_body(main[0], main[1](choice) + filters, filters_only[0])]
                after = [callback_body(outputs, inputs(choice), "flows-drawn.data",
                                       state=[("flows-period", "value", choice), *filters]) for outputs, inputs in panels]
            else:
                bodies, after = [callback_body(outputs, inputs(choice) + filters, filters_only[0])
                                 for outputs, inputs in callbacks], []
            began = time.perf_counter()
            each = list(pool.map(post, bodies))
            if after:
                list(pool.map(post, after))
            elapsed = (time.perf_counter() - began) * 1000
            if i >= 3:  # the first three warm caches up, as a user's first clicks do
                times.append(elapsed)
                first.append(each[0])
        times.sort()
        first.sort()
        results[page] = {"median_ms": round(statistics.median(times), 1),
                         "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1), "max_ms": round(times[-1], 1),
                         "main_view_median_ms": round(statistics.median(first), 1),
                         "main_view_p95_ms": round(first[int(0.95 * (len(first) - 1))], 1),
                         "callbacks": len(callbacks), "changes": len(times)}
        bench_build.log(f"{page}: median {results[page]['median_ms']} ms, p95 {results[page]['p95_ms']} ms")

    out = {"date": dt.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
           "cpus": os.cpu_count(), "python": platform.python_version(), "episode_rows": args.size,
           "spells": len(build.spells), "journeys": len(build.attributes), "first_build_s": round(first_build, 1),
           "start_from_cache_s": [round(s, 2) for s in starts], "start_from_cache_median_s": round(statistics.median(starts), 2),
           "warm_up_s": round(warm_up_s, 1),
           "start_from_cache_1e7_s": [round(s, 2) for s in starts_full], "start_1e7_from": full_start,
           "start_from_cache_1e7_median_s": round(statistics.median(starts_full), 2) if starts_full else None,
           "target_start_1e7_s": TARGET_START_1E7_S,
           "filter_changes": results, "target_p95_ms": TARGET_P95_MS}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "app.json").write_text(json.dumps(out, indent=2))
    lines = [f"# App benchmark ({out['date']})", "",
             f"{out['machine']}, {out['cpus']} CPUs, Python {out['python']}. Mixed SSDA903 + CIN census synthetic authority: "
             f"{args.size:,} episode rows, {out['spells']:,} spells, {out['journeys']:,} journeys.", "",
             f"Start from cache (`journeys serve` to first answer, median of 3): **{out['start_from_cache_median_s']} s** "
             f"({', '.join(map(str, out['start_from_cache_s']))}). Then, in the background, the app codes every "
             f"quarter's spells: {out['warm_up_s']} s, waited for before the filter changes below.", "",
             *([f"At 10^7 SSDA903 episodes (all of England over ten years; `--full`): start from {full_start}, "
                f"median of 3: **{out['start_from_cache_1e7_median_s']} s** "
                f"({', '.join(map(str, out['start_from_cache_1e7_s']))}), target < {TARGET_START_1E7_S:.0f} s. "
                "A start reads the built tables the same way from either: from the cache it first finds the folder "
                "by the inputs' digests, remembered by file size and time.", ""] if starts_full else []),
             f"Server time per filter change, real callback endpoint, {args.changes} random filter combinations per page "
             f"(target p95 < {TARGET_P95_MS:.0f} ms). A change fires every callback of the page at once, as the browser "
             "does (on the flows page, the panel below fires once the flows answer); 'page' is the time until the "
             "last one answers, 'main view' the chart's own callback:", "",
             "| page | callbacks | page median ms | page p95 ms | page max ms | main view median ms | main view p95 ms |",
             "|:--|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {page} | {r['callbacks']} | {r['median_ms']} | {r['p95_ms']} | {r['max_ms']} | {r['main_view_median_ms']} "
              f"| {r['main_view_p95_ms']} |" for page, r in results.items()]
    (RESULTS / "app.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
