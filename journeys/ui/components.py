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


def table_view(frame: pd.DataFrame, caption: str, index_header: str = "") -> html.Table:
    """An accessible HTML table (caption, column and row headers) of text that is already suppressed."""
    head = [html.Th(index_header, scope="col")] if index_header else []
    head += [html.Th(str(c), scope="col") for c in frame.columns]
    rows = []
    for label, values in zip(frame.index, frame.itertuples(index=False)):
        cells: list[Any] = [html.Th(str(label), scope="row")] if index_header else []
        cells += [html.Td(str(v), className="num" if _numeric(v) else None) for v in values]
        rows.append(html.Tr(cells))
    return html.Table([html.Caption(caption), html.Thead(html.Tr(head)), html.Tbody(rows)], className="data-table")


def _numeric(value: object) -> bool:
    text = str(value).replace(",", "").replace("-", "").replace("+", "").replace(".", "").replace("%", "")
    return text.isdigit() or text == "c"


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
