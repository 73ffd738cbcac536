"""Journeys page: step-aligned journeys for children whose journey starts in a chosen year."""

from __future__ import annotations

from typing import Any

import dash
from dash import Dash, Input, Output, State, dcc, html

from journeys.ui.components import (chart_block, empty_state, how_to_read, labelled, picture_config, stage_from_click,
                                    table_view, year_choice)
from journeys.ui.shell import FILTER_INPUTS, on_download, selection_from
from journeys.ui.state import AppState
from journeys.views import journeys_view

FILENAME = "care-journeys-journeys"


def layout(state: AppState) -> html.Div:
    years = state.years()
    if state.empty or not years:
        return empty_state("No data is loaded yet, so there are no journeys to show.")
    return html.Div([
        html.H1("Journeys"),
        how_to_read(
            "Each column is a step of a journey: first how it began ('Entered', or 'Already known when data begins'), "
            "then each stage in turn, then how it ended or 'Still open'. Only journeys that began in the chosen year "
            "are drawn, so a child appears once per journey. Steps beyond the chosen depth are folded into 'More moves'.",
            "Hover over a stage for the number of journeys and the median time spent in it (shown for 10 or more). "
            "Click a stage to show only children who passed through it.",
        ),
        html.Div([
            year_choice("journeys-period", "Journeys starting in", years),
            labelled("journeys-depth", "Steps shown before folding",
                     dcc.Dropdown(id="journeys-depth", options=list(range(2, 11)), value=6, clearable=False)),
            dcc.Checklist(id="journeys-truncated", options=[{"label": " Include journeys already under way when the "
                                                                      "data begins", "value": "yes"}], value=[]),
        ], className="controls"),
        chart_block("journeys", "Journeys step by step", FILENAME),
    ])


def register(app: Dash, state: AppState) -> None:
    dash.register_page("journeys.ui.pages.journeys_page", path="/journeys", name="Journeys",
                       title="Journeys - Care Journeys", layout=lambda **_: layout(state), order=1)
    choices = [Input("journeys-period", "value"), Input("journeys-depth", "value"), Input("journeys-truncated", "value")]

    def view(year: int, depth: int, truncated: list[str] | None, authorities: list[str] | None, values: Any) -> Any:
        assert state.data is not None
        return journeys_view(state.data, selection_from(authorities, *values), int(year), state.stage_model,
                             depth=int(depth), include_truncated=bool(truncated), threshold=state.threshold,
                             secret=state.viewer_secret)

    @app.callback(Output("journeys-graph", "figure"), Output("journeys-table", "children"),
                  Output("journeys-graph", "config"), *choices, Input("journeys-picture-format", "value"), *FILTER_INPUTS)
    def show(year: int, depth: int, truncated: list[str], fmt: str, authorities: list[str] | None, *values: Any) -> Any:
        if state.data is None or year is None:
            return dash.no_update, dash.no_update, dash.no_update
        result = view(year, depth, truncated, authorities, values)
        return result.figure, table_view(result.table, result.caption, index_header="Step"), picture_config(FILENAME, fmt)

    on_download(app, state, "journeys-csv", [State(i.component_id, i.component_property) for i in choices],
                lambda data, selection, year, depth, truncated: (
                    journeys_view(data, selection, int(year), state.stage_model, depth=int(depth),
                                  include_truncated=bool(truncated), threshold=state.threshold,
                                  secret=state.viewer_secret).csv,
                    f"{FILENAME}-{year}.csv"))

    @app.callback(Output("shell-through-stage", "data", allow_duplicate=True), Input("journeys-graph", "clickData"),
                  prevent_initial_call=True)
    def narrow(click: dict[str, Any] | None) -> Any:
        return stage_from_click(click, state.stage_labels())
