"""Quarterly flows page: where children were when a quarter began and where they were when it ended."""

from __future__ import annotations

from typing import Any

import dash
from dash import Dash, Input, Output, State, dcc, html

from journeys.flows import Period
from journeys.report_html import quarterly_report
from journeys.ui.components import (aria, chart_block, empty_state, how_to_read, labelled, picture_config, stage_from_click,
                                    table_view)
from journeys.ui.shell import FILTER_INPUTS, FILTER_STATES, on_download, selection_from
from journeys.ui.state import AppState
from journeys.flow_panels import FLOW_MEASURES, stage_table_view, trends_view, year_on_year_view
from journeys.views import flows_view

PATH = "/flows"
#: what can be shown below the flows, one at a time (each costs as much as the flows again, or more)
PANELS = {"stages": "Children in each stage", "year": "The same quarter a year before",
          "trends": "Trends over every quarter"}


def layout(state: AppState) -> html.Div:
    periods = state.quarters()
    if state.empty or not periods:
        return empty_state("No data is loaded yet, so there are no flows to show.")
    options = [{"label": p.label, "value": p.key} for p in reversed(periods)]
    return html.Div([
        html.H1("Quarterly flows"),
        how_to_read(
            "Each band shows children moving from the stage they were in as the quarter began (left, or "
            "'not known to services' if they were in none) to the stage they were in on its last day, or how they "
            "left (right). A child counts once. Stages entered and left within the quarter are on the Journeys page.",
            "Click a stage to show only children who passed through it; the filters above apply too.",
        ),
        html.Div([
            labelled("flows-period", "Quarter", dcc.Dropdown(id="flows-period", options=options, value=periods[-1].key,
                                                             clearable=False, searchable=True)),
            html.Button("Play through the quarters", id="flows-play", n_clicks=0, className="button secondary",
                        **aria(pressed="false")),
            dcc.Interval(id="flows-timer", interval=1500, disabled=True),
            dcc.Store(id="flows-drawn"),  # which flows are on show: the panel below follows them
        ], className="controls"),
        chart_block("flows", "Flows between stages", "care-journeys-quarterly-flows"),
        html.Fieldset([
            html.Legend("Below the flows, show", className="inline-label"),
            dcc.RadioItems(id="flows-panel", value="stages", inline=True,
                           options=[{"label": label, "value": value} for value, label in PANELS.items()]),
            html.Span("Each is worked out when it is shown, once the flows are drawn, so they come first.",
                      className="hint"),
        ], className="inline-fieldset controls"),
        html.Section([
            html.H2("Children in each stage"),
            html.P("Children at the start and end of the quarter, those who entered and left each stage in it, those "
                   "who came from another stage, and placement moves (of stays that ended in the quarter). Checked "
                   "together with the flows above, so no hidden number can be worked out from the two.",
                   className="hint"),
            dcc.Loading(html.Div(id="flows-stages-table"), type="dot"),
            html.Button("Download the numbers (CSV)", id="flows-stages-csv-button", n_clicks=0, className="button"),
            dcc.Download(id="flows-stages-csv"),
        ], id="flows-panel-stages"),
        html.Section([
            html.H2("Compared with the same quarter a year before"),
            dcc.Loading(html.Div(id="flows-yoy-table"), type="dot"),
        ], id="flows-panel-year", hidden=True),
        html.Div([
            html.Div(labelled("flows-trend-measure", "Trend of", dcc.Dropdown(
                id="flows-trend-measure", clearable=False, value="stock_end",
                options=[{"label": v, "value": k} for k, v in FLOW_MEASURES.items()])), className="controls"),
            chart_block("flows-trends", "Trends over every quarter", "care-journeys-trends"),
        ], id="flows-panel-trends", hidden=True),
        html.Div([html.Button("Download the quarterly report (HTML, opens offline)", id="flows-report-button", n_clicks=0,
                              className="button secondary"), dcc.Download(id="flows-report")], className="chart-actions"),
    ])


