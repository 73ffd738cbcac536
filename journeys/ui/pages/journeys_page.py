"""Journeys page: step-aligned journeys for children whose journey starts in a period."""

from __future__ import annotations

import dash
from dash import Dash, html

from journeys.ui.components import empty_state
from journeys.ui.state import AppState


def layout(state: AppState) -> html.Div:
    if state.empty:
        return empty_state("No data is loaded yet.")
    return html.Div([html.H1("Journeys")])


def register(app: Dash, state: AppState) -> None:
    dash.register_page("journeys.ui.pages.journeys_page", path="/journeys", name="Journeys", title="Journeys - Care Journeys",
                       layout=lambda **_: layout(state), order=1)
