"""The pure functions behind the app's callbacks: exact figures, tables and downloads on hand-built data."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from journeys.attributes import journey_attributes
from journeys.charts import flow_sankey, nominal_width
from journeys.cli import main
from journeys.flows import Period, suppressed_flows
from journeys.selection import JourneyData, Selection
from journeys.flow_panels import stage_table, stage_table_view, trends_view, year_on_year_view
from journeys.views import flow_table, flows_view, journeys_view, overview_view, quarters, report_tables
from tests.conftest import ROOT, write_episodes

Q = Period.parse("2019Q2")


def cohort_rows() -> list[tuple[str, ...]]:
    """In one quarter: 30 stay in foster care, 8 move to a home, 3 go home, 7 are adopted; 2 + 9 enter care."""
    rows = [(f"F{i}", "01/01/2019", "S", "C2", "U4", "", "") for i in range(30)]
    for i in range(8):
        rows += [(f"M{i}", "01/01/2019", "S", "C2", "U4", "01/05/2019", "X1"), (f"M{i}", "01/05/2019", "P", "C2", "K2", "", "")]
    rows += [(f"H{i}", "01/01/2019", "S", "V2", "U4", "15/05/2019", "E4A") for i in range(3)]
    rows += [(f"N{i}", "01/05/2019", "S", "V2", "U4", "", "") for i in range(2)]
    rows += [(f"A{i}", "01/01/2019", "S", "E1", "U4", "20/05/2019", "E11") for i in range(7)]  # adopted
    rows += [(f"R{i}", "01/05/2019", "S", "C1", "K2", "", "") for i in range(9)]  # enter a children's home
    return rows


@pytest.fixture
def cohort(build_903):
    result = build_903(cohort_rows())
    data = JourneyData(result.spells.assign(authority="northgate"),
                       journey_attributes(result.episodes.assign(authority="northgate"),
                                          result.spells.assign(authority="northgate")))
    return result, data


def test_flows_view_publishes_only_the_suppressed_table(cohort) -> None:
    result, data = cohort
    view = flows_view(data, Selection(), Q, result.stage_model)
    # 3 went home (alone in their column) and 2 entered foster care: both hidden, with partners. The
    # 17 children in a home at the end are shown (a stock is hidden only when it is 1 to 5), so the
    # adoptions are hidden with the children who went home: the grand total leaves them 10 between them
    assert view.table.to_dict("index") == {
        "Not known to services": {"Not known to services": "0", "Foster care: other carers": "c",
                                  "Residential care": "c", "Returned home": "0", "Adopted": "0", "Total": "11"},
        "Foster care: other carers": {"Not known to services": "0", "Foster care: other carers": "c",
                                      "Residential care": "c", "Returned home": "c", "Adopted": "c", "Total": "48"},
        "Total": {"Not known to services": "0", "Foster care: other carers": "32", "Residential care": "17",
                  "Returned home": "c", "Adopted": "c", "Total": "59"},
    }
    go.Figure(view.figure)  # a valid plotly figure (the app skips this check for speed)
    sankey = view.figure["data"][0]
    hidden = [t for t in sankey["link"]["customdata"] if t.endswith(": c")]
    assert len(hidden) == int((view.table.drop(index="Total", columns="Total") == "c").to_numpy().sum())
    # geometry: every hidden link has the same width, set by published numbers only
    widths = {w for w, t in zip(sankey["link"]["value"], sankey["link"]["customdata"]) if t.endswith(": c")}
    assert len(widths) == 1
    assert view.figure["layout"]["title"]["text"] == "Quarterly flows, 2019-20 Q1: northgate"


def test_flows_download_is_what_the_cli_prints(cohort, tmp_path, capsys) -> None:
    result, data = cohort
    path = write_episodes(tmp_path / "episodes.csv", cohort_rows())
    assert main(["flows", "--quiet", "--config", str(ROOT / "pathway_configs" / "ssda903.yaml"), str(path),
                 "--extract-date", "2020-03-31", "--period", "2019Q2"]) == 0
    assert flows_view(data, Selection(), Q, result.stage_model).csv == capsys.readouterr().out


def test_filters_and_click_to_narrow(cohort) -> None:
    result, data = cohort
    section_20 = flows_view(data, Selection.from_values(filters={"legal_status": ["V2 Section 20 (single period)"]}),
                            Q, result.stage_model)
    csv = pd.read_csv(io.StringIO(section_20.csv), dtype=str)
    assert set(csv.loc[csv["count"] != "0", "to_stage"]) == {"returned_home", "foster_other"}  # the H and N children
    assert set(csv["count"]) == {"0", "c"}
    narrowed = data.select(Selection(through_stage="residential"))
    assert narrowed["person_id"].nunique() == 17  # 8 who moved there + 9 who entered there
    assert set(narrowed["stage"]) == {"foster_other", "residential"}  # whole journeys, not just the clicked stage
    assert data.select(Selection(authorities=("elsewhere",))).empty
    nothing = flows_view(data, Selection(authorities=("elsewhere",)), Q, result.stage_model)
    assert nothing.table.empty and "No children match" in nothing.figure["layout"]["annotations"][0]["text"]


def test_charts_refuse_raw_counts(cohort) -> None:
    result, _ = cohort
    from journeys.flows import quarter_flows
    with pytest.raises(TypeError, match="SuppressedTable"):
        flow_sankey(quarter_flows(result.spells, Q, result.stage_model), result.stage_model)  # type: ignore[arg-type]
    figure = flow_sankey(suppressed_flows(result.spells, Q, result.stage_model), result.stage_model)
    hover = figure["data"][0]["node"]["customdata"]
    assert all(text == "c" or text.replace(",", "").isdigit() for _, text in hover)


def test_nominal_width_depends_on_published_values_only() -> None:
    assert nominal_width(np.array([]), 5) == 5.0
    assert nominal_width(np.array([3000.0]), 5) == 30.0


def test_overview_view_counts_children(cohort) -> None:
    result, data = cohort
    view = overview_view(data, Selection(), 2020, result.stage_model)
    assert view.table.loc["Children looked after on 31 March 2020", "Children"] == "49"  # 30 + 8 + 2 + 9
    assert view.table.loc["Children who ceased to be looked after in 2019-20", "Children"] == "10"  # 3 home + 7 adopted
    assert view.table.loc["Ceased to be looked after in 2019-20: Returned home", "Children"] == "c"
    assert view.table.loc["Ceased to be looked after in 2019-20: Adopted", "Children"] == "c"  # else 10 - 7 = 3
    assert "looked_after_31_march" in view.csv and ",49," in view.csv


def test_viewer_mode_perturbs_every_view_consistently(cohort) -> None:
    """With a viewer's secret, each view's counts get cell-key noise (at most 2) before suppression, and
    asking twice gives the same numbers (a remembered view or a new one alike)."""
    result, data = cohort
    secret = "0123456789abcdef"
    overview = overview_view(data, Selection(), 2020, result.stage_model, secret=secret)
    looked_after = int(overview.table.loc["Children looked after on 31 March 2020", "Children"])
    assert abs(looked_after - 49) <= 2
    spells = result.spells.assign(authority="northgate")
    fresh = JourneyData(spells, journey_attributes(result.episodes.assign(authority="northgate"), spells))
    assert overview_view(fresh, Selection(), 2020, result.stage_model, secret=secret).csv == overview.csv
    journeys = journeys_view(data, Selection(), 2020, result.stage_model, secret=secret)
    exact = journeys_view(data, Selection(), 2020, result.stage_model)
    assert journeys.csv != exact.csv  # some link moved
    assert journeys_view(fresh, Selection(), 2020, result.stage_model, secret=secret).csv == journeys.csv
    for view in (overview, journeys):
        shown = pd.to_numeric(view.table.stack(), errors="coerce").dropna()
        assert not shown.between(1, 5).any()
    # the year-before table and the trends show the perturbed flows tables' margins, as the flows page does
    _, noisy_flows = flow_table(data, Selection(), Q, result.stage_model, secret=secret)
    year = year_on_year_view(data, Selection(), Q, result.stage_model, secret=secret)
    at_end = year.table[year.table["Measure"] == "Children at end"][Q.label]
    for stage, value in noisy_flows.column_totals.drop("not_known").items():
        label = result.stage_model.get(stage).label
        if label in at_end.index:
            assert at_end[label] == ("c" if pd.isna(value) else str(int(value)))
    # the per-stage table's children at the start and end are the perturbed flows table's margins (exact ones
    # beside them would give its noise away); its other counts get their own noise, the same when asked again
    noisy_stages = stage_table(data, Selection(), Q, result.stage_model, secret=secret)[1]
    exact_counts = stage_table(data, Selection(), Q, result.stage_model)[0]
    for measure, margin in (("stock_start", noisy_flows.row_totals), ("stock_end", noisy_flows.column_totals)):
        for stage, value in noisy_stages.cells[measure].items():
            published = margin.get(stage, 0)
            assert pd.isna(value) == pd.isna(published) and (pd.isna(value) or value == published)
    stocks = noisy_stages.cells[["stock_start", "stock_end"]].stack().dropna().astype(int)
    assert (stocks != exact_counts[["stock_start", "stock_end"]].stack().reindex(stocks.index)).any()
    shown = noisy_stages.cells[["entries", "exits", "moves_in"]].stack().dropna().astype(int)
    exact = exact_counts[["entries", "exits", "moves_in"]].stack().reindex(shown.index)
    assert (shown != exact).any() and ((shown - exact).abs() <= 2).all()
    assert not shown.between(1, 5).any()
    view = stage_table_view(data, Selection(), Q, result.stage_model, secret=secret)
    assert stage_table_view(fresh, Selection(), Q, result.stage_model, secret=secret).csv == view.csv
    assert view.csv != stage_table_view(data, Selection(), Q, result.stage_model).csv


def test_quarters_offered_stop_at_the_extract_date() -> None:
    offered = quarters([dt.date(2025, 3, 31)], years=1)
    assert [p.key for p in offered] == ["2024Q1", "2024Q2", "2024Q3", "2024Q4", "2025Q1"]
    assert quarters([]) == []
    # two authorities: up to the earlier extract date; not before the data begins
    both = quarters([dt.date(2025, 3, 31), dt.date(2024, 9, 30)], first=dt.date(2024, 2, 10))
    assert [p.key for p in both] == ["2024Q1", "2024Q2", "2024Q3"]


def test_report_tables_account_for_every_row() -> None:
    report = {"rows_read": 10, "rows_used": 6, "rows_superseded": 2, "rows_ignored": 1, "rows_quarantined": 1,
              "ignored_by_rule": {"Short breaks": 1}, "quarantined_by_reason": {"end-before-start": 1},
              "inputs": [{"file": "a.csv", "table": "episodes", "rows_read": 10, "rows_used": 6, "rows_superseded": 2,
                          "rows_ignored": 1, "rows_quarantined": 1}],
              "issues": [{"severity": "error", "code": "end-before-start", "count": 1, "title": "Ends before it starts"}]}
    tables = report_tables(report)
    assert tables["summary"]["Rows"].tolist() == ["10", "6", "2", "1", "1"]
    assert tables["by_reason"].values.tolist() == [["Ignored by rule", "Short breaks", "1"],
                                                   ["Quarantined", "end-before-start", "1"]]
    assert tables["issues"]["Code"].tolist() == ["end-before-start"]


def test_stage_table_trends_and_year_on_year(cohort) -> None:
    result, data = cohort
    stages = stage_table_view(data, Selection(), Q, result.stage_model)
    assert stages.table.loc["Foster care: other carers", "Children at start"] == "48"  # 30 + 8 + 3 + 7
    # 2 entered foster care: hidden, and with it what would give it away (stock + entered - left = end)
    assert stages.table.loc["Foster care: other carers", "Entered"] == "c"
    # entries are at least the hidden flows into a home from elsewhere (journeys.linked): shown beside them,
    # those who came from another stage would bound the hidden flows too closely
    assert stages.table.loc["Residential care", "Came from another stage"] == "c"
    # children at end show as the flows table's column totals: a stock is hidden only when it is 1 to 5
    assert stages.table.loc["Residential care", "Children at end"] == "17"
    assert stages.table.loc["Foster care: other carers", "Children at end"] == "32"
    # trends and the year before come from each quarter's suppressed flows margins: nothing new published
    trends = trends_view(data, Selection(), Q, result.stage_model, first=Period(2018, 3))
    go.Figure(trends.figure)
    assert list(trends.table.columns) == ["2018-19 Q2", "2018-19 Q3", "2018-19 Q4", "2019-20 Q1"]
    assert trends.table.loc["Foster care: other carers"].tolist() == ["0", "0", "48", "32"]
    assert trends.table.loc["Residential care", "2019-20 Q1"] == "17"  # as that quarter's flows table shows it
    assert trends.figure["data"][1]["y"] == [0, 0, 0, 17]
    every = trends_view(data, Selection(), Q, result.stage_model, first=Period(2016, 1))  # as the app asks
    assert len(every.table.columns) == 14 and every.table.columns[0] == "2015-16 Q4"
    assert every.table.loc["Residential care"].tolist()[-4:] == trends.table.loc["Residential care"].tolist()
    assert len(trends_view(data, Selection(), Q, result.stage_model).table.columns) == 12  # without `first`
    yoy = year_on_year_view(data, Selection(), Q, result.stage_model)
    assert yoy.table.loc["Foster care: other carers"].values.tolist() == [
        ["Children at start", "48", "0", "+48"], ["Children at end", "32", "0", "+32"]]
    assert list(yoy.table.columns) == ["Measure", "2019-20 Q1", "2018-19 Q1", "Change"]


def test_stocks_shared_by_neighbouring_quarters_are_shown_alike_and_protected_around(cohort) -> None:
    """The children at a quarter's end are the next quarter's children at its start: shown in both or neither.

    Suppressed one by one, 2019Q2 hid the 17 children in a home at its end (a partner for the 9 who
    entered one) while 2019Q3, where nobody moves, printed 17 and 32 at its start: with those, the 2
    children who entered foster care in 2019Q2 could be worked out (32 - 30). Now the rule shows both
    stocks in both quarters, and 2019Q2 protects its cells around them: the pair pins nothing.
    """
    from journeys.audit import audit_hidden
    from journeys.suppress import suppress_table
    from journeys.systems import TableSystem
    from journeys.views import flow_table

    result, data = cohort
    counts, _ = flow_table(data, Selection(), Q.next(), result.stage_model)
    alone = suppress_table(counts)
    assert alone.row_totals.astype("str").tolist() == ["0", "32", "17"]  # what was printed before (no one entered)
    this_counts, this = flow_table(data, Selection(), Q, result.stage_model)
    then_counts, then = flow_table(data, Selection(), Q.next(), result.stage_model)
    assert this.column_totals["foster_other"] == then.row_totals["foster_other"] == 32
    assert this.column_totals["residential"] == then.row_totals["residential"] == 17
    system = TableSystem()
    _, ends = system.add_table(this_counts, this)
    starts, _ = system.add_table(then_counts, then)
    for stage in ("foster_other", "residential"):
        system.same(ends[stage], starts[stage])
    values, hidden = system.arrays()
    assert hidden.sum() >= 6 and audit_hidden(values, hidden, system.lines, 5, set()) == []


def test_trend_multiples_over_many_quarters_tick_by_financial_year() -> None:
    """Over more than twelve quarters, one tick a financial year (at its first quarter, labelled with the year), on
    the lowest chart of each column; a chart of at most 4 children ticks in whole children."""
    from journeys.charts import trend_multiples

    periods = [Period(2019, 1)]
    while len(periods) < 16:
        periods.append(periods[-1].next())
    stages = [("foster_other", "Foster care: other carers", 40), ("residential", "Residential care", 3),
              ("secure_or_custody", "Secure home or custody", 0), ("supported_living", "Supported living", 9),
              ("other_placement", "Other placement", 7)]
    frame = pd.DataFrame([{"period_label": p.label, "stage": s, "stage_label": label,
                           "count": pd.NA if (k + i) % 5 == 0 else size, "display": "x"}
                          for i, p in enumerate(periods) for k, (s, label, size) in enumerate(stages)])
    frame["count"] = frame["count"].astype("Int64")
    layout = trend_multiples(frame, "title", columns=4)["layout"]
    years = [p.label for p in periods if p.label.endswith("Q1")]
    assert layout["xaxis"]["tickvals"] == years and layout["xaxis"]["ticktext"] == [y.split(" ")[0] for y in years]
    assert layout["xaxis"]["ticktext"][0] == "2019-20"
    # five charts in columns of four: the first chart has one below it, the other three columns end in row one
    assert [layout[f"xaxis{a}"]["showticklabels"] for a in ("", "2", "3", "4", "5")] == [False, True, True, True, True]
    assert "dtick" not in layout["yaxis"] and layout["yaxis2"]["dtick"] == 1 and layout["yaxis3"]["dtick"] == 1
    few = trend_multiples(frame[frame["period_label"].isin([p.label for p in periods[:4]])], "title")["layout"]
    assert "tickvals" not in few["xaxis"]
