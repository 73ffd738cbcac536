"""What each app page shows, as pure functions of the working set and the user's choices (no dash).

The Dash callbacks only unpack their inputs and call these, so every figure, table and download
is unit-tested here with exact numbers. Every count of children returned has passed through
`suppress` (the Data page's row accounting counts input rows, not children).
"""

from __future__ import annotations

import datetime as dt
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

import numpy as np
import pandas as pd

from journeys.charts import Figure, empty_figure, flow_sankey, stage_label
from journeys.flows import (NOT_KNOWN, CodedSpells, Period, QuarterRows, coded_spells, counts_for, flows_long,
                            quarter_counts, quarter_rows, stocks_for, window_counts, year_label)
from journeys.quarter_links import Memo, quarter_table, year_end_pair
from journeys.selection import JourneyData, Selection
from journeys.stages import StageModel
from journeys.suppress import DEFAULT_THRESHOLD, SuppressedTable, suppress_table

SPELL_CORE = ["authority", "person_id", "journey_no", "step", "stage", "start", "end", "next_stage", "exit_detail",
              "moves", "left_truncated", "re_entry"]
NOTHING_MATCHES = "No children match these filters. Clear a filter to see more."


class _CsvWhenAsked:
    """A view's CSV download, written when first asked for (`csv_of`): a filter change draws the chart and its
    table, and only a download needs the text (the flows' CSV cost 5 ms of an 8 ms view)."""

    csv_of: Callable[[], str]

    @cached_property
    def csv(self) -> str:
        return self.csv_of()


@dataclass(frozen=True)
class View(_CsvWhenAsked):
    """One chart's worth of output: the figure, its table view (text) and its CSV download (text)."""

    figure: Figure  # plotly JSON
    table: pd.DataFrame
    csv_of: Callable[[], str]
    caption: str


