"""The flows table and the per-stage table shown side by side: safe together, not just one by one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from journeys.flows import Period, quarter_flows
from journeys.linked import linked_failures, margin_stocks, protect_stage_table
from journeys.quarter_stats import quarter_stage_counts, suppress_stage_measures
from journeys.stages import load_stage_model
from journeys.suppress import SUPPRESSED, published_table, suppress_table
from tests.test_quarter_stats import random_spells

MODEL = load_stage_model()


def tables(spells, key):
    period = Period.parse(key)
    flow_counts, stage_counts = quarter_flows(spells, period, MODEL), quarter_stage_counts(spells, period, MODEL)
    return suppress_table(flow_counts), flow_counts, suppress_stage_measures(stage_counts), stage_counts


@pytest.mark.parametrize("seed", range(6))
def test_protected_tables_leave_no_hidden_count_narrow(seed: int) -> None:
    spells = random_spells(seed=seed, children=150)
    for key in ("2020Q2", "2020Q3", "2020Q4", "2021Q1"):
        flows, flow_counts, stages, stage_counts = tables(spells, key)
        protected = protect_stage_table(flows, flow_counts, stages, stage_counts)
        assert linked_failures(flows, flow_counts, protected, stage_counts) == []
        # children at start and end show exactly what the flows margins show (hidden where they are)
        for measure, margin in (("stock_start", flows.row_totals), ("stock_end", flows.column_totals)):
            shown = protected.cells[measure]
            for stage in shown.index.intersection(margin.index):
                assert pd.isna(shown[stage]) == pd.isna(margin[stage])
                assert pd.isna(shown[stage]) or shown[stage] == margin[stage]
        # entries and exits hidden on their own stay hidden
        for measure in ("entries", "exits"):
            assert not (stages.cells[measure].isna() & protected.cells[measure].notna()).any()


def test_a_leak_by_the_stock_identity_is_closed() -> None:
    """Hand-made: flows hide a margin the per-stage table would give away through at start + in - out = at end."""
    spells = random_spells(seed=3, children=150)
    leaks = [key for key in ("2020Q2", "2020Q3", "2020Q4", "2021Q1", "2021Q2", "2021Q3")
             if linked_failures(*tables(spells, key))]
    assert leaks, "the unprotected pair should leak somewhere in these quarters (else this test shows nothing)"
    for key in leaks:
        flows, flow_counts, stages, stage_counts = tables(spells, key)
        assert linked_failures(flows, flow_counts, protect_stage_table(flows, flow_counts, stages, stage_counts),
                               stage_counts) == []


@pytest.mark.parametrize("seed", range(4))
def test_entries_and_exits_are_at_least_the_flows_in_and_out(seed: int) -> None:
    """What the audit assumes an attacker knows: a child who ends a quarter in a stage after starting it
    elsewhere entered it, and one who started there and ends elsewhere left it (entries and exits count
    children), so entries >= the flows into the stage from other rows and exits >= those out of it."""
    spells = random_spells(seed=seed, children=150)
    checked = 0
    for key in ("2020Q2", "2020Q3", "2020Q4", "2021Q1", "2021Q2"):
        period = Period.parse(key)
        flows, stages = quarter_flows(spells, period, MODEL), quarter_stage_counts(spells, period, MODEL)
        for stage in stages.index:
            if stage in flows.columns:
                came = flows.loc[flows.index != stage, stage].sum()
                assert stages.loc[stage, "entries"] >= came, (key, stage)
                checked += int(came > 0)
            if stage in flows.index:
                went = flows.loc[stage, flows.columns != stage].sum()
                assert stages.loc[stage, "exits"] >= went, (key, stage)
                checked += int(went > 0)
    assert checked >= 20


LINKED_CASE = Path(__file__).parent / "data" / "linked"  # one filtered view of the 10^6 benchmark authority


def test_a_covered_flows_table_leaves_most_of_the_per_stage_table_shown() -> None:
    """The flows table hides its whole 'not known' row and column (a cover), zeros too, so an entered of 0
    pins the hidden flows into that stage at 0: the per-stage table hides those zeros, not all it has.

    Before, its own pass used the children at start and end as partners (the flows margins show them
    all the same), and the search could not hide a 0: every entered, left and moved was hidden (36).
    """
    flow_counts = pd.read_csv(LINKED_CASE / "flow_counts.csv", index_col=0)
    shown = pd.read_csv(LINKED_CASE / "flows_published.csv", index_col=0, dtype=str) == SUPPRESSED
    flows = published_table(flow_counts, np.concatenate([
        shown.iloc[:-1, :-1].to_numpy().ravel(), shown.iloc[:-1, -1], shown.iloc[-1, :-1], [shown.iloc[-1, -1]]]))
    stage_counts = pd.read_csv(LINKED_CASE / "stage_counts.csv", index_col=0)
    stocks = margin_stocks(flows, stage_counts.index)
    protected = protect_stage_table(flows, flow_counts, suppress_stage_measures(stage_counts, stocks=stocks),
                                    stage_counts)
    assert linked_failures(flows, flow_counts, protected, stage_counts) == []
    linked = protected.cells[["entries", "exits", "moves_in"]]
    assert int(linked.isna().to_numpy().sum()) == 11
    for stage in ("residential", "secure_or_custody", "other_placement"):  # entered 0, beside hidden flows in
        assert stage_counts.loc[stage, "entries"] == 0 and pd.isna(protected.cells.loc[stage, "entries"])
    assert protected.cells.loc["child_in_need", ["entries", "exits", "moves_in"]].notna().all()
