"""Plotly figures drawn only from suppressed tables: a link's width never gives away what its label hides.

Every figure function takes a controlled type (SuppressedTable, StepFlows, a suppressed trend
frame) and refuses anything else, so raw counts cannot be drawn by mistake (DESIGN 6). Hidden
links are drawn at one nominal width that depends only on published numbers, and node hovers
show the published totals, never the sum of the drawn widths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from journeys.flows import NOT_KNOWN
from journeys.stages import StageModel
from journeys.steps import StepFlows
from journeys.suppress import DEFAULT_THRESHOLD, SUPPRESSED, SuppressedTable

Figure = dict[str, Any]  # a plotly figure as plain JSON-able dicts: no validation cost in callbacks (tests validate)
NOT_KNOWN_LABEL = "Not known to services"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"  # local fonts only: nothing fetched
def hidden_note(threshold: int) -> str:
    """What 'c' means, in the words of the threshold in force."""
    return f"{SUPPRESSED} = {threshold} or fewer, or hidden so that a small number cannot be worked out"


def stage_label(model: StageModel, stage: str) -> str:
    """The stage model's label, with the pseudo-stages of the flows view named in plain words."""
    if stage == NOT_KNOWN:
        return NOT_KNOWN_LABEL
    try:
        return model.get(stage).label
    except (KeyError, ValueError):
        return stage.replace("_", " ").capitalize()


def stage_colour(model: StageModel, stage: str) -> str:
    if stage == NOT_KNOWN:
        return "#DDDDDD"
    try:
        return model.get(stage).colour
    except (KeyError, ValueError):
        return "#999999"


def _rgba(hex_colour: str, alpha: float) -> str:
    value = hex_colour.lstrip("#")
    r, g, b = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def nominal_width(published: np.ndarray, threshold: int) -> float:
    """The width every hidden link is drawn at: a function of published values only (so it leaks nothing).

    >>> nominal_width(np.array([1000, 500]), 5), nominal_width(np.array([10]), 5)
    (15.0, 5.0)
    """
    total = float(np.nansum(published)) if len(published) else 0.0
    return float(max(threshold, round(0.01 * total)))


def _positions(order: Sequence[str], present: Sequence[str]) -> dict[str, float]:
    """Evenly spaced y for every node that could appear, so a node keeps its place from quarter to quarter."""
    slots = [s for s in order if s in set(present)] if not order else list(order)
    n = max(len(slots), 1)
    return {s: 0.02 + 0.96 * (i + 0.5) / n for i, s in enumerate(slots)}


def flow_sankey(table: SuppressedTable, model: StageModel, title: str = "",
                left_order: Sequence[str] = (), right_order: Sequence[str] = ()) -> Figure:
    """Sankey of a quarter's flows: stage at the start (left) to stage or outcome at the end (right).

    `left_order`/`right_order` fix every possible node's place (pass the same lists for every
    quarter and the layout stays still while the play control steps through time).
    """
    if not isinstance(table, SuppressedTable):
        raise TypeError("flow_sankey draws only a SuppressedTable: pass counts through journeys.suppress first")
    # the cells as arrays, row by row (a frame per cell cost more than the rest of the figure)
    counts = table.cells.to_numpy(dtype="float64", na_value=np.nan)
    hidden = np.isnan(counts)
    row_at, column_at = np.nonzero(hidden | (np.nan_to_num(counts) > 0))
    suppressed = hidden[row_at, column_at]
    values = np.nan_to_num(counts[row_at, column_at])
    widths = np.where(suppressed, nominal_width(values[~suppressed], table.threshold), values)
    row_ids, column_ids = list(table.cells.index), list(table.cells.columns)
    used_rows, used_columns = np.unique(row_at), np.unique(column_at)
    lefts, rights = [row_ids[k] for k in used_rows], [column_ids[k] for k in used_columns]
    left_y = _positions(left_order, lefts)
    right_y = _positions(right_order, rights)
    nodes = [("L", s) for s in lefts] + [("R", s) for s in rights]
    totals = {("L", s): t for s, t in table.row_totals.items()} | {("R", s): t for s, t in table.column_totals.items()}
    node_text = [_count_text(totals.get(node)) for node in nodes]
    left_node, right_node = np.full(len(row_ids), -1), np.full(len(column_ids), -1)  # each drawn row's node number
    left_node[used_rows], right_node[used_columns] = np.arange(len(lefts)), np.arange(len(lefts), len(nodes))
    labels = {s: stage_label(model, s) for s in (*row_ids, *column_ids)}
    colours = {s: stage_colour(model, s) for s in row_ids}
    link_text = [f"{labels[row_ids[a]]} → {labels[column_ids[b]]}: {SUPPRESSED if shut else int(v)}"
                 for a, b, shut, v in zip(row_at.tolist(), column_at.tolist(), suppressed.tolist(), values.tolist())]
    figure = _sankey(
        node=dict(
            label=[labels[s] for _, s in nodes],
            color=[stage_colour(model, s) for _, s in nodes],
            x=[0.001 if side == "L" else 0.999 for side, _ in nodes],
            y=[(left_y if side == "L" else right_y).get(s, 0.5) for side, s in nodes],
            pad=12, thickness=18, customdata=[[s, text] for (_, s), text in zip(nodes, node_text)],
            hovertemplate="%{label}: %{customdata[1]} children<extra></extra>",
            line=dict(color="#505A5F", width=0.5),
        ),
        link=dict(
            source=left_node[row_at].tolist(), target=right_node[column_at].tolist(), value=widths.tolist(),
            customdata=link_text,
            color=[_rgba(colours[row_ids[a]], 0.25 if shut else 0.45)
                   for a, shut in zip(row_at.tolist(), suppressed.tolist())],
            hovertemplate="%{customdata}<extra></extra>",
        ),
    )
    return _finish(figure, title, note=f"Left: where children were as the quarter began. Right: where they "
                                       f"were on its last day, or how they left. {hidden_note(table.threshold)}; hidden links "
                                       "are drawn at one fixed width.", rows=max(len(lefts), len(rights)))


