"""The data contracts of DESIGN 2 as pandera schemas: every build's outputs are checked against them."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from journeys.errors import BuildError
from journeys.stages import BEFORE_DATA, ENTRY, OPEN, StageModel


def _one_of(values: list[str]) -> pa.Check:
    return pa.Check.isin(values)


def spell_schema(model: StageModel) -> pa.DataFrameSchema:
    """Spells: one row per child per continuous stay in one stage."""
    stages = model.of_kind("stage")
    return pa.DataFrameSchema({
        "person_id": pa.Column(str, nullable=False),
        "authority": pa.Column(str, nullable=False),
        "journey_no": pa.Column("int32", pa.Check.ge(1)),
        "step": pa.Column("int32", pa.Check.ge(1)),
        "stage": pa.Column(str, _one_of(stages)),
        "start": pa.Column("datetime64[us]", nullable=False),
        "end": pa.Column("datetime64[us]", nullable=False),
        "next_stage": pa.Column(str, _one_of([*stages, *model.of_kind("outcome"), OPEN])),
        "moves": pa.Column("int32", pa.Check.ge(0)),
        "left_truncated": pa.Column(bool),
        "re_entry": pa.Column(bool),
    }, checks=pa.Check(lambda df: df["end"] >= df["start"], name="end-on-or-after-start"), strict=False,
        coerce=False)


def transition_schema(model: StageModel) -> pa.DataFrameSchema:
    """Transitions: from a stage (or entry/before_data) to a stage, outcome or open."""
    stages, outcomes = model.of_kind("stage"), model.of_kind("outcome")
    return pa.DataFrameSchema({
        "person_id": pa.Column(str, nullable=False),
        "journey_no": pa.Column("int32", pa.Check.ge(1)),
        "step": pa.Column("int32", pa.Check.ge(1)),
        "from_stage": pa.Column(str, _one_of([ENTRY, BEFORE_DATA, *stages])),
        "to_stage": pa.Column(str, _one_of([*stages, *outcomes, OPEN])),
        "date": pa.Column("datetime64[us]", nullable=False),
    }, checks=pa.Check(lambda df: df["from_stage"] != df["to_stage"], name="moves-to-another-stage"), strict=False)


def check_outputs(spells: pd.DataFrame, transitions: pd.DataFrame, model: StageModel) -> None:
    """Refuse to hand over outputs that break the contracts (a fault of ours, never of the data)."""
    for name, frame, schema in (("spells", spells, spell_schema(model)),
                                ("transitions", transitions, transition_schema(model))):
        try:
            schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as exc:
            cases = exc.failure_cases.head(5)[["column", "check", "failure_case"]].to_dict("records")
            raise BuildError(f"the {name} table broke its data contract ({len(exc.failure_cases)} failures, "
                             f"first: {cases}); this is a fault in Care Journeys, not in your data",
                             fix="report it to the maintainers with this message (it holds no child data).") from None
