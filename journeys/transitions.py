"""Transitions between stages, and the networkx graph of stage -> stage with counts and median days."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from journeys.stages import BEFORE_DATA, ENTRY, StageModel

if TYPE_CHECKING:  # networkx is imported when a graph is made: a build that writes none need not load it
    import networkx as nx

TRANSITION_COLUMNS = ["person_id", "authority", "journey_no", "step", "from_stage", "to_stage", "date",
                      "days_in_from"]


def build_transitions(spells: pd.DataFrame) -> pd.DataFrame:
    """Every move into a stage (step k), plus each journey's last move to its outcome or `open`.

    `days_in_from` is the time spent in `from_stage` before the move (none for entry/before_data).
    """
    first = spells["step"] == 1
    prev_stage = spells["stage"].shift()
    prev_start = spells["start"].shift()
    into = pd.DataFrame({
        "person_id": spells["person_id"], "authority": spells["authority"], "journey_no": spells["journey_no"],
        "step": spells["step"],
        "from_stage": np.where(first, np.where(spells["left_truncated"], BEFORE_DATA, ENTRY), prev_stage),
        "to_stage": spells["stage"], "date": spells["start"],
        "days_in_from": (spells["start"] - prev_start).dt.days.where(~first).astype("Int64"),
        "_order": 0,
    })
    last = spells[spells["step"].shift(-1, fill_value=1).eq(1).to_numpy()]
    out = pd.DataFrame({
        "person_id": last["person_id"], "authority": last["authority"], "journey_no": last["journey_no"],
        "step": last["step"] + 1, "from_stage": last["stage"], "to_stage": last["next_stage"],
        "date": last["end"], "days_in_from": (last["end"] - last["start"]).dt.days.astype("Int64"), "_order": 1,
    })
    both = pd.concat([into, out])
    # by child, journey, step and (a journey's last move after its last step): a stable sort on integers, the
    # pseudonyms numbered in their text order (sorting a million texts cost more than the rest of this)
    person, _ = pd.factorize(both["person_id"], sort=True)
    both = both.iloc[np.lexsort((both["_order"].to_numpy(), both["step"].to_numpy(), both["journey_no"].to_numpy(),
                                 person))]
    for col in ("from_stage", "to_stage"):
        both[col] = both[col].astype("str")
    return both.drop(columns="_order").reset_index(drop=True)[TRANSITION_COLUMNS]


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
