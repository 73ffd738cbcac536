"""The shared stage model: the stages, outcomes and pseudo-stages every config maps onto."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from journeys.yamlio import load_model

#: Pseudo-stages the pipeline itself writes; the stage model must define them.
ENTRY = "entry"
BEFORE_DATA = "before_data"
OPEN = "open"
UNKNOWN_EXIT = "unknown_exit"
PSEUDO_STAGES = (ENTRY, BEFORE_DATA, OPEN)

DEFAULT_STAGE_MODEL = Path(__file__).resolve().parent.parent / "pathway_configs" / "stage_model.yaml"


class StageGroup(BaseModel):
    """A band of related stages (front door, in care, ...), used for layout and legends."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str


class Stage(BaseModel):
    """One stage, outcome or pseudo-stage of a journey."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Stable identifier used in every output.")
    label: str = Field(description="What users see.")
    group: str
    kind: Literal["stage", "outcome", "pseudo"] = "stage"
    order: int = Field(description="Position in charts; unique.")
    colour: str = Field(pattern=r"^#[0-9A-Fa-f]{6}$")
    precedence: int = Field(0, description="When sources overlap in time, the higher stage counts.")

    @property
    def terminal(self) -> bool:
        """Outcomes end a journey."""
        return self.kind == "outcome"


class StageModel(BaseModel):
    """The versioned set of stages; see pathway_configs/stage_model.yaml."""

    model_config = ConfigDict(extra="forbid")
    _cache: tuple[Any, ...] | None = PrivateAttr(default=None)
    version: str
    groups: list[StageGroup]
    stages: list[Stage]

    @field_validator("stages")
    @classmethod
    def _unique(cls, stages: list[Stage]) -> list[Stage]:
        ids = [s.id for s in stages]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"stage ids must be unique; repeated: {', '.join(dupes)}")
        orders = [s.order for s in stages]
        if len(set(orders)) != len(orders):
            raise ValueError("stage 'order' values must be unique so charts have one stable order")
        return stages

    @model_validator(mode="after")
    def _consistent(self) -> StageModel:
        groups = {g.id for g in self.groups}
        for stage in self.stages:
            if stage.group not in groups:
                raise ValueError(f"stage '{stage.id}' names group '{stage.group}', which is not "
                                 f"among the groups: {', '.join(sorted(groups))}")
        missing = [p for p in (*PSEUDO_STAGES, UNKNOWN_EXIT) if p not in self.ids]
        if missing:
            raise ValueError(f"the stage model must define {', '.join(missing)}: the pipeline writes them")
        return self

    @property
    def ids(self) -> list[str]:
        """Stage ids in chart order."""
        return list(self._lookup()[0])

    def get(self, stage_id: str) -> Stage:
        """The stage with this id (KeyError if unknown)."""
        return self._lookup()[1][stage_id]

    def of_kind(self, kind: str) -> list[str]:
        """Ids of the stages of one kind, in chart order."""
        return list(self._lookup()[2].get(kind, ()))

    def __eq__(self, other: object) -> bool:
        """Equal when the fields are (the lookup cache is not part of the model)."""
        if not isinstance(other, StageModel):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, as pydantic models are

    def _lookup(self) -> tuple[tuple[str, ...], dict[str, Stage], dict[str, tuple[str, ...]]]:
        """Ids in chart order, stages by id and ids by kind, worked out once per list of stages (the views ask
        thousands of times a filter change)."""
        # the field and the private cache read directly: pydantic's attribute lookups cost more than the rest
        # of this (~300 calls a view)
        stages = self.__dict__["stages"]
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]  # set: a private attribute
        cache = private["_cache"]
        if cache is None or cache[0] is not stages or cache[1] != len(stages):
            ordered = tuple(s.id for s in sorted(stages, key=lambda s: s.order))
            by_id = {s.id: s for s in stages}
            kinds: dict[str, tuple[str, ...]] = {}
            for stage_id in ordered:
                kinds[by_id[stage_id].kind] = (*kinds.get(by_id[stage_id].kind, ()), stage_id)
            private["_cache"] = cache = (stages, len(stages), ordered, by_id, kinds)
        return cache[2], cache[3], cache[4]


def load_stage_model(path: Path | None = None) -> StageModel:
    """Load and check the stage model (the shipped one by default)."""
    return load_model(path or DEFAULT_STAGE_MODEL, StageModel, "stage model")
