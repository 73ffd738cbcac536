"""What each app page shows, as pure functions of the working set and the user's choices (no dash).

The Dash callbacks only unpack their inputs and call these, so every figure, table and download
is unit-tested here with exact numbers. Everything returned has passed through `suppress`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from journeys.charts import empty_figure, flow_sankey, stage_label
from journeys.flows import NOT_KNOWN, Period, flows_long, suppressed_flows
from journeys.selection import JourneyData, Selection
from journeys.stages import StageModel
from journeys.suppress import DEFAULT_THRESHOLD

NOTHING_MATCHES = "No children match these filters. Clear a filter to see more."


@dataclass(frozen=True)
class View:
    """One chart's worth of output: the figure, its table view (text) and its CSV download (text)."""

    figure: go.Figure
    table: pd.DataFrame
    csv: str
    caption: str


def quarters(extract_dates: list[dt.date], first: dt.date | None = None, years: int = 10) -> list[Period]:
    """Quarters the app offers, oldest first: up to `years` back from the latest extract date, none after it."""
    if not extract_dates:
        return []
    last = max(extract_dates)
    start = max(first or dt.date(last.year - years, 1, 1), dt.date(last.year - years, 1, 1))
    out = []
    year, quarter = start.year, (start.month - 1) // 3 + 1
    while True:
        period = Period(year, quarter)
        if period.end > last:
            break
        out.append(period)
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return out


def flow_orders(model: StageModel) -> tuple[list[str], list[str]]:
    """Every node the flows Sankey can show, in stage-model order: left (start) and right (end) columns."""
    stages = [s for s in model.ids if model.get(s).kind == "stage"]
    outcomes = model.of_kind("outcome")
    return [NOT_KNOWN, *stages], [*stages, *outcomes, NOT_KNOWN]


def flows_view(data: JourneyData, selection: Selection, period: Period, model: StageModel,
               threshold: int = DEFAULT_THRESHOLD) -> View:
    """The quarterly flows Sankey, its table and the CSV that `journeys flows` prints for the same data."""
    spells = data.select(selection)
    caption = f"Where children were at the start and end of {period.label} ({period.start:%d %b %Y} to {period.end:%d %b %Y})"
    if spells.empty:
        empty = pd.DataFrame(columns=["period", "period_label", "from_stage", "to_stage", "count"])
        return View(empty_figure(NOTHING_MATCHES), empty, empty.to_csv(index=False), caption)
    table = suppressed_flows(spells, period, model, threshold=threshold)
    left, right = flow_orders(model)
    figure = flow_sankey(table, model, title=f"Quarterly flows, {period.label}", left_order=left, right_order=right)
    display = table.display()
    display.index = [stage_label(model, s) if s != "Total" else "Total" for s in display.index]
    display.columns = [stage_label(model, s) if s != "Total" else "Total" for s in display.columns]
    return View(figure, display, flows_long(table, period).to_csv(index=False), caption)
