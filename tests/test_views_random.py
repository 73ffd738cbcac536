"""Every view on random filter choices over a bundled sample: nothing raises, and no count from 1 to 5 is published."""

from __future__ import annotations

import io
import random

import pandas as pd
import pytest

from journeys.attributes import FILTER_COLUMNS
from journeys.cache import build_inputs
from journeys.flows import Period
from journeys.selection import Selection
from journeys.ui.state import AppState
from journeys.flow_panels import stage_table_view, trends_view, year_on_year_view
from journeys.views import flows_view, journeys_view, overview_view
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def riverside(tmp_path_factory: pytest.TempPathFactory) -> AppState:
    files = sorted(p for p in (ROOT / "data_samples" / "riverside").iterdir() if p.suffix == ".csv")
    build = build_inputs(ROOT / "pathway_configs" / "riverside.yaml", files, tmp_path_factory.mktemp("cache"))
    return AppState([build])


def small_counts(csv: str, columns: list[str]) -> list[str]:
    """Published counts from 1 to 5 in the named columns of a CSV download (there must be none)."""
    frame = pd.read_csv(io.StringIO(csv), dtype=str)
    values = pd.concat([frame[c] for c in columns if c in frame]) if len(frame) else pd.Series(dtype=str)
    return [v for v in values.dropna() if v.isdigit() and 1 <= int(v) <= 5]


def test_random_filters_on_every_view(riverside: AppState) -> None:
    data, model = riverside.data, riverside.stage_model
    assert data is not None
    options, rng = data.options(), random.Random(4)
    stages = model.of_kind("stage")
    views = 0
    for _ in range(8):
        filters = {c: rng.sample(options[c], k=1) for c in FILTER_COLUMNS if options[c] and rng.random() < 0.4}
        selection = Selection.from_values(filters=filters, through_stage=rng.choice([None, None, *stages]))
        period, year = Period(rng.choice(range(2019, 2024)), rng.choice([1, 2, 3, 4])), rng.choice(range(2019, 2024))
        flows = flows_view(data, selection, period, model)
        assert small_counts(flows.csv, ["count"]) == [], (selection, period)
        stage_csv = stage_table_view(data, selection, period, model).csv
        assert small_counts(stage_csv, [c for c in pd.read_csv(io.StringIO(stage_csv)).columns
                                        if c not in ("Stage", "stage", "period", "period_label")]) == []
        assert small_counts(year_on_year_view(data, selection, period, model).csv, ["this_quarter", "year_before"]) == []
        assert small_counts(trends_view(data, selection, period, model, first=period.previous().previous().previous()).csv, ["count", "display"]) == []
        assert small_counts(journeys_view(data, selection, year, model).csv, ["count"]) == []
        assert small_counts(overview_view(data, selection, year, model).csv, ["count"]) == []
        views += 6
    assert views == 48


def test_stage_table_is_safe_beside_the_published_neighbours(riverside: AppState) -> None:
    """The per-stage audit takes the neighbours as their shared boundary's audit left them; the tables they
    publish hide more, so the three published flows tables and the per-stage table together pin nothing that
    the flows tables alone do not."""
    from journeys.audit import audit_hidden
    from journeys.linked import _system, linked_failures
    from journeys.flow_panels import stage_table
    from journeys.views import flow_table

    data, model = riverside.data, riverside.stage_model
    assert data is not None
    options, rng = data.options(), random.Random(7)
    checked = 0
    for _ in range(12):
        filters = {c: rng.sample(options[c], k=1) for c in FILTER_COLUMNS if options[c] and rng.random() < 0.3}
        selection = Selection.from_values(filters=filters)
        period = Period(rng.choice(range(2019, 2024)), rng.choice([1, 2, 3, 4]))
        flow_counts, flows = flow_table(data, selection, period, model)
        if flow_counts.empty:
            continue
        stage_counts, stages = stage_table(data, selection, period, model)
        beside = [(*flow_table(data, selection, near, model), side)
                  for near, side in ((period.previous(), "before"), (period.next(), "after"))]
        beside = [b for b in beside if not b[0].empty]
        values, hidden, lines, _, stage_cell, *_ = _system(flows, flow_counts, stages, stage_counts, beside)
        first = int(stage_cell.min())
        flows_only = set(audit_hidden(values[:first], hidden[:first],
                                      [ln for ln in lines if ln[1] < first and bool((ln[0] < first).all())], 5, set()))
        assert set(linked_failures(flows, flow_counts, stages, stage_counts, beside)) <= flows_only, (selection, period)
        checked += 1
    assert checked >= 8