def _count_text(value: object) -> str:
    return SUPPRESSED if value is None or pd.isna(value) else f"{int(value):,}"  # type: ignore[call-overload]


def _sankey(node: dict[str, Any], link: dict[str, Any]) -> Figure:
    return {"data": [{"type": "sankey", "arrangement": "snap", "node": node, "link": link}], "layout": {}}


def _finish(figure: Figure, title: str, note: str = "", rows: int = 0) -> Figure:
    """Title, font, white background and the note below the plot; taller where a column has many nodes.

    `rows`: the most nodes in one column (a label needs about 24 px, or labels overlap).
    """
    top, bottom = (50 if title else 20), (50 if note else 10)
    height = max(560, 24 * rows + top + bottom)
    figure["layout"].update(
        title=dict(text=title, x=0.01, font=dict(size=16)), font=dict(family=FONT, size=13, color="#0B0C0C"),
        margin=dict(l=10, r=10, t=top, b=bottom), height=height, paper_bgcolor="white", plot_bgcolor="white",
    )
    if note:  # in the bottom margin, below the lowest node's label
        figure["layout"].setdefault("annotations", []).append(dict(
            text=note, xref="paper", yref="paper", x=0, y=-30 / (height - top - bottom), showarrow=False,
            align="left", xanchor="left", yanchor="middle", font=dict(size=11, color="#505A5F")))
    return figure


def empty_figure(message: str) -> Figure:
    """A blank chart that says why it is blank (no data, nothing matches the filters)."""
    figure: Figure = {"data": [], "layout": {
        "annotations": [dict(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                             font=dict(size=15, color="#505A5F"))],
        "xaxis": {"visible": False}, "yaxis": {"visible": False}}}
    return _finish(figure, "")


def step_sankey(flows: StepFlows, title: str = "", threshold: int = DEFAULT_THRESHOLD) -> Figure:
    """Sankey of journeys aligned on step: column k holds the stage each journey was in at its k-th step.

    Node order within a column and colours come from the stage model (via `StepFlows.nodes`), so
    the same stage sits at the same height in every column; hidden links take one nominal width.
    """
    if not isinstance(flows, StepFlows):
        raise TypeError("step_sankey draws only StepFlows: pass counts through journeys.steps.step_flows first")
    nodes, links = flows.nodes.reset_index(drop=True), flows.links
    drawn = links[links["suppressed"] | (links["count"].fillna(0) > 0)].reset_index(drop=True)
    used = set(drawn["source"]) | set(drawn["target"])
    nodes = nodes[nodes["node"].isin(used)].reset_index(drop=True)
    if nodes.empty:
        return empty_figure("No journeys start in this period for these children.")
    index = {n: i for i, n in enumerate(nodes["node"])}
    published = drawn.loc[~drawn["suppressed"], "count"].to_numpy(dtype="float64")
    nominal = nominal_width(published, threshold)
    widths = np.where(drawn["suppressed"], nominal, drawn["count"].fillna(0).to_numpy(dtype="float64"))
    columns = int(nodes["step"].max()) + 1
    x = (nodes["step"].to_numpy() / max(columns - 1, 1)) * 0.98 + 0.001
    per_column = nodes.groupby("step").cumcount().to_numpy()
    column_size = nodes.groupby("step")["node"].transform("size").to_numpy()
    y = 0.02 + 0.96 * (per_column + 0.5) / column_size
    weeks = nodes["median_weeks"].to_numpy(dtype="float64")
    node_text = [f"{total} journeys" + (f"; median {int(w)} weeks in this stage" if not np.isnan(w) else "")
                 for total, w in zip(nodes["total_display"], weeks)]
    label_of = dict(zip(nodes["node"], nodes["label"]))
    figure = _sankey(
        node=dict(label=nodes["label"].tolist(), color=nodes["colour"].tolist(), x=x.tolist(), y=y.tolist(),
                  pad=10, thickness=16, line=dict(color="#505A5F", width=0.5),
                  customdata=[[s, t] for s, t in zip(nodes["stage"], node_text)],
                  hovertemplate="%{label}<br>%{customdata[1]}<extra></extra>"),
        link=dict(source=[index[s] for s in drawn["source"]], target=[index[t] for t in drawn["target"]],
                  value=widths.tolist(),
                  customdata=[f"{label_of[s]} → {label_of[t]}: {d}" for s, t, d in
                              zip(drawn["source"], drawn["target"], drawn["display"])],
                  color=[_rgba(c, 0.4) for c in nodes.set_index("node").loc[drawn["source"], "colour"]],
                  hovertemplate="%{customdata}<extra></extra>"),
    )
    return _finish(figure, title, note=f"Each column is one step of a journey, left to right. {hidden_note(threshold)}; hidden "
                                       "links are drawn at one fixed width.", rows=int(nodes.groupby("step").size().max()))


