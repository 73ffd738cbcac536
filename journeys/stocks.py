"""Which stocks (children in a stage at a quarter boundary) are shown: a rule on the stocks alone.

The children in each stage at a quarter's end are the next quarter's children at its start, and
the trends, the year-before table and the Overview's 31 March figures print the same numbers. So
whether a stock is shown is decided from the stocks at that date alone, never by one table's
secondary suppression: every view works it out the same way without the others' audits (the trends
of twelve quarters cost twelve quarters' counts, not their audits), and the flows tables protect
their hidden cells around the stocks (journeys.quarter_links; where only a stock could, a table
hides every other entry instead: suppress._cover).

A stock is hidden when it counts 1 to threshold children (in either quarter's counts: they differ
only under a viewer's perturbation). At 31 March, within a group the Overview adds up (in care; in
need but not looked after), a lone hidden stock, or hidden stocks adding up to twice the threshold
or less, would be given away, or nearly, by the group's total, so the group's smallest shown stocks
are hidden with them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from journeys.flows import Period
from journeys.stages import StageModel

Counts = Callable[[Period], pd.DataFrame]  # a quarter's flow counts (empty where there are none)


def boundary_hidden(ending: Mapping[str, int] | None, starting: Mapping[str, int] | None, model: StageModel,
                    threshold: int, year_end: bool) -> dict[str, bool]:
    """The stocks hidden at a boundary (by stage), from the quarter ending there (its column totals) and the one
    starting there (its row totals); either may be None. Both quarters compute the same from the same inputs."""
    from journeys.headline import year_end_stocks

    stages, hidden = set(model.of_kind("stage")), dict[str, bool]()
    for margin in (ending, starting):
        if margin is not None:
            for label, value in margin.items():
                if label in stages:
                    hidden[label] = hidden.get(label, False) or 1 <= int(value) <= threshold
    stocks: Mapping[str, int] = ending if ending is not None else starting if starting is not None else {}
    for group in year_end_stocks(model).values() if year_end else []:
        members = [s for s in group if s in hidden and stocks.get(s, 0) > 0]
        while (shut := [s for s in members if hidden[s]]) and (len(shut) < 2 or sum(int(stocks[s]) for s in shut)
                                                                 <= 2 * threshold):
            candidates = [s for s in members if not hidden[s]]
            if not candidates:
                break  # the group's total is hidden where it is published (journeys.year_end)
            hidden[min(candidates, key=lambda s: (stocks[s], s))] = True
    return hidden


def _margin(counts: pd.DataFrame, axis: int) -> dict[str, int] | None:
    """Row (axis 1) or column (axis 0) totals by label, None for a quarter without counts (a dict: no pandas)."""
    if counts.empty:
        return None
    labels = counts.index if axis == 1 else counts.columns
    return dict(zip(labels.tolist(), counts.to_numpy().sum(axis=axis).tolist()))


Margin = Callable[[Period, int], "dict[str, int] | None"]  # a quarter's row (1) or column (0) totals by label


def quarter_stocks_hidden(period: Period, counts_of: Counts, model: StageModel,
                          threshold: int) -> tuple[dict[str, bool], dict[str, bool]]:
    """The stocks hidden at the quarter's start (its rows) and end (its columns), by the rule at each boundary."""
    return _hidden_at(period, lambda p, axis: _margin(counts_of(p), axis), model, threshold)


def _hidden_at(period: Period, margin: Margin, model: StageModel,
               threshold: int) -> tuple[dict[str, bool], dict[str, bool]]:
    """quarter_stocks_hidden from the quarters' margins (the quarter's, the one before's ends, the next's starts)."""
    return (_boundary(period.previous(), margin, model, threshold), _boundary(period, margin, model, threshold))


def _boundary(left: Period, margin: Margin, model: StageModel, threshold: int) -> dict[str, bool]:
    """The stocks hidden at the end of quarter `left`, which is the start of the next (31 March after Q1)."""
    return boundary_hidden(margin(left, 0), margin(left.next(), 1), model, threshold, year_end=left.quarter == 1)


def counted_margins(counts_of: Counts) -> Margin:
    """A Margin from quarters' counts, each quarter's worked out once."""
    margins: dict[Period, tuple[dict[str, int] | None, dict[str, int] | None]] = {}

    def margin(p: Period, axis: int) -> dict[str, int] | None:
        if p not in margins:
            counts = counts_of(p)
            margins[p] = (_margin(counts, 0), _margin(counts, 1))
        return margins[p][axis]

    return margin


def shown_stocks(periods: Sequence[Period], margin: Margin, model: StageModel, threshold: int) -> pd.DataFrame:
    """The quarters' stocks at start and end as every view publishes them: period, stage, measure, count (<NA>
    where hidden), by period, then stage, start before end.

    `margin(p, axis)`: a quarter's row (1) or column (0) totals by label, at least for its stages
    (`counted_margins`, or views.exact_stocks without the tables). The same numbers and gaps as the
    margins of each quarter's published flows table (tested), without its audits.
    """
    stages = model.of_kind("stage")
    rows: list[tuple[str, str, str, int, bool]] = []
    boundaries: dict[Period, dict[str, bool]] = {}  # a quarter's end is the next one's start: once per boundary

    def at(left: Period) -> dict[str, bool]:
        if left not in boundaries:
            boundaries[left] = _boundary(left, margin, model, threshold)
        return boundaries[left]

    for p in periods:
        starting, ending = at(p.previous()), at(p)
        sides = (("stock_start", margin(p, 1) or {}, starting), ("stock_end", margin(p, 0) or {}, ending))
        rows += [(p.key, s, measure, int(values.get(s, 0)), shut.get(s, False))
                 for s in stages for measure, values, shut in sides]
    keys, names, measures, counts, hidden = zip(*rows) if rows else ((),) * 5
    return pd.DataFrame({"period": list(keys), "stage": list(names), "measure": list(measures),
                         "count": pd.arrays.IntegerArray(np.array(counts, dtype=np.int64), np.array(hidden, dtype=bool))})