def test_overview_from_the_year_alone_matches_the_whole_history(riverside: AppState) -> None:
    """The Overview reads only the year's spells and, of the history before, who had been in care
    (JourneyData.children_before); its counts (re-entries included) are those of every spell up to 31 March."""
    import pandas as pd

    from journeys.headline import care_stages, headline_counts, in_need_stages, year_bounds
    from journeys.views import SPELL_CORE

    data, model = riverside.data, riverside.stage_model
    assert data is not None
    care, in_need = care_stages(model), in_need_stages(model)
    options, rng = data.options(), random.Random(11)
    re_entries = 0
    for _ in range(12):
        filters = {c: rng.sample(options[c], k=1) for c in FILTER_COLUMNS if options[c] and rng.random() < 0.25}
        selection, year = Selection.from_values(filters=filters), rng.choice(range(2019, 2025))
        first, last = year_bounds(year)
        for as_ids in (True, False):
            history = data.select(selection, columns=SPELL_CORE, until=last, children_as_ids=as_ids)
            year_only = data.select(selection, columns=SPELL_CORE, overlapping=(first, last), children_as_ids=as_ids)
            earlier = data.children_before(selection, care, first, children_as_ids=as_ids)
            cin = data.has_spell(selection, in_need, last + pd.Timedelta(days=1))
            whole = headline_counts(history, model, year)
            pd.testing.assert_frame_equal(headline_counts(year_only, model, year, earlier_care=earlier,
                                                          in_need_data=cin), whole)
            assert len(year_only) <= len(history)
        re_entries += int(whole.set_index("measure").loc["re_entries_in_year", "count"])
    assert re_entries > 0  # the history mattered


@pytest.mark.parametrize("secret", [None, "sixteen-byte-key"])
def test_trends_and_year_before_show_the_published_flows_margins(riverside: AppState, secret: str | None) -> None:
    """The trends and the year-before panel work the stocks out by their rule, without the flows tables' audits:
    their numbers and gaps must be exactly the margins of each quarter's published flows table (viewer mode too)."""
    from journeys.flow_panels import _flow_margins
    from journeys.views import flow_table

    data, model = riverside.data, riverside.stage_model
    assert data is not None
    options, rng = data.options(), random.Random(5)
    compared, hidden = 0, 0
    for _ in range(6):
        filters = {c: rng.sample(options[c], k=1) for c in FILTER_COLUMNS if options[c] and rng.random() < 0.3}
        selection = Selection.from_values(filters=filters, through_stage=rng.choice([None, None, "foster_other"]))
        last = Period(rng.choice(range(2020, 2024)), rng.choice([1, 2, 3, 4]))
        periods = [last.previous().previous().previous(), last.previous().previous(), last.previous(), last]
        frame = _flow_margins(data, selection, periods, model, 5, secret).set_index(["period", "measure", "stage"])
        for period in periods:
            counts, table = flow_table(data, selection, period, model, 5, secret)
            for measure, margin in (("stock_start", table.row_totals), ("stock_end", table.column_totals)):
                for stage in model.of_kind("stage"):
                    shown = frame.loc[(period.key, measure, stage), "count"]
                    published = margin.get(stage, 0) if not counts.empty else 0
                    assert pd.isna(shown) == pd.isna(published), (selection, period, measure, stage)
                    assert pd.isna(shown) or int(shown) == int(published), (selection, period, measure, stage)
                    compared += 1
                    hidden += bool(pd.isna(shown))
    assert compared > 500 and hidden > 10  # both shown and hidden stocks were compared


def test_stocks_alone_are_the_margins_of_the_counted_flows(riverside: AppState) -> None:
    """exact_stocks (the trends' and year-before's stocks, without the tables) equals the stage margins of
    exact_counts' table, quarter by quarter and filter by filter, and is None exactly where that table is empty."""
    from journeys.views import exact_counts, exact_stocks

    data, model = riverside.data, riverside.stage_model
    assert data is not None
    options, rng = data.options(), random.Random(8)
    compared = empty = 0
    for _ in range(8):
        filters = {c: rng.sample(options[c], k=1) for c in FILTER_COLUMNS if options[c] and rng.random() < 0.5}
        chosen = data.mask(Selection.from_values(filters=filters, through_stage=rng.choice([None, "section_47"])))
        for year in range(2014, 2026):
            for quarter in (1, 2, 3, 4):
                period = Period(year, quarter)
                counts, stocks = exact_counts(data, chosen, period, model), exact_stocks(data, chosen, period, model)
                if counts.empty:
                    assert stocks is None, (filters, period)
                    empty += 1
                    continue
                assert stocks is not None
                for found, totals in zip(stocks, (counts.sum(axis=1), counts.sum(axis=0))):
                    assert found == {s: int(totals.get(s, 0)) for s in model.of_kind("stage")}, (filters, period)
                compared += 1
    assert compared > 100 and empty > 10
