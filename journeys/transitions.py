"""Transitions between stages, and the networkx graph of stage -> stage with counts and median days."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from journeys.columns import text_column
from journeys.stages import BEFORE_DATA, ENTRY, StageModel

if TYPE_CHECKING:  # networkx is imported when a graph is made: a build that writes none need not load it
    import networkx as nx

TRANSITION_COLUMNS = ["person_id", "authority", "journey_no", "step", "from_stage", "to_stage", "date",
                      "days_in_from"]


def build_transitions(spells: pd.DataFrame) -> pd.DataFrame:
    """Every move into a stage (step k), plus each journey's last move to its outcome or `open`.

    `days_in_from` is the time spent in `from_stage` before the move (none for entry/before_data). Rows come by
    child (in the pseudonyms' order), journey and step, each journey's last move after its last step. `spells`
    hold each child's spells together, by journey and step, as `build_spells` makes them.
    """
    person = spells["person_id"]
    if not person.is_monotonic_increasing:  # children in their pseudonyms' order; a child's spells keep theirs
        spells = spells.iloc[np.argsort(pd.factorize(person, sort=True)[0], kind="stable")]
    step = spells["step"].to_numpy()
    n = len(spells)
    first = step == 1
    last = np.r_[first[1:], True] if n else first  # the next spell begins a journey, or there is none
    # where each row goes, without a sort: a spell's move in comes after the moves out of the journeys before it
    into_at = np.arange(n) + np.cumsum(last) - last
    out_at = into_at[last] + 1
    size = n + int(last.sum())
    row = np.empty(size, dtype=np.int64)
    row[into_at] = np.arange(n)
    row[out_at] = np.flatnonzero(last)
    leaving = np.zeros(size, dtype=bool)
    leaving[out_at] = True
    # the stages as codes (a few names for a million rows), named once at the end
    codes, names = pd.factorize(pd.concat([spells["stage"], spells["next_stage"]], ignore_index=True))
    stage, next_stage = codes[:n], codes[n:]
    entry, before_data = len(names), len(names) + 1
    came_from = np.where(first, np.where(spells["left_truncated"].to_numpy(dtype=bool), before_data, entry),
                         np.r_[-1, stage[:-1]])
    named = [*map(str, names), ENTRY, BEFORE_DATA]
    start, end = spells["start"], spells["end"]
    days_in = np.where(first, np.nan, (start - start.shift()).dt.days.to_numpy(dtype="float64", na_value=np.nan))
    days_out = (end - start).dt.days.to_numpy(dtype="float64", na_value=np.nan)
    from_codes = np.where(leaving, stage[row], came_from[row])
    to_codes = np.where(leaving, next_stage[row], stage[row])
    return pd.DataFrame({
        "person_id": spells["person_id"].take(row).array,
        "authority": spells["authority"].take(row).array,
        "journey_no": spells["journey_no"].to_numpy()[row],
        "step": step[row] + leaving,
        "from_stage": text_column(named, from_codes),
        "to_stage": text_column(named, to_codes),
        "date": np.where(leaving, end.to_numpy()[row], start.to_numpy()[row]),
        "days_in_from": pd.Series(np.where(leaving, days_out[row], days_in[row])).astype("Int64"),
    })[TRANSITION_COLUMNS]


def transition_graph(transitions: pd.DataFrame, stage_model: StageModel) -> nx.DiGraph:
    """A node per stage (with label, colour, order) and an edge per stage pair with `count` and `median_days`."""
    import networkx as nx

    graph = nx.DiGraph()
    edges = transitions.groupby(["from_stage", "to_stage"], sort=True).agg(
        count=("person_id", "size"), median_days=("days_in_from", "median"))
    used = set(edges.index.get_level_values(0)) | set(edges.index.get_level_values(1))
    for stage_id in stage_model.ids:
        if stage_id in used:
            stage = stage_model.get(stage_id)
            graph.add_node(stage_id, label=stage.label, colour=stage.colour, order=stage.order, kind=stage.kind,
                           group=stage.group)
    for (src, dst), row in edges.iterrows():  # one per stage pair (a few hundred at most), not per child
        median = row["median_days"]
        graph.add_edge(src, dst, count=int(row["count"]),
                       median_days=None if pd.isna(median) else float(median))
    return graph
