#!/usr/bin/env python
"""Adding this month's extract to a build (`journeys build --from`) against building the whole history again.

For each size (10^5 and 10^6 episodes by default; `--full` adds 10^7), bench_build.py's synthetic
SSDA903 history is split by child: the children whose first episode starts in the last month before
the extract date (their episodes and header rows) are "this month's extract", everyone else the
history; then the same with the last 12 months (a year of new children), to show how the time grows
with the new data; and then the next annual return: the history as the returns stood a year before
the last 31 March (episodes that ended later still open), and a return of every episode open then
or started since, which supersedes those open versions and moves the extract date a year, so every
child still open is built again (those two at 10^6 only: `cases_at`). Both files are the same collection year, so the extract date does not move and the added
build rebuilds this month's children only (where it moves, the children still open are rebuilt
too: tests/test_incremental.py). Each command runs in a fresh process (wall seconds, peak RSS):

- the history alone, keeping what a later build adds to;
- the history and this month from scratch;
- this month added to the history's build (`--from`).

The added build's files are compared byte for byte with the build from scratch (exit 1 if any
differs). Results: `benchmarks/results/incremental.json` and `incremental.md`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import filecmp
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_build as B  # noqa: E402  (the synthetic inputs and helpers)

KEY_FILE = B.DATA / "bench.key"
MONTHS = (1, 12, 0)  # this month's new children; a year's, to show the time grows with the new data; 0: next return
OUTPUTS = ("episodes.parquet", "spells.parquet", "transitions.parquet", "journey_attributes.parquet", "issues.csv",
           "report.json")


def read_text(path: Path) -> pd.DataFrame:
    """A CSV as text, blanks as empty strings (Arrow's reader: pandas' took most of a minute at 10^7 episodes)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, engine="pyarrow")


