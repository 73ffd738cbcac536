"""Data page: load extract files, choose a config, see the validation summary, build."""

from __future__ import annotations

import dash
from dash import Dash, html

from journeys.ui.components import empty_state
from journeys.ui.state import AppState


def layout(state: AppState) -> html.Div:
    if state.empty:
        return empty_state("No data is loaded yet.")
    return html.Div([html.H1("Data")])


def register(app: Dash, state: AppState) -> None:
    dash.register_page("journeys.ui.pages.data", path="/data", name="Data", title="Data - Care Journeys",
                       layout=lambda **_: layout(state), order=3)
MAX_UPLOAD_BYTES = 500 * 1024 * 1024
