"""The `journeys` command: validate, build, flows, compare, serve, synth.

Exit 0 ok, 1 invalid data or config, 2 usage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from journeys.cache import write_build
from journeys.config import PathwayConfig, load_config
from journeys.errors import InputError, JourneysError
from journeys.flows import Period, flows_long, suppressed_flows
from journeys.stages import PSEUDO_STAGES, StageModel, load_stage_model

if TYPE_CHECKING:  # the pipeline loads when a command builds: `journeys serve` from a cache starts without it
    from journeys.pipeline import BuildResult


class UsageError(Exception):
    """A combination of options that cannot work (exit 2, like argparse's own errors)."""


def _date(text: str) -> dt.date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"'{text}' is not a date: write it as 2024-03-31 or 31/03/2024")


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of months of at least 1")
    return int(text)


def _progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def _inputs_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="the authority's pathway config (YAML)")
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                        help="SSDA903 episodes/header or local extract files (CSV, XLSX, parquet)")
    parser.add_argument("--extract-date", type=_date, help="censoring date (default: the return's 31 March)")
    parser.add_argument("--year", type=int, help="collection year of every input: the year of its 31 March")
    parser.add_argument("--stage-model", type=Path, help="stage model YAML (default: the shipped one)")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")


def make_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the docs test)."""
    parser = argparse.ArgumentParser(prog="journeys", description="Care Journeys: children's journeys through "
                                     "social care, built on this machine from SSDA903 and local extracts.")
    parser.add_argument("--debug", action="store_true", help="show the full error for unexpected failures")
    sub = parser.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate", help="check inputs and print the report (exit 1 if rows quarantined)")
    _inputs_parser(validate)
    validate.add_argument("--format", choices=["text", "json"], default="text")
    build = sub.add_parser("build", help="build episodes, spells, transitions and report.json")
    _inputs_parser(build)
    build.add_argument("--out", required=True, type=Path, help="folder to write the outputs to")
    build.add_argument("--from", dest="base", type=Path, metavar="BUILD_DIR",
                       help="add to an earlier build: the inputs it read come first and are not read again; only "
                            "the files after them, and the children they touch, are built (else every input is)")
    build.add_argument("--engine", choices=["embedded", "dask"], default="embedded",
                       help="embedded (default: this process) or dask (partitions of children on a Dask cluster)")
    build.add_argument("--scheduler", metavar="ADDRESS",
                       help="with --engine dask: a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a "
                            "local cluster on 127.0.0.1)")
    build.add_argument("--workers", type=int, help="with --engine dask and no --scheduler: local worker processes "
                                                   "(default: one per core)")
    build.add_argument("--partitions", type=int, help="with --engine dask: how many partitions of children "
                                                      "(default: four per worker)")
    build.add_argument("--work-dir", type=Path, help="with --engine dask: where the partitions are written (on a "
                                                     "cluster: storage every worker reads; default: a temporary folder)")
    flows = sub.add_parser("flows", help="print a quarter's suppressed flows between stages")
    _inputs_parser(flows)
    flows.add_argument("--period", required=True, type=_period, help="the calendar quarter, e.g. 2023Q2")
    flows.add_argument("--format", choices=["csv", "json"], default="csv")
    compare = sub.add_parser("compare", help="compare the children who started before and after a date")
    _inputs_parser(compare)
    compare.add_argument("--date", required=True, type=_date,
                         help="the intervention date: cohort 'Before' starts in the --months before it, "
                              "'After' from it")
    compare.add_argument("--months", type=_positive, default=12, help="length of each cohort's window (default 12)")
    compare.add_argument("--horizon", type=_positive, default=12,
                         help="compare where children are this many months after their start (default 12)")
    compare.add_argument("--stage", help="time in this stage (default: the whole journey, start to end)")
    compare.add_argument("--format", choices=["text", "json"], default="text")
    serve = sub.add_parser("serve", help="run the app on this computer (http://127.0.0.1:8050/ by default)")
    serve.add_argument("--config", type=Path, help="the authority's pathway config, with its INPUT files")
    serve.add_argument("inputs", nargs="*", type=Path, metavar="INPUT", help="extract files to build and show")
    serve.add_argument("--data", nargs="+", type=Path, metavar="BUILD_DIR", help="folders written by journeys build")
    serve.add_argument("--samples", action="store_true", help="load the bundled synthetic authorities")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    serve.add_argument("--port", type=int, default=8050, help="port to listen on (default 8050)")
    serve.add_argument("--cache", type=Path, default=Path("build/cache"), help="folder for cached builds")
    serve.add_argument("--population", type=Path, help="CSV of authority, year, population_0_17 for rates per 10,000")
    serve.add_argument("--stage-model", type=Path, help="stage model YAML (default: the shipped one)")
    synth = sub.add_parser("synth", help="write the synthetic sample authorities")
    synth.add_argument("--out", required=True, type=Path)
    synth.add_argument("--seed", type=int, default=1)
    synth.add_argument("--scale", type=float, default=1.0, help="size multiplier (1.0: ~500 to ~5,000 children)")
    return parser


def _model_and_config(args: argparse.Namespace) -> tuple[StageModel, PathwayConfig]:
    stage_model = load_stage_model(args.stage_model)
    return stage_model, load_config(args.config, stage_model)


def _run_keeping(args: argparse.Namespace) -> BuildResult:
    """The embedded build, keeping what a later build adds to; with --from, added to that build if it can be."""
    from journeys.cache import fingerprint, input_digest
    from journeys.incremental import STATE_DIR, build_adding
    from journeys.pseudonymise import load_key

    stage_model, config = _model_and_config(args)
    progress = (lambda _: None) if args.quiet else _progress
    # the earlier inputs' digests are remembered beside what the earlier build kept: not read again next month
    digest = input_digest(args.base / STATE_DIR if args.base and (args.base / STATE_DIR).is_dir() else None)
    result, why = build_adding(args.inputs, config, stage_model, load_key(), base=args.base,
                               fingerprint=fingerprint(args.config, args.stage_model), digest=digest,
                               extract_date=args.extract_date, return_year=args.year, progress=progress)
    if why and args.quiet:
        print(f"Built every input, not adding to {args.base}: {why}", file=sys.stderr)
    return result


def _run(args: argparse.Namespace) -> BuildResult:
    from journeys.pipeline import run_pipeline

    stage_model, config = _model_and_config(args)
    return run_pipeline(args.inputs, config, stage_model=stage_model, extract_date=args.extract_date,
                        return_year=args.year, progress=(lambda _: None) if args.quiet else _progress)


def format_report(report: dict[str, object]) -> str:
    """The report as text for a terminal: accounting first, then issues by code with examples."""
    lines = [f"Authority {report['authority']}, extract date {report['extract_date']}"
             f"{' (inferred)' if report.get('extract_date_inferred') else ''}",
             f"Rows read {report['rows_read']:,}: used {report['rows_used']:,}, superseded "
             f"{report['rows_superseded']:,}, ignored {report['rows_ignored']:,}, quarantined "
             f"{report['rows_quarantined']:,}"]
    for entry in report["inputs"]:  # type: ignore[attr-defined]
        lines.append(f"  {entry['file']} ({entry['table']}): read {entry['rows_read']:,}, used "
                     f"{entry['rows_used']:,}, superseded {entry['rows_superseded']:,}, ignored "
                     f"{entry['rows_ignored']:,}, quarantined {entry['rows_quarantined']:,}")
    for name, key in (("Ignored by rule", "ignored_by_rule"), ("Quarantined by reason", "quarantined_by_reason")):
        if report[key]:
            lines.append(f"{name}:")
            lines += [f"  {k}: {v:,}" for k, v in report[key].items()]  # type: ignore[attr-defined]
    for issue in report["issues"]:  # type: ignore[attr-defined]
        lines.append(f"{issue['severity'].upper()} {issue['code']} ({issue['count']:,}): {issue['title']}")
        lines += [f"  {m}" for m in issue["examples"][:5]]
    return "\n".join(lines)


def cmd_validate(args: argparse.Namespace) -> int:
    result = _run(args)
    if args.format == "json":
        print(json.dumps(result.report, indent=2, default=str))
    else:
        print(format_report(result.report))
    return 1 if result.report["rows_quarantined"] else 0


SCHEDULER_TIMEOUT_S = 10  # seconds to reach a Dask scheduler before saying it cannot be reached


def _run_dask(args: argparse.Namespace) -> BuildResult:
    """The build on Dask: a scheduler's cluster, or a local one that stops with the build."""
    try:
        import distributed  # noqa: F401 - only to say clearly when it is missing
    except ImportError:
        raise UsageError("--engine dask needs Dask: pip install 'dask[distributed]'") from None
    from dask.distributed import Client

    from journeys.partitioned import default_workers, local_client, run_partitioned

    if args.partitions is not None and args.partitions < 1:
        raise UsageError("--partitions must be 1 or more")
    stage_model, config = _model_and_config(args)
    if args.scheduler:
        try:
            client, stack = Client(args.scheduler, timeout=SCHEDULER_TIMEOUT_S), None
        except (OSError, TimeoutError, ValueError) as exc:
            raise JourneysError(f"the Dask scheduler at {args.scheduler} could not be reached ({exc})",
                                fix="start it (`dask scheduler`) and its workers, check the address and port "
                                    "(e.g. tcp://10.0.0.5:8786), or leave out --scheduler to build on this "
                                    "computer.") from None
    else:
        client, stack = local_client(args.workers or default_workers())
    from journeys.cache import fingerprint, input_digest

    try:
        return run_partitioned(args.inputs, config, client=client, stage_model=stage_model,
                               extract_date=args.extract_date, return_year=args.year, partitions=args.partitions,
                               work_dir=args.work_dir, progress=(lambda _: None) if args.quiet else _progress,
                               fingerprint=fingerprint(args.config, args.stage_model), digest=input_digest())
    finally:
        client.close() if stack is None else stack.close()


