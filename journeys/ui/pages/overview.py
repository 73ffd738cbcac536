"""Overview page: the headline figures the DfE publishes, counted the DfE way (children, not episodes)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Dash, Input, Output, State, dcc, html

from journeys.ui.components import year_choice, empty_state, how_to_read, table_view
from journeys.ui.shell import FILTER_INPUTS, on_download, selection_from
from journeys.ui.state import AppState
from journeys.views import overview_view


def layout(state: AppState) -> html.Div:
    years = state.years()
    if state.empty or not years:
        return empty_state("No data is loaded yet, so there are no figures to show.")
    return html.Div([
        html.H1("Overview"),
        how_to_read(
            "The figures the Department for Education publishes each year, counted the same way so that you can "
            "check them against your published statistics: children, not episodes; a child counts once however many "
            "times they started or left. The year runs from 1 April to 31 March.",
            "Rates per 10,000 children appear when the app is given a population file (journeys serve --population). "
            "Shares and rates are shown only where the counts behind them are.",
        ),
        html.Div(year_choice("overview-year", "Year", years), className="controls"),
        html.Section([
            html.H2("Headline figures", id="overview-title"),
            dcc.Loading(html.Div(id="overview-table"), type="dot"),
            html.Div([html.Button("Download the numbers (CSV)", id="overview-csv-button", n_clicks=0, className="button"),
                      dcc.Download(id="overview-csv")], className="chart-actions"),
        ]),
    ])


def register(app: Dash, state: AppState) -> None:
    dash.register_page("journeys.ui.pages.overview", path="/", name="Overview", title="Overview - Care Journeys",
                       layout=lambda **_: layout(state), order=0)

    def view(year: int, authorities: list[str] | None, values: tuple[Any, ...]) -> Any:
        assert state.data is not None
        return overview_view(state.data, selection_from(authorities, *values), int(year), state.stage_model,
                             state.population, state.threshold, state.viewer_secret)

    @app.callback(Output("overview-table", "children"), Input("overview-year", "value"), *FILTER_INPUTS)
    def show(year: int | None, authorities: list[str] | None, *values: Any) -> Any:
        if state.data is None or year is None:
            return dash.no_update
        result = view(year, authorities, values)
        return table_view(result.table, result.caption, index_header="Figure")

    on_download(app, state, "overview-csv", [State("overview-year", "value")], lambda data, selection, year: (
        overview_view(data, selection, int(year), state.stage_model, state.population, state.threshold,
                      state.viewer_secret).csv,
        f"care-journeys-overview-{year}.csv"))