def trend_multiples(frame: pd.DataFrame, title: str, columns: int = 4) -> Figure:
    """Small multiples from a suppressed trend frame (period_label, stage, stage_label, count with <NA> hidden).

    Hidden quarters are gaps in the line, never interpolated, so no hidden value can be read off.
    """
    if not {"display", "count"} <= set(frame.columns):
        raise TypeError("trend_multiples draws only a suppressed trend frame (journeys.quarter_stats.trend_frame)")
    stages = list(dict.fromkeys(frame["stage"]))
    rows = max(1, -(-len(stages) // columns))
    quarters = list(dict.fromkeys(frame["period_label"]))
    # over many quarters, one tick a financial year (its first quarter, April to June), labelled with the year
    years = [q for q in quarters if q.endswith("Q1")] if len(quarters) > 12 else []
    ticks = {"tickvals": years, "ticktext": [q.split(" ")[0] for q in years]} if years else {}
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {"showlegend": False, "height": max(260, 170 * rows)}
    gap_x, gap_y = 0.04, 0.10 / max(rows, 1)
    width, height = (1 - gap_x * (columns - 1)) / columns, (1 - gap_y * (rows - 1)) / rows
    parts = dict(iter(frame.groupby("stage", sort=False)))  # one pass, not a filter per stage
    for i, stage in enumerate(stages):
        part = parts[stage]
        r, c = divmod(i, columns)
        axis = "" if i == 0 else str(i + 1)
        x0, y1 = c * (width + gap_x), 1 - r * (height + gap_y)
        counts = [None if pd.isna(v) else int(v) for v in part["count"]]
        small = max((c for c in counts if c is not None), default=0) <= 4  # whole children: no 0.5 tick
        data.append({"type": "scatter", "mode": "lines+markers", "x": part["period_label"].tolist(), "y": counts,
                     "xaxis": f"x{axis}", "yaxis": f"y{axis}", "name": part["stage_label"].iloc[0],
                     "line": {"color": "#1d70b8"}, "customdata": part["display"].tolist(),
                     "hovertemplate": "%{x}: %{customdata}<extra>" + str(part["stage_label"].iloc[0]) + "</extra>"})
        lowest = i + columns >= len(stages)  # nothing below it in its column: it carries the quarters
        layout[f"xaxis{axis}"] = {"domain": [x0, x0 + width], "anchor": f"y{axis}", "showticklabels": lowest,
                                  "tickangle": -45, "tickfont": {"size": 9}, **ticks}
        layout[f"yaxis{axis}"] = {"domain": [y1 - height, y1], "anchor": f"x{axis}", "rangemode": "tozero",
                                  "tickfont": {"size": 9}, **({"dtick": 1} if small else {})}
        layout.setdefault("annotations", []).append(
            {"text": str(part["stage_label"].iloc[0]), "x": x0, "y": y1, "xref": "paper", "yref": "paper",
             "xanchor": "left", "yanchor": "bottom", "showarrow": False, "font": {"size": 11}})
    figure: Figure = {"data": data, "layout": layout}
    finished = _finish(figure, title, note=f"Gaps are quarters where the number is hidden ({SUPPRESSED}).")
    finished["layout"]["height"] = layout["height"] + 120
    finished["layout"]["margin"] = dict(l=45, r=10, t=60, b=110)
    finished["layout"]["annotations"][-1]["y"] = -90 / finished["layout"]["height"]
    return finished