def cmd_build(args: argparse.Namespace) -> int:
    if args.engine != "dask" and any(getattr(args, o) is not None for o in ("scheduler", "workers", "partitions",
                                                                            "work_dir")):
        raise UsageError("--scheduler, --workers, --partitions and --work-dir go with --engine dask")
    if args.engine == "dask" and args.base is not None:
        raise UsageError("--from adds to a build with the embedded engine: leave out --engine dask")
    result = _run_dask(args) if args.engine == "dask" else _run_keeping(args)
    out: Path = args.out
    write_build(result, out)
    if not args.quiet:
        print(format_report(result.report))
        print(f"Wrote episodes.parquet, spells.parquet, transitions.parquet, report.json and issues.csv to {out}")
    return 0


def cmd_flows(args: argparse.Namespace) -> int:
    result = _run(args)
    if args.period.start > dt.date.fromisoformat(str(result.report["extract_date"])):
        raise JourneysError(f"{args.period.key} starts after the extract date {result.report['extract_date']}",
                            fix="choose a quarter the data covers.")
    table = flows_long(suppressed_flows(result.spells, args.period, result.stage_model), args.period)
    if args.format == "json":
        print(json.dumps(table.to_dict("records"), indent=2))
    else:
        print(table.to_csv(index=False), end="")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from journeys.cohort_report import comparison_json, comparison_text
    from journeys.cohorts import around, compare_cohorts

    stage_model, _ = _model_and_config(args)
    not_stages = {*stage_model.of_kind("outcome"), *PSEUDO_STAGES}
    if args.stage is not None and (args.stage not in stage_model.ids or args.stage in not_stages):
        raise UsageError(f"--stage {args.stage!r} is not a stage of the stage model: choose one of "
                         f"{', '.join(s for s in stage_model.ids if s not in not_stages)}")
    result = _run(args)
    given = result.report.get("extract_dates")
    dates = list(given.values()) if isinstance(given, dict) and given else [result.report["extract_date"]]
    followed_until = min(dt.date.fromisoformat(str(d)) for d in dates)  # every source covers it
    cohorts = around(args.date, args.months)
    if (pd.Timestamp(cohorts[1].first) + pd.DateOffset(months=args.horizon)).date() > followed_until:
        raise JourneysError(f"No journey starting on or after {args.date} can be followed {args.horizon} months: "
                            f"the data runs to {followed_until}",
                            fix="choose an earlier --date or a shorter --horizon.")
    comparison = compare_cohorts(result.spells, result.stage_model, cohorts, followed_until=followed_until,
                                 horizon_months=args.horizon, stage=args.stage)
    if args.format == "json":
        print(json.dumps(comparison_json(comparison), indent=2))
    else:
        print(comparison_text(comparison, {s.id: s.label for s in stage_model.stages}), end="")
    return 0


