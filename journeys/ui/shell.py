"""The frame around every page: header with authorities and extract dates, navigation, filters, narrowing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dash
from dash import Dash, Input, Output, State, dcc, html

from journeys.attributes import FILTER_COLUMNS
from journeys.charts import stage_label
from journeys.selection import Selection
from journeys.ui.components import aria, labelled
from journeys.ui.state import AppState

PAGES = [("/", "Overview"), ("/journeys", "Journeys"), ("/flows", "Quarterly flows"), ("/data", "Data")]
FILTER_IDS = {column: f"filter-{column.replace('_', '-')}" for column in FILTER_COLUMNS}
FILTER_INPUTS = [Input("filter-authority", "value"), *[Input(i, "value") for i in FILTER_IDS.values()],
                 Input("shell-through-stage", "data")]
FILTER_STATES = [State(i.component_id, i.component_property) for i in FILTER_INPUTS]


def selection_from(authorities: list[str] | None, *values: Any) -> Selection:
    """The Selection behind the shell's filter values (in FILTER_INPUTS order)."""
    *filters, through = values
    return Selection.from_values(authorities, dict(zip(FILTER_COLUMNS, filters)), through)


def on_download(app: Dash, state: AppState, name: str, choices: list[State],
                make: Callable[..., tuple[str, str]]) -> None:
    """Wire button `<name>-button` to the dcc.Download `<name>`: make(data, selection, *choices) -> (text, file name)."""

    @app.callback(Output(name, "data"), Input(f"{name}-button", "n_clicks"), *choices, *FILTER_STATES,
                  prevent_initial_call=True)
    def download(_: int, *values: Any) -> Any:
        if state.data is None:
            return None
        text, filename = make(state.data, selection_from(*values[len(choices):]), *values[:len(choices)])
        return dcc.send_string(text, filename)


def header(state: AppState) -> html.Header:
    dates = state.extract_dates()
    loaded = ([html.Span(f"{name}: data to {date}", className="authority-chip") for name, date in dates.items()]
              if dates else [html.Span("No data loaded", className="authority-chip")])
    return html.Header([
        html.Div([html.Span("Care Journeys", className="brand"),
                  html.Span("Children's journeys through social care", className="strapline")]),
        html.Div(loaded, id="shell-authorities", className="authorities", **aria(live="polite")),
        html.P(f"Counts from 1 to {state.threshold} are shown as c, with more hidden so they cannot be worked out. "
               "Nothing on these pages leaves this computer.", className="disclosure-note"),
    ], className="header")


def filter_bar(state: AppState) -> html.Section:
    options = state.data.options() if state.data else {c: [] for c in FILTER_COLUMNS}
    authorities = sorted(state.builds)

    def control(control_id: str, label: str, values: list[str]) -> html.Div:
        return labelled(control_id, label, dcc.Dropdown(id=control_id, options=values, value=[], multi=True,
                                                        placeholder="All", searchable=True, clearable=True),
                        className="filter")

    return html.Section([
        html.H2("Filters", className="visually-hidden"),
        control("filter-authority", "Authority", authorities),
        *[control(FILTER_IDS[c], label, options[c]) for c, label in FILTER_COLUMNS.items()],
        html.Div([html.Span(id="shell-narrow-text"),
                  html.Button("Show all children again", id="shell-narrow-clear", n_clicks=0,
                              className="button secondary", hidden=True)], className="narrow", **aria(live="polite")),
    ], className="filters", **aria(label="Filters"))


def shell(state: AppState) -> html.Div:
    """The whole page frame (a function, so each visit shows what is loaded now)."""
    return html.Div([
        html.A("Skip to main content", href="#main", className="skip-link"),
        header(state),
        html.Nav(html.Ul([html.Li(dcc.Link(name, href=path)) for path, name in PAGES]), className="nav",
                 **aria(label="Pages")),
        filter_bar(state),
        html.Main(dash.page_container, id="main", tabIndex="-1"),
        dcc.Store(id="shell-through-stage", data=None),
        html.Footer(html.P("Care Journeys runs on this computer; child-level data never leaves it."), className="footer"),
    ], className="shell")


def register(app: Dash, state: AppState) -> None:
    """The shell's own callback: show and clear the stage the user narrowed to by clicking a node."""

    @app.callback(Output("shell-narrow-text", "children"), Output("shell-narrow-clear", "hidden"),
                  Input("shell-through-stage", "data"))
    def show_narrowing(stage: str | None) -> tuple[str, bool]:
        if not stage:
            return "", True
        return f"Showing only children who passed through: {stage_label(state.stage_model, stage)}.", False

    @app.callback(Output("shell-through-stage", "data", allow_duplicate=True), Input("shell-narrow-clear", "n_clicks"),
                  State("shell-through-stage", "data"), prevent_initial_call=True)
    def clear_narrowing(_: int, __: str | None) -> None:
        return None
