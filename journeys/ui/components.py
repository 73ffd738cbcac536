"""Building blocks every page shares: the how-to-read note, chart with table view, CSV and picture export."""

from __future__ import annotations

from typing import Any

import pandas as pd
from dash import dcc, html, no_update

GRAPH_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "showLink": False,
    "showEditInChartStudio": False,
    "showSendToCloud": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["sendDataToCloud", "lasso2d", "select2d"],
    "toImageButtonOptions": {"format": "png", "filename": "care-journeys", "scale": 2},
}


def aria(**attributes: str) -> dict[str, Any]:
    """ARIA attributes for a component: aria(live="polite") -> {"aria-live": "polite"}."""
    return {f"aria-{name.replace('_', '-')}": value for name, value in attributes.items()}


def labelled(control_id: str, label: str, control: Any, className: str | None = None) -> html.Div:
    """A control under its visible label, in a group named by that label.

    Dash 4's dropdown names its button by the chosen value (its own aria-labelledby outranks our
    <label for>), so the group is what makes a screen reader say "Quarter" as focus enters it.
    """
    return html.Div([html.Label(label, htmlFor=control_id, id=f"{control_id}-label"), control], role="group",
                    className=className, **aria(labelledby=f"{control_id}-label"))


def how_to_read(*sentences: str) -> html.Div:
    """A few plain words on how to read the page (every page has one)."""
    return html.Div([html.H2("How to read this page", className="visually-hidden"),
                     *[html.P(s) for s in sentences]], className="how-to-read")


def table_view(frame: pd.DataFrame, caption: str, index_header: str = "") -> dict[str, Any]:
    """An accessible HTML table (caption, column and row headers) of text that is already suppressed.

    Built as the JSON Dash sends for html.Table and its cells (type, namespace, props), not as Dash
    components: a Journeys table of 300 links made 1,800 components, 34 ms to build and 15 ms to
    encode, more than its disclosure control. The browser receives exactly the same markup.
    """
    head = [_tag("Th", index_header, scope="col")] if index_header else []
    head += [_tag("Th", str(c), scope="col") for c in frame.columns]
    text = frame.astype("str").to_numpy(dtype=object)
    # every cell at once, not per column (41 quarters of trends: 18 -> 4 ms) nor per cell
    numeric = _numeric(pd.Series(text.ravel(), dtype="str")).to_numpy(dtype=bool).reshape(text.shape)
    rows = []
    for i, label in enumerate(frame.index):
        cells: list[Any] = [_tag("Th", str(label), scope="row")] if index_header else []
        cells += [_tag("Td", value, className="num") if num else _tag("Td", value)
                  for value, num in zip(text[i].tolist(), numeric[i].tolist())]
        rows.append(_tag("Tr", cells))
    return _tag("Table", [_tag("Caption", caption), _tag("Thead", _tag("Tr", head)), _tag("Tbody", rows)],
                className="data-table")


def _tag(name: str, children: Any, **props: str) -> dict[str, Any]:
    """An html component as Dash's wire format (what html.<name>(children, **props).to_plotly_json() gives)."""
    return {"type": name, "namespace": "dash_html_components", "props": {"children": children, **props}}


def _numeric(text: pd.Series) -> pd.Series:
    """Which cells read as numbers (digits, signs, separators, a percent) or "c", to right-align them."""
    digits = text.str.replace(r"[,\-+.%]", "", regex=True)
    return digits.str.isdigit() | (digits == "c")


def chart_block(prefix: str, title: str, filename: str) -> html.Section:
    """A chart with its table view, CSV download and picture-format choice (ids prefixed by page)."""
    config = dict(GRAPH_CONFIG, toImageButtonOptions=dict(GRAPH_CONFIG["toImageButtonOptions"], filename=filename))
    return html.Section([
        html.H2(title, id=f"{prefix}-title"),
        dcc.Loading(dcc.Graph(id=f"{prefix}-graph", className="chart", figure={"data": [], "layout": {"height": 560}},
                              config=config), type="dot"),  # type: ignore[arg-type]
        html.Div([
            html.Button("Download the numbers (CSV)", id=f"{prefix}-csv-button", n_clicks=0, className="button"),
            dcc.Download(id=f"{prefix}-csv"),
            html.Fieldset([html.Legend("Picture format", className="inline-label"),
                           dcc.RadioItems(id=f"{prefix}-picture-format", value="png", inline=True,
                                          options=[{"label": "PNG", "value": "png"}, {"label": "SVG", "value": "svg"}])],
                          className="inline-fieldset"),
            html.Span("Use the camera button on the chart to save a picture.", className="hint"),
        ], className="chart-actions"),
        html.Details([html.Summary("Show the numbers as a table"), html.Div(id=f"{prefix}-table")],
                     className="table-details", open=False),
    ], className="chart-block", **aria(labelledby=f"{prefix}-title"))


def picture_config(filename: str, picture_format: str) -> dict[str, Any]:
    """Graph config whose camera button saves the chosen format (PNG or SVG), drawn in the browser."""
    return dict(GRAPH_CONFIG, toImageButtonOptions={"format": picture_format if picture_format in ("png", "svg")
                                                    else "png", "filename": filename, "scale": 2})


def year_choice(control_id: str, label: str, years: list[int]) -> html.Div:
    """A labelled dropdown of financial years (newest first, newest chosen), as councils write them."""
    from journeys.flows import year_label
    return labelled(control_id, label, dcc.Dropdown(id=control_id, clearable=False, searchable=True, value=years[-1],
                                                    options=[{"label": year_label(y), "value": y} for y in reversed(years)]))


def empty_state(message: str) -> html.Div:
    """What a page shows when there is nothing to show, and what to do about it."""
    return html.Div([html.P(message), dcc.Link("Load data on the Data page", href="/data")], className="empty-state")


def stage_from_click(click: dict[str, Any] | None, stages: dict[str, str]) -> Any:
    """The stage a clicked Sankey node stands for (`stages`: label -> stage id); links, outcomes, blanks: no change.

    Dash passes a node's label but drops array-valued custom data, so the label identifies the stage.

    >>> stage_from_click({"points": [{"label": "Referral", "pointNumber": 2}]}, {"Referral": "referral"})
    'referral'
    >>> stage_from_click({"points": [{"label": "Adopted"}]}, {"Referral": "referral"}) is no_update
    True
    """
    points = (click or {}).get("points") or []
    label = points[0].get("label") if points else None
    return stages.get(label, no_update) if isinstance(label, str) else no_update