def read_population(path: Path) -> pd.DataFrame:
    """The population file for rates: columns authority, year (the 31 March year), population_0_17."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"the population file could not be read: {exc}", where=str(path),
                         fix="give a CSV with columns authority, year, population_0_17.") from exc
    missing = {"authority", "year", "population_0_17"} - set(frame.columns)
    bad = pd.to_numeric(frame.get("population_0_17"), errors="coerce").isna() if not missing else pd.Series(dtype=bool)
    if missing or bad.any():
        what = f"columns {', '.join(sorted(missing))} are missing" if missing else \
            f"population_0_17 is not a number on line {int(bad.idxmax()) + 2}"
        raise InputError(f"the population file is not usable: {what}", where=str(path),
                         fix="give a CSV with columns authority, year (e.g. 2024 for 31 March 2024), population_0_17.")
    try:
        return frame.astype({"year": "int64", "population_0_17": "int64"})
    except (TypeError, ValueError) as exc:
        raise InputError(f"the population file is not usable: year and population_0_17 must be whole numbers ({exc})",
                         where=str(path), fix="write the year as 2024 (for 31 March 2024), not 2023-24.") from exc


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def cmd_serve(args: argparse.Namespace) -> int:
    if args.host not in LOOPBACK:
        raise JourneysError(f"--host {args.host} would let other computers reach the app, and sign-in with roles "
                            "(DESIGN 7) is not built yet",
                            fix="serve on 127.0.0.1 (the default) and open the app on this computer.")
    if args.inputs and not args.config:
        raise UsageError("INPUT files need --config: the authority's pathway config that maps their codes")
    if args.config and not args.inputs:
        raise UsageError("--config needs the INPUT files to build")
    from journeys.cache import build_inputs, read_build, sample_builds
    from journeys.ui import AppState, create_app, serve
    progress = _progress
    builds = []
    if args.samples:
        builds += sample_builds(Path(__file__).resolve().parent.parent, args.cache, progress, args.stage_model)
    if args.config:
        builds.append(build_inputs(args.config, args.inputs, args.cache, args.stage_model, progress))
    builds += [read_build(folder) for folder in args.data or []]
    population = read_population(args.population) if args.population else None
    state = AppState(builds, stage_model=load_stage_model(args.stage_model), cache_root=args.cache, population=population)
    serve(create_app(state), host=args.host, port=args.port)
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from journeys.synth import write_samples
    written = write_samples(args.out, seed=args.seed, scale=args.scale)
    for authority, files in written.items():
        print(f"{authority}: {len(files)} files in {args.out / authority} "
              f"(config: pathway_configs/{authority}.yaml)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `journeys` console script."""
    parser = make_parser()
    args = parser.parse_args(argv)
    handler = {"validate": cmd_validate, "build": cmd_build, "flows": cmd_flows, "compare": cmd_compare, "synth": cmd_synth, "serve": cmd_serve}[args.command]
    try:
        return handler(args)
    except UsageError as exc:
        parser.error(str(exc))
    except JourneysError as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user; --debug shows it
        if args.debug:
            raise
        print(f"\nSomething unexpected went wrong: {type(exc).__name__}: {exc}\n"
              "This is a fault in Care Journeys, not in your data. Run again with --debug and send the "
              "output (it contains no child data) to the maintainers.", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
