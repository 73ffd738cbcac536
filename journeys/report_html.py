"""The one-page quarterly report: an HTML file that opens offline, plotly embedded, nothing fetched.

Built from one suppressed table (the quarter's flows, exactly what `journeys flows` prints), so it
is safe to share as a fixed output (DESIGN 6). Linked tables (the headline figures, per-stage
stock) join it once they are audited together with it: published side by side, totals they share
could give a hidden count away. Its own CSP forbids any request, so it cannot fetch anything.
"""

from __future__ import annotations

import datetime as dt
import html

import pandas as pd
import plotly.io as pio

from journeys.flows import Period
from journeys.selection import JourneyData, Selection
from journeys.stages import StageModel
from journeys.suppress import DEFAULT_THRESHOLD
from journeys.views import flows_view, scope

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#0b0c0c;margin:24px;max-width:1200px}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:28px}p.note{color:#505a5f}
table{border-collapse:collapse;font-size:.85rem;margin:8px 0}caption{text-align:left;font-weight:700;padding:4px 0}
th,td{border-bottom:1px solid #b1b4b6;padding:3px 8px;text-align:left}td{text-align:right}
"""


def _table(frame: pd.DataFrame, caption: str, corner: str) -> str:
    head = "".join(f"<th scope='col'>{html.escape(str(c))}</th>" for c in [corner, *frame.columns])
    rows = "".join("<tr><th scope='row'>" + html.escape(str(i)) + "</th>" +
                   "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for i, row in zip(frame.index, frame.itertuples(index=False)))
    return f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def quarterly_report(data: JourneyData, selection: Selection, period: Period, model: StageModel,
                     extract_dates: dict[str, str], threshold: int = DEFAULT_THRESHOLD,
                     today: dt.date | None = None) -> str:
    """The report for one quarter as a self-contained HTML page (plotly.js inlined once)."""
    flows = flows_view(data, selection, period, model, threshold)
    chart = pio.to_html(flows.figure, validate=False, include_plotlyjs=True, full_html=False, config={"displaylogo": False},
                        default_width="100%")
    dates = ", ".join(f"{html.escape(a)}: data to {html.escape(d)}" for a, d in extract_dates.items())
    flows_table = _table(flows.table, flows.caption, "Start of quarter \\ End of quarter")
    made = (today or dt.date.today()).isoformat()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:">
<title>Care Journeys: {html.escape(period.label)}</title>
<style>{_STYLE}</style></head><body>
<h1>Quarterly report, {html.escape(period.label)}: {html.escape(scope(data, selection))}</h1>
<p class="note">{dates}. Made {made} by Care Journeys on this computer. Counts from 1 to {threshold} are shown as c,
with more hidden so that none can be worked out from the others.</p>
<h2>Where children were at the start and end of the quarter</h2>
{chart}
{flows_table}
</body></html>
"""
