"""The Overview's 31 March figures audited with the flows tables that show the same children.

Children looked after on 31 March are the children in the in-care stages at the end of the
January-March quarter, which are the children in those stages at the start of April-June: the
flows page prints those stocks stage by stage (shown by one rule in both quarters, journeys.stocks).
The Overview's 31 March figures are sums of them (looked after, in need but not looked after, on a
plan; and in need = the first two added up). A sum over stocks that the flows tables hide can give
one of them away: with the foster care stock hidden beside a small secure-unit stock, the looked
after total minus the published stocks is the hidden pair's sum, and the pair's own lines may do
the rest. The audit of the 31 March boundary counts these totals as published where it can make
the two quarters safe with them (`quarter_links.year_end_pair`: then the Overview shows them as
they are); elsewhere the flows tables keep their pattern (they are what `journeys flows` prints)
and the Overview hides more of its 31 March figures until an attacker who knows all three cannot
pin any hidden entry any closer than the flows tables alone allow (`audit.audit_hidden`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from journeys.audit import audit_hidden
from journeys.flows import NOT_KNOWN
from journeys.suppress import SuppressedTable
from journeys.systems import TableSystem

#: The headline figure that is the sum of two others (children in need include the looked after).
SUM_OF_PARTS = ("children_in_need_31_march", ("looked_after_31_march", "children_in_need_not_looked_after_31_march"))


def protect_year_end(counts: pd.Series, hidden: pd.Series, sums: Mapping[str, list[str]],
                     ending: tuple[pd.DataFrame, SuppressedTable] | None,
                     starting: tuple[pd.DataFrame, SuppressedTable] | None, threshold: int) -> pd.Series:
    """`hidden` (by measure) with more 31 March figures hidden, so that they and the flows tables are safe together.

    `counts`: exact headline counts by measure; `sums`: for each 31 March measure, the stages whose
    stocks it adds up; `ending` / `starting`: (exact counts, published table) of the quarters that end
    on 31 March and start on 1 April, where there are any.
    """
    figures = [m for m in [*sums, SUM_OF_PARTS[0]] if m in counts.index]
    if not figures or (ending is None and starting is None):
        return hidden
    system = TableSystem()
    stocks: dict[str, int] = {}
    for part, side in ((ending, 1), (starting, 0)):
        if part is not None:
            margins = system.add_table(*part)[side]
            for stage, entry in margins.items():
                if stage != NOT_KNOWN:  # not known at the end of March is not 'not known' at the start of April
                    if stage in stocks:  # the same children in both tables
                        system.same(stocks[stage], entry)
                    stocks.setdefault(stage, entry)
    before = len(system.values)
    own = dict(zip(figures, system.add(counts[figures].to_numpy(), hidden[figures].to_numpy()).tolist()))
    for measure, stages in sums.items():
        if measure in own:
            members = np.array([stocks[s] for s in stages if s in stocks], dtype=np.int64)
            system.lines.append((members, own[measure]))
    total, parts = SUM_OF_PARTS
    if all(m in own for m in (total, *parts)):
        system.lines.append((np.array([own[m] for m in parts]), own[total]))
    values, shut = system.arrays()
    flows_lines = [line for line in system.lines if line[1] < before and not np.any(line[0] >= before)]
    already = set(audit_hidden(values[:before], shut[:before], flows_lines, threshold, set()))
    mine = set(own.values())  # a hidden figure the flows tables already show is no secret: not audited
    hidden_stocks = {m: any(shut[stocks[s]] for s in sums.get(m, []) if s in stocks) for m in own}
    hidden_stocks[total] = any(hidden_stocks.get(m, False) for m in parts)
    passed = set(mine)  # grows as entries pass: hiding more only widens
    while audit_hidden(values, shut, system.lines, threshold, passed, first_only=True, ignore=already):
        # only a figure adding up hidden stocks can give one away: hide the smallest of those first
        published = [e for m, e in own.items() if not shut[e] and values[e] > 0 and hidden_stocks[m]]
        if not published:
            break
        shut[min(published, key=lambda e: (values[e], e))] = True
    out = hidden.copy()
    for measure, entry in own.items():
        out[measure] = bool(shut[entry])
    return out
