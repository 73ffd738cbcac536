"""Overview page: the headline figures the DfE publishes, counted the DfE way (children, not episodes)."""

from __future__ import annotations

import dash
from dash import Dash, html

from journeys.ui.components import empty_state
from journeys.ui.state import AppState


def layout(state: AppState) -> html.Div:
    if state.empty:
        return empty_state("No data is loaded yet.")
    return html.Div([html.H1("Overview")])


def register(app: Dash, state: AppState) -> None:
    dash.register_page("journeys.ui.pages.overview", path="/", name="Overview", title="Overview - Care Journeys",
                       layout=lambda **_: layout(state), order=0)