def quarters(extract_dates: list[dt.date], first: dt.date | None = None, years: int = 10) -> list[Period]:
    """Quarters the app offers, oldest first: from the data's first day (at most `years` back) to the
    EARLIEST extract date, so no authority's open cases look like children leaving."""
    if not extract_dates:
        return []
    last = min(extract_dates)
    start = max(first or dt.date(last.year - years, 1, 1), dt.date(last.year - years, 1, 1))
    out, period = [], Period(start.year, (start.month - 1) // 3 + 1)
    while period.end <= last:
        out.append(period)
        period = period.next()
    return out


def scope(data: JourneyData, selection: Selection) -> str:
    """Which authorities a view covers, for titles and file names."""
    chosen = [a for a in data.authorities if not selection.authorities or a in selection.authorities]
    return ", ".join(chosen) if chosen else "no authority"


def flow_orders(model: StageModel) -> tuple[list[str], list[str]]:
    """Every node the flows Sankey can show, in stage-model order: left (start) and right (end) columns."""
    stages = [s for s in model.ids if model.get(s).kind == "stage"]
    outcomes = model.of_kind("outcome")
    return [NOT_KNOWN, *stages], [*stages, *outcomes, NOT_KNOWN]


def flows_view(data: JourneyData, selection: Selection, period: Period, model: StageModel,
               threshold: int = DEFAULT_THRESHOLD, secret: str | None = None) -> View:
    """The quarterly flows view (remembered per selection, so its download costs nothing)."""
    return data.remember(("flows", selection.key(), period.key, threshold, secret, model.version),
                         lambda: _flows_view(data, selection, period, model, threshold, secret))


def flow_table(data: JourneyData, selection: Selection, period: Period, model: StageModel,
               threshold: int = DEFAULT_THRESHOLD, secret: str | None = None) -> tuple[pd.DataFrame, SuppressedTable]:
    """The quarter's flow counts and their suppressed table, computed once for every view that shows them.

    `secret` switches on viewer mode: cell-key perturbation before suppression (DESIGN 6).
    """
    counts_of, memo = flow_context(data, selection, period, model, threshold, secret)

    def compute() -> tuple[pd.DataFrame, SuppressedTable]:
        counts = counts_of(period)
        table = quarter_table(period, counts_of, model, threshold, memo)
        return counts, suppress_table(counts, threshold=threshold) if table is None else table

    return data.remember(("flow-table", selection.key(), period.key, threshold, secret, model.version), compute)


def flow_context(data: JourneyData, selection: Selection, period: Period, model: StageModel, threshold: int,
                  secret: str | None) -> tuple[Callable[[Period], pd.DataFrame], Memo]:
    """Quarter counts and a memo for the linked flows tables of one selection, remembered in the working set.

    Exact counts come from every spell coded once, a quarter's spells found once, and the filter's
    spell mask (`exact_counts`): no select. With a viewer's `secret`, counting the viewed quarter
    counts the window its linked table needs from one selection.
    """
    def count_key(p: Period) -> tuple[Any, ...]:
        return ("flow-counts", selection.key(), p.key, secret, model.version)

    def counts_of(p: Period) -> pd.DataFrame:
        """A quarter's counts; with it, those missing around the viewed quarter, from one selection."""
        if secret is None:
            return data.remember(count_key(p), lambda: exact_counts(data, data.mask(selection), p, model))
        if data.remembers(count_key(p)):
            return data.remember(count_key(p), lambda: quarter_counts(spells_for([p]), p, model, secret))
        # what its linked table needs (two quarters either side), and the next quarter's (the Overview shows
        # both sides of 31 March; play steps on)
        window, end = [period.previous().previous()], period.next().next().next()
        while window[-1] != end:
            window.append(window[-1].next())
        missing = [q for q in window if q == p or not data.remembers(count_key(q))] if p in window else [p]
        spells = spells_for(missing)
        counted = window_counts(spells, missing, model, secret)
        for q, counts in counted.items():
            data.remember(count_key(q), partial(_given, counts))
        return counted[p]

    def spells_for(periods: list[Period]) -> pd.DataFrame:
        return data.select(selection, columns=["person_id", "stage", "start", "end", "next_stage", "authority"],
                           overlapping=(pd.Timestamp(periods[0].start), pd.Timestamp(periods[-1].end)),
                           children_as_ids=secret is None)

    def memo(key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        return data.remember((*key, selection.key(), threshold, secret, model.version), compute)

    return counts_of, memo


def _given(value: pd.DataFrame) -> pd.DataFrame:
    return value


def warm_up(data: JourneyData, model: StageModel, periods: list[Period], wait: float = 1.0,
            current: Callable[[], bool] = lambda: True) -> None:
    """Code every spell and find the spells of `periods` ahead of the first filter change (a background thread).

    It waits `wait` seconds first, so the server starts answering before this competes for the GIL,
    and stops once `current()` says the data were replaced (several authorities loading at start).
    Then the objects alive (the working set, the app) are moved out of the cyclic garbage collector's
    reach (`gc.freeze`): a full collection walked them in 65 ms at 10^6 and landed inside a filter
    change about once in 60; now it takes 7. `AppState.add` gives them back before replacing the data.
    """
    time.sleep(wait)
    for period in periods:
        if not current():
            return
        coded_quarter(data, period, model)
    if current():
        gc.freeze()


def exact_counts(data: JourneyData, chosen: np.ndarray, period: Period, model: StageModel) -> pd.DataFrame:
    """The quarter's exact flow counts for the spells `chosen` (a filter's mask over data.spells).

    Every spell is coded once and each quarter's spells found once (both remembered); a filter
    then costs one pass over the quarter's spells, with the rules and order of quarter_flows.
    """
    coded, rows = coded_quarter(data, period, model)
    return counts_for(coded, rows, chosen[rows.rows], model)


def exact_stocks(data: JourneyData, chosen: np.ndarray, period: Period,
                 model: StageModel) -> tuple[dict[str, int], dict[str, int]] | None:
    """The margins of exact_counts' table for its stages: children in each stage at the quarter's start and end
    (None where it is empty), at a fraction of its cost; for views that print only stocks (trends, year before)."""
    coded, rows = coded_quarter(data, period, model)
    found = stocks_for(rows, chosen[rows.rows], coded.vocab.size)
    if found is None:
        return None
    stages, codes = data.remember(("stage-codes", model.version), lambda: (
        model.of_kind("stage"), coded.vocab.get_indexer(model.of_kind("stage")).tolist()))
    start, end = (dict(zip(stages, totals[codes].tolist())) for totals in found)
    return start, end


def coded_quarter(data: JourneyData, period: Period, model: StageModel) -> tuple[CodedSpells, QuarterRows]:
    """Every spell of the working set coded once, and the quarter's spells found once (both remembered)."""
    columns = ("stage", "next_stage", "start", "end", "step", "moves")
    coded = data.remember(("coded-spells",), lambda: coded_spells(pd.DataFrame({
        "person_id": data.spells["child"], **{c: data.spells[c] for c in columns if c in data.spells}})))
    rows: QuarterRows = data.remember(("quarter-rows", period.key, model.version),
                                      lambda: quarter_rows(coded, period, model))
    return coded, rows


def _flows_view(data: JourneyData, selection: Selection, period: Period, model: StageModel,
                threshold: int, secret: str | None) -> View:
    """The quarterly flows Sankey, its table and the CSV that `journeys flows` prints for the same data."""
    counts, table = flow_table(data, selection, period, model, threshold, secret)
    caption = f"Where children were at the start and end of {period.label} ({period.start:%d %b %Y} to {period.end:%d %b %Y})"
    if counts.empty:
        empty = pd.DataFrame(columns=["period", "period_label", "from_stage", "to_stage", "count"])
        return View(empty_figure(NOTHING_MATCHES), empty, partial(empty.to_csv, index=False), caption)
    left, right = flow_orders(model)
    figure = flow_sankey(table, model, title=f"Quarterly flows, {period.label}: {scope(data, selection)}",
                         left_order=left, right_order=right)
    display = table.display()
    display.index = [stage_label(model, s) if s != "Total" else "Total" for s in display.index]
    display.columns = [stage_label(model, s) if s != "Total" else "Total" for s in display.columns]
    return View(figure, display, lambda: flows_long(table, period).to_csv(index=False), caption)


ROW_BUCKETS = {"rows_read": "Rows read", "rows_used": "Used", "rows_superseded": "Superseded by a later return",
               "rows_ignored": "Ignored by a config rule", "rows_quarantined": "Quarantined (a problem to fix)"}


def report_tables(report: dict[str, object]) -> dict[str, pd.DataFrame]:
    """The validation summary of one build as tables: row accounting, per input file, and by rule or reason.

    These count input rows (records in the files), not children, and are for the analyst loading data.
    """
    summary = pd.DataFrame({"Rows": [f"{int(report.get(k, 0)):,}" for k in ROW_BUCKETS]},  # type: ignore[call-overload]
                           index=list(ROW_BUCKETS.values()))
    inputs = pd.DataFrame([{"File": e["file"], "Table": e["table"], **{label: f"{int(e[k]):,}" for k, label in ROW_BUCKETS.items()}}
                           for e in report.get("inputs", [])])  # type: ignore[union-attr, attr-defined]
    reasons = [("Ignored by rule", k, v) for k, v in dict(report.get("ignored_by_rule", {})).items()]  # type: ignore[call-overload]
    reasons += [("Quarantined", k, v) for k, v in dict(report.get("quarantined_by_reason", {})).items()]  # type: ignore[call-overload]
    by_reason = pd.DataFrame([{"Bucket": b, "Rule or reason": k, "Rows": f"{int(v):,}"} for b, k, v in reasons],
                             columns=["Bucket", "Rule or reason", "Rows"])
    issues = pd.DataFrame([{"Severity": i["severity"], "Code": i["code"], "Rows": f"{int(i['count']):,}", "Problem": i["title"]}
                           for i in report.get("issues", [])],  # type: ignore[union-attr, attr-defined]
                          columns=["Severity", "Code", "Rows", "Problem"])
    return {"summary": summary, "inputs": inputs, "by_reason": by_reason, "issues": issues}


@dataclass(frozen=True)
class TableView(_CsvWhenAsked):
    """A table-only view: the published table (text) and its CSV download."""

    table: pd.DataFrame
    csv_of: Callable[[], str]
    caption: str


def overview_view(data: JourneyData, selection: Selection, year: int, model: StageModel,
                  population: pd.DataFrame | None = None, threshold: int = DEFAULT_THRESHOLD,
                  secret: str | None = None) -> TableView:
    """The DfE headline figures for the year ending 31 March `year`, suppressed, with rates where a population is given.

    `secret` switches on viewer mode: cell-key noise on each figure before suppression (DESIGN 6).
    """
    return data.remember(("overview", selection.key(), year, threshold, id(population), secret, model.version),
                         lambda: _overview_view(data, selection, year, model, population, threshold, secret))


def _overview_view(data: JourneyData, selection: Selection, year: int, model: StageModel,
                   population: pd.DataFrame | None, threshold: int, secret: str | None) -> TableView:
    from journeys.headline import care_stages, headline_figures, in_need_stages, year_bounds, year_end_stocks
    from journeys.year_end import protect_year_end

    caption = f"Headline figures for {year_label(year)} (year ending 31 March {year}): {scope(data, selection)}"
    # the year's spells, and of the history before it only who had been in care (re-entries): a recent year of
    # a broad filter copied most of the history before (112 ms at 10^6)
    first, last = year_bounds(year)
    spells = data.select(selection, columns=SPELL_CORE, overlapping=(first, last), children_as_ids=secret is None)
    earlier = data.children_before(selection, care_stages(model), first, children_as_ids=secret is None)
    in_need = data.has_spell(selection, in_need_stages(model), last + pd.Timedelta(days=1))
    authorities = None
    if population is not None:  # rates cover the authorities with spells up to 31 March, as before
        authorities = list(data.select(selection, columns=["authority"], until=last)["authority"].unique())
    counts_of, memo = flow_context(data, selection, Period(year, 1), model, threshold, None)
    ending, starting, shown = year_end_pair(year, counts_of, model, threshold, memo)
    # the 31 March audit of the flows tables counted these totals as published, or they are checked here
    protect = None if shown else partial(protect_year_end, sums=year_end_stocks(model), threshold=threshold,
                                         ending=ending, starting=starting)
    figures = headline_figures(spells, model, year, population=population, threshold=threshold, protect=protect,
                               secret=secret, earlier_care=earlier, in_need_data=in_need, authorities=authorities)
    csv_frame = figures.assign(year=year_label(year), authorities=scope(data, selection))
    table = figures.set_index("label")[["count", "rate_per_10000", "share"]]
    table.columns = ["Children", "Per 10,000 children", "Share"]
    return TableView(table, partial(csv_frame.to_csv, index=False), caption)


def overview_years(data: JourneyData, extract_dates: list[dt.date]) -> list[int]:
    """Years (by their 31 March) the pages offer: those the data covers, up to the earliest extract date."""
    from journeys.headline import available_years

    latest = min(extract_dates) if extract_dates else None
    return [y for y in available_years(data.spells) if latest is None or dt.date(y, 3, 31) <= latest]


def journeys_view(data: JourneyData, selection: Selection, year: int, model: StageModel, depth: int = 6,
                  include_truncated: bool = False, threshold: int = DEFAULT_THRESHOLD,
                  secret: str | None = None) -> View:
    """Journeys starting in the year ending 31 March `year`, aligned on step, with later steps folded.

    `secret` switches on viewer mode: cell-key noise on every link before suppression (DESIGN 6).
    """
    key = ("journeys", selection.key(), year, depth, include_truncated, threshold, secret, model.version)
    return data.remember(key, lambda: _journeys_view(data, selection, year, model, depth, include_truncated,
                                                     threshold, secret))


def _journeys_view(data: JourneyData, selection: Selection, year: int, model: StageModel, depth: int,
                   include_truncated: bool, threshold: int, secret: str | None) -> View:
    from journeys.charts import step_sankey
    from journeys.steps import step_flows, step_table

    start, end = pd.Timestamp(year - 1, 4, 1), pd.Timestamp(year, 3, 31)
    label = year_label(year)
    caption = f"Journeys that started in {label}, step by step: {scope(data, selection)}"
    spells = data.select(selection, columns=SPELL_CORE, starting=(start, end), children_as_ids=secret is None)
    flows = step_flows(spells, model, start, end, depth=depth, include_truncated=include_truncated, threshold=threshold,
                       secret=secret)
    table = step_table(flows)
    title = f"Journeys starting in {label}: {scope(data, selection)}"
    figure = step_sankey(flows, title, threshold) if not table.empty else empty_figure(NOTHING_MATCHES)
    display = table.set_index("step") if not table.empty else table
    return View(figure, display, partial(table.to_csv, index=False), caption)
