"""The flows page's panels beside its Sankey: children in each stage, the year before, trends (no dash).

Each is built from the quarter's published flows tables (views.flow_table), so a panel publishes
nothing the flows page does not already show quarter by quarter, or is audited beside them.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import numpy as np
import pandas as pd

from journeys.charts import stage_label, trend_multiples
from journeys.flows import Period
from journeys.linked import Beside, margin_stocks, protect_stage_table
from journeys.perturb import perturbed_stage_counts
from journeys.quarter_links import in_parallel
from journeys.quarter_stats import quarter_table_display, stage_counts_for, suppress_stage_measures
from journeys.selection import JourneyData, Selection
from journeys.stages import StageModel
from journeys.suppress import DEFAULT_THRESHOLD, SuppressedTable
from journeys.suppress import SUPPRESSED as SUPPRESSED_TEXT
from journeys.stocks import Margin, counted_margins, shown_stocks
from journeys.views import TableView, View, coded_quarter, flow_context, exact_stocks, flow_table, scope


VIEWER_COLUMNS = ["person_id", "authority", "stage", "start", "end", "next_stage", "step", "moves"]  # what it keys


def stage_table(data: JourneyData, selection: Selection, period: Period, model: StageModel,
                threshold: int = DEFAULT_THRESHOLD, secret: str | None = None) -> tuple[pd.DataFrame, SuppressedTable]:
    """The quarter's per-stage counts and their table, audited together with the flows tables it is shown beside.

    With a viewer's `secret`, the counts get cell-key noise and the children at the start and end are
    the perturbed flows table's margins (`perturbed_stage_counts`); the flows tables beside it are
    the viewer's too.

    The neighbours join the audit as they are published. (Taking them as this quarter's boundary
    audits left them, which hide less, is cheaper but not sound: an entry only the neighbour's other
    boundary hid was then never audited beside this table; tests/test_views_random.py found one.)
    A neighbour joins only if this quarter hides a stock at the boundary they share: where every
    shared stock is shown, its lines meet this quarter's only in known numbers, so the audit's
    answer is the same without it (and its table, a quarter further out, need not be worked out).
    """
    def compute() -> tuple[pd.DataFrame, SuppressedTable]:
        flow_counts, flows = flow_table(data, selection, period, model, threshold, secret)
        if secret is None:
            coded, rows = coded_quarter(data, period, model)
            stage_counts = stage_counts_for(coded, rows, data.mask(selection)[rows.rows], model)
        else:
            spells = data.select(selection, columns=VIEWER_COLUMNS, overlapping=(
                pd.Timestamp(period.start) - pd.Timedelta(days=1), pd.Timestamp(period.end)))
            stage_counts = perturbed_stage_counts(spells, period, model, secret, flow_counts.sum(axis=1),
                                                  flow_counts.sum(axis=0))
        sides: tuple[tuple[Period, Literal["before", "after"]], ...] = ((period.previous(), "before"),
                                                                         (period.next(), "after"))
        stages = set(model.of_kind("stage"))

        def hides_a_stock(margin: pd.Series) -> bool:
            return bool(margin[[label for label in margin.index if label in stages]].isna().any())

        # a neighbour whose boundary shows every stock tells the audit nothing more; the others, two at a time
        near = [(p, side) for p, side in sides
                if hides_a_stock(flows.row_totals if side == "before" else flows.column_totals)]
        tables = in_parallel([partial(flow_table, data, selection, p, model, threshold, secret) for p, _ in near])
        beside: list[Beside] = [(counts, table, side) for (counts, table), (_, side) in zip(tables, near)
                                if not counts.empty]
        protected = suppress_stage_measures(stage_counts, threshold, margin_stocks(flows, stage_counts.index))
        return stage_counts, protect_stage_table(flows, flow_counts, protected, stage_counts, beside)

    return data.remember(("stage-table", selection.key(), period.key, threshold, secret, model.version), compute)


def stage_table_view(data: JourneyData, selection: Selection, period: Period, model: StageModel,
                     threshold: int = DEFAULT_THRESHOLD, secret: str | None = None) -> TableView:
    """Per stage in the quarter: children at start and end, entered, left, came from another stage, moves
    (with a viewer's `secret`, perturbed as stage_table says)."""
    def compute() -> TableView:
        display = quarter_table_display(stage_table(data, selection, period, model, threshold, secret)[1], model)
        csv = display.reset_index().assign(period=period.key, period_label=period.label)
        return TableView(display, partial(csv.to_csv, index=False),
                         f"Children in each stage, {period.label}: {scope(data, selection)}")

    return data.remember(("stages", selection.key(), period.key, threshold, secret, model.version), compute)


FLOW_MEASURES = {"stock_start": "Children at start", "stock_end": "Children at end"}


def exact_margins(data: JourneyData, selection: Selection, model: StageModel) -> Margin:
    """Quarters' exact stocks by stage (views.exact_stocks) as a Margin: row (1) and column (0) totals, each quarter
    worked out once, from the quarters' coding and without their tables."""
    chosen, found = data.mask(selection), dict[Period, "tuple[dict[str, int], dict[str, int]] | None"]()

    def margin(p: Period, axis: int) -> dict[str, int] | None:
        if p not in found:
            found[p] = exact_stocks(data, chosen, p, model)
        stocks = found[p]
        return None if stocks is None else stocks[1 - axis]

    return margin


def _flow_margins(data: JourneyData, selection: Selection, periods: list[Period], model: StageModel,
                  threshold: int, secret: str | None = None) -> pd.DataFrame:
    """The quarters' published flows margins per stage: children at start (row totals) and at end (column totals).

    The stocks as the rule shows them (journeys.stocks): the same numbers and gaps as the margins of
    each quarter's published flows table, so a trend or comparison built from them publishes nothing
    that the flows page does not already show quarter by quarter, without those tables' audits.
    """
    def compute() -> pd.DataFrame:
        margin = exact_margins(data, selection, model) if secret is None else counted_margins(
            flow_context(data, selection, periods[-1], model, threshold, secret)[0])
        frame = shown_stocks(periods, margin, model, threshold)
        frame.insert(1, "period_label", frame["period"].map({p.key: p.label for p in periods}))
        frame.insert(3, "stage_label", frame["stage"].map({s: stage_label(model, s) for s in model.of_kind("stage")}))
        frame["display"] = [SUPPRESSED_TEXT if pd.isna(v) else f"{int(v)}" for v in frame["count"]]
        return frame

    return data.remember(("margins", selection.key(), tuple(p.key for p in periods), threshold, secret,
                          model.version), compute)


def year_on_year_view(data: JourneyData, selection: Selection, period: Period, model: StageModel,
                      threshold: int = DEFAULT_THRESHOLD, secret: str | None = None) -> TableView:
    """Children at the start and end of the quarter beside the same quarter a year before (flows margins;
    with a viewer's `secret`, those of the perturbed flows tables)."""
    before = Period(period.year - 1, period.quarter)
    both = _flow_margins(data, selection, [before, period], model, threshold, secret)
    now, then = (both[both["period"] == p.key].reset_index(drop=True) for p in (period, before))
    change = [(f"{int(a) - int(b):+d}" if not (pd.isna(a) or pd.isna(b)) else SUPPRESSED_TEXT)
              for a, b in zip(now["count"], then["count"])]
    keep = (now["count"].fillna(1) != 0) | (then["count"].fillna(1) != 0)
    shown = pd.DataFrame({"Stage": now["stage_label"], "Measure": now["measure"].map(FLOW_MEASURES),
                          period.label: now["display"], before.label: then["display"], "Change": change})[keep]
    csv = pd.DataFrame({"stage": now["stage"], "measure": now["measure"], "period": period.key,
                        "this_quarter": now["display"], "year_before": then["display"], "change": change})[keep]
    return TableView(shown.set_index("Stage"), partial(csv.to_csv, index=False),
                     f"{period.label} beside {before.label}: {scope(data, selection)}")


def trends_view(data: JourneyData, selection: Selection, period: Period, model: StageModel, measure: str = "stock_end",
                first: Period | None = None, threshold: int = DEFAULT_THRESHOLD, secret: str | None = None) -> View:
    """Small multiples: children in each stage at the start or end of each quarter from `first` (default: eleven
    quarters before) to `period`, gaps where hidden. The app shows every quarter it offers.

    With a viewer's `secret`, from the perturbed flows tables."""
    periods = [period]
    while ((periods[0].year, periods[0].quarter) > (first.year, first.quarter) if first is not None
           else len(periods) < 12):
        periods.insert(0, periods[0].previous())
    frame = _flow_margins(data, selection, periods, model, threshold, secret)
    chosen = frame[frame["measure"] == measure]
    n_stages = len(model.of_kind("stage"))  # shown_stocks: every stage of every quarter, quarter by quarter
    count = chosen["count"].fillna(1).to_numpy(dtype=np.int64).reshape(len(periods), n_stages)
    chosen = chosen[np.tile((count != 0).any(axis=0), len(periods))]
    title = f"{FLOW_MEASURES.get(measure, measure)}, {periods[0].label} to {period.label}: {scope(data, selection)}"
    stages = chosen["stage_label"].iloc[: len(chosen) // len(periods)].tolist()
    table = pd.DataFrame(chosen["display"].to_numpy(dtype=object).reshape(len(periods), len(stages)).T,
                         index=pd.Index(stages, name="stage_label"),
                         columns=pd.Index([p.label for p in periods], name="period_label"))
    return View(trend_multiples(chosen, title), table, partial(frame.to_csv, index=False), title)