def write_text(frame: pd.DataFrame, path: Path) -> None:
    """Text columns written as pandas writes them (no value here needs quotes), by Arrow's writer: pandas' to_csv
    took most of a minute at 10^7 episodes."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none", quoting_header="none"))


def split_month(paths: dict[str, Path], folder: Path, months: int = 1) -> tuple[list[Path], list[Path], dict[str, Any]]:
    """The history's files and the new extract's: the children whose first episode starts in the last
    `months` months (1: this month's extract)."""
    episodes, header = read_text(paths["episodes"]), read_text(paths["header"])
    start = pd.to_datetime(episodes["DECOM"], format="%d/%m/%Y", errors="coerce")
    latest = start.max()
    month_begins = (latest.replace(day=1) - pd.DateOffset(months=months - 1)).normalize()
    first = start.groupby(episodes["CHILD"]).transform("min")
    new = (first >= month_begins).to_numpy()
    children = set(episodes.loc[new, "CHILD"])
    is_new_header = header["CHILD"].isin(children).to_numpy()
    out = {"history_episodes": folder / "history_episodes.csv", "history_header": folder / "history_header.csv",
           "month_episodes": folder / "month_episodes.csv", "month_header": folder / "month_header.csv"}
    write_text(episodes[~new], out["history_episodes"])
    write_text(header[~is_new_header], out["history_header"])
    write_text(episodes[new], out["month_episodes"])
    write_text(header[is_new_header], out["month_header"])
    counts = {"history_episodes": int((~new).sum()), "month_episodes": int(new.sum()),
              "month_children": len(children), "month_begins": str(month_begins.date())}
    return [out["history_episodes"], out["history_header"]], [out["month_episodes"], out["month_header"]], counts


def split_return(paths: dict[str, Path], folder: Path) -> tuple[list[Path], list[Path], dict[str, Any]]:
    """The history as the returns up to 31 March of the year before the last stood (episodes ending after it
    open), and the last year's return: every episode open on or starting after 1 April of that year, in its
    final form, superseding the open versions (the extract date moves a year)."""
    episodes, header = read_text(paths["episodes"]), read_text(paths["header"])
    start = pd.to_datetime(episodes["DECOM"], format="%d/%m/%Y", errors="coerce")
    end = pd.to_datetime(episodes["DEC"], format="%d/%m/%Y", errors="coerce")
    latest = max(start.max(), end.max())
    cut = pd.Timestamp(latest.year - (1 if latest.month > 3 else 2), 3, 31)
    before = (start <= cut).to_numpy()
    history = episodes[before].copy()
    still_open = (end[before] > cut).to_numpy()
    history.loc[history.index[still_open], ["DEC", "REC", "REASON_PLACE_CHANGE"]] = ""
    last = ((start > cut) | end.isna() | (end > cut)).to_numpy()
    out = {"history_episodes": folder / "history_episodes.csv", "history_header": folder / "history_header.csv",
           "month_episodes": folder / "return_episodes.csv", "month_header": folder / "return_header.csv"}
    write_text(history, out["history_episodes"])
    write_text(header, out["history_header"])
    write_text(episodes[last], out["month_episodes"])
    write_text(header[header["CHILD"].isin(set(episodes.loc[last, "CHILD"]))], out["month_header"])
    counts = {"history_episodes": int(before.sum()), "month_episodes": int(last.sum()),
              "month_children": int(episodes.loc[last, "CHILD"].nunique()), "month_begins": str(cut.date())}
    return [out["history_episodes"], out["history_header"]], [out["month_episodes"], out["month_header"]], counts


def cases_at(size: int) -> tuple[int, ...]:
    """The new extracts tried at `size`: all three at 10^6, where the time shows how it grows with the new data;
    a month at 10^5, where Python's start is most of every build (the other two cost 20 s of `make bench`'s ten
    minutes and said nothing new), and at 10^7 (the others would take 4 minutes)."""
    return MONTHS if 10**5 < size < B.FULL_SIZE else MONTHS[:1]


def timed(inputs: list[Path], out: Path, extra: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    """One `journeys build` in a fresh process: wall seconds and peak RSS; its progress lines."""
    command = [sys.executable, "-m", "journeys.cli", "build", "--config", str(B.CONFIG), *map(str, inputs),
               "--out", str(out), *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, JOURNEYS_KEY_FILE=str(KEY_FILE)))
    assert proc.stderr is not None
    lines = list(proc.stderr)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"journeys build failed:\n{''.join(lines[-20:])}")
    return {"seconds": round(time.perf_counter() - t0, 2), "peak_mb": round(B.mb(B.maxrss_bytes(usage.ru_maxrss)), 1),
            "progress": [line.strip() for line in lines]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    B.size_options(parser)
    parser.add_argument("--mixed-sizes", nargs="*", type=B.parse_size, metavar="N",
                        help="episode rows of the mixed SSDA903 + CIN census data, a month's care extract added to "
                             "the census and the care history (default: 1e5; 1e6 takes 2-3 minutes more)")
    args = parser.parse_args()
    rows = []
    mixed = args.mixed_sizes if args.mixed_sizes is not None else [10**5]
    cases = [(size, months, False) for size in B.chosen_sizes(args) for months in cases_at(size)]
    # the mixed data first: a build's peak RSS comes from os.wait4, and a child forked from this process
    # counts this process's memory until it runs the build (after splitting 10^7 episodes, 4.7 GB)
    for size, months, with_census in [(size, 1, True) for size in mixed] + cases:
        census: list[Path] = []
        if with_census:
            meta = B.ensure_mixed_data(size, args.seed, args)
            paths = B.mixed_paths(size, args.seed)
            census = B.mixed_inputs(meta, paths)[2:]
        else:
            paths = B.data_paths(size, args.seed)
            B.ensure_data(size, args.seed, args)
        with tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp:
            folder = Path(tmp)
            history, month, counts = split_month(paths, folder, months) if months else split_return(paths, folder)
            history = [*census, *history]  # the census returns stay with the history: a month brings care rows
            B.log(f"{B.label(size)}: history {counts['history_episodes']:,} episodes, this month "
                  f"{counts['month_episodes']:,} ({counts['month_children']:,} children from {counts['month_begins']})")
            first = timed(history, folder / "history")
            scratch = timed([*history, *month], folder / "scratch")
            added = timed([*history, *month], folder / "added", ["--from", str(folder / "history")])
            same = all(filecmp.cmp(folder / "scratch" / n, folder / "added" / n, shallow=False) for n in OUTPUTS)
            rebuilt = next((line for line in added["progress"] if "children to build again" in line), "")
            row = {"episodes": size, "data": "SSDA903 + CIN census" if census else "SSDA903", "months": months, **counts, "history_build_s": first["seconds"], "scratch_s": scratch["seconds"],
                   "scratch_peak_mb": scratch["peak_mb"], "added_s": added["seconds"], "added_peak_mb": added["peak_mb"],
                   "speedup": round(scratch["seconds"] / added["seconds"], 2),
                   "rebuilt": rebuilt.split(": ", 1)[-1], "same_files": same}
            B.log(json.dumps(row))
            rows.append(row)
            if not same:
                raise SystemExit(f"{B.label(size)}: the added build's files differ from the build from scratch")
    meta = {"date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}"}
    B.RESULTS.mkdir(parents=True, exist_ok=True)
    (B.RESULTS / "incremental.json").write_text(json.dumps({**meta, "rows": rows}, indent=2), encoding="utf-8")
    lines = [f"# Incremental build benchmark ({meta['date']})", "", f"{meta['machine']}. SSDA903 synthetic history "
             "(and bench_build's mixed data: the census returns stay with the history, a month's care extract is "
             "added; episodes = care + CIN stage episode rows); "
             "the new extract is the children whose first episode starts in the last month (or 12 months: a year "
             "of new children), given as files after the history's, same collection year, so the extract date "
             "stays. Fresh process each, wall seconds (Python start and imports "
             "included).", "",
             "| data | episodes | new: months | new episodes (children) | from scratch s | added (--from) s | speedup | "
             "peak MB scratch / added | rebuilt | same files |", "|:--|--:|--:|--:|--:|--:|--:|--:|:--|:--|"]
    for r in rows:
        lines.append(f"| {r.get('data', 'SSDA903')} | {r['episodes']:,} | {r['months'] or 'next return'} | {r['month_episodes']:,} "
                     f"({r['month_children']:,}) | "
                     f"{r['scratch_s']} | "
                     f"{r['added_s']} | {r['speedup']}x | {r['scratch_peak_mb']:,} / {r['added_peak_mb']:,} | "
                     f"{r['rebuilt']} | {r['same_files']} |")
    (B.RESULTS / "incremental.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