def register(app: Dash, state: AppState) -> None:
    dash.register_page("journeys.ui.pages.flows", path=PATH, name="Quarterly flows", title="Quarterly flows - Care Journeys",
                       layout=lambda **_: layout(state), order=2)

    @app.callback(Output("flows-graph", "figure"), Output("flows-table", "children"), Output("flows-graph", "config"),
                  Output("flows-drawn", "data"),
                  Input("flows-period", "value"), Input("flows-picture-format", "value"), *FILTER_INPUTS)
    def show_flows(period: str, fmt: str, authorities: list[str] | None, *values: Any) -> tuple[Any, Any, Any, Any]:
        # the picture format rides with the figure: plotly applies a new config only when it redraws
        if state.data is None or not period:
            return dash.no_update, dash.no_update, dash.no_update, dash.no_update
        selection = selection_from(authorities, *values)
        view = flows_view(state.data, selection, Period.parse(period), state.stage_model, state.threshold,
                          state.viewer_secret)
        # the panel fires once this answers (flows-drawn), not with it: the two would share one GIL, and the
        # Sankey would wait for a panel that costs as much again (other quarters' tables)
        return (view.figure, table_view(view.table, view.caption, index_header="Start of quarter \\ End of quarter"),
                picture_config("care-journeys-quarterly-flows", fmt), f"{period} {selection.key()}")

    @app.callback(*[Output(f"flows-panel-{name}", "hidden") for name in PANELS], Input("flows-panel", "value"))
    def show_panel(chosen: str) -> tuple[bool, ...]:
        return tuple(name != chosen for name in PANELS)

    after_flows = [Input("flows-drawn", "data"), State("flows-period", "value"), *FILTER_STATES]

    @app.callback(Output("flows-stages-table", "children"), Input("flows-panel", "value"), *after_flows,
                  prevent_initial_call=True)
    def show_stages(panel: str, _: str, period: str, authorities: list[str] | None, *values: Any) -> Any:
        if state.data is None or not period or panel != "stages":  # only the panel on show is worked out
            return dash.no_update
        view = stage_table_view(state.data, selection_from(authorities, *values), Period.parse(period),
                                state.stage_model, state.threshold, state.viewer_secret)
        return table_view(view.table, view.caption, index_header="Stage")

    @app.callback(Output("flows-yoy-table", "children"), Input("flows-panel", "value"), *after_flows,
                  prevent_initial_call=True)
    def show_year_before(panel: str, _: str, period: str, authorities: list[str] | None, *values: Any) -> Any:
        if state.data is None or not period or panel != "year":
            return dash.no_update
        view = year_on_year_view(state.data, selection_from(authorities, *values), Period.parse(period),
                                 state.stage_model, state.threshold, state.viewer_secret)
        return table_view(view.table, view.caption, index_header="Stage")

    @app.callback(Output("flows-trends-graph", "figure"), Output("flows-trends-table", "children"),
                  Output("flows-trends-graph", "config"), Input("flows-panel", "value"),
                  Input("flows-trend-measure", "value"), Input("flows-trends-picture-format", "value"), *after_flows,
                  prevent_initial_call=True)
    def show_trends(panel: str, measure: str, fmt: str, _: str, period: str, authorities: list[str] | None,
                    *values: Any) -> Any:
        if state.data is None or not period or panel != "trends":
            return dash.no_update, dash.no_update, dash.no_update
        view = trends_view(state.data, selection_from(authorities, *values), Period.parse(period), state.stage_model,
                           measure, first=state.quarters()[0], threshold=state.threshold, secret=state.viewer_secret)
        return (view.figure, table_view(view.table, view.caption, index_header="Stage"),
                picture_config("care-journeys-trends", fmt))

    period_choice = [State("flows-period", "value")]
    on_download(app, state, "flows-csv", period_choice, lambda data, selection, period: (
        flows_view(data, selection, Period.parse(period), state.stage_model, state.threshold, state.viewer_secret).csv,
        f"care-journeys-flows-{period}.csv"))
    on_download(app, state, "flows-report", period_choice, lambda data, selection, period: (
        quarterly_report(data, selection, Period.parse(period), state.stage_model, state.extract_dates(),
                         state.threshold), f"care-journeys-report-{period}.html"))
    on_download(app, state, "flows-stages-csv", period_choice, lambda data, selection, period: (
        stage_table_view(data, selection, Period.parse(period), state.stage_model, state.threshold,
                         state.viewer_secret).csv,
        f"care-journeys-stages-{period}.csv"))
    on_download(app, state, "flows-trends-csv", [*period_choice, State("flows-trend-measure", "value")],
                lambda data, selection, period, measure: (
                    trends_view(data, selection, Period.parse(period), state.stage_model, measure,
                                first=state.quarters()[0], threshold=state.threshold,
                                secret=state.viewer_secret).csv,
                    f"care-journeys-trends-{period}.csv"))

    @app.callback(Output("flows-timer", "disabled"), Output("flows-play", "children"), Output("flows-play", "aria-pressed"),
                  Input("flows-play", "n_clicks"), prevent_initial_call=True)
    def play(clicks: int) -> tuple[bool, str, str]:
        playing = clicks % 2 == 1
        return (not playing, "Pause" if playing else "Play through the quarters", "true" if playing else "false")

    @app.callback(Output("flows-period", "value"), Input("flows-timer", "n_intervals"), State("flows-period", "value"),
                  prevent_initial_call=True)
    def step(_: int, current: str) -> str:
        keys = [p.key for p in state.quarters()]
        return keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0]

    @app.callback(Output("shell-through-stage", "data", allow_duplicate=True), Input("flows-graph", "clickData"),
                  prevent_initial_call=True)
    def narrow(click: dict[str, Any] | None) -> Any:
        return stage_from_click(click, state.stage_labels())
