"""Care Journeys: children's journeys through social care, from episode histories to transition graphs.

The core library: it never imports dash (the app lives in `journeys.ui`), so the CLI, tests and
other tools use it without a web stack.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from journeys.config import PathwayConfig, Rule, load_config
from journeys.errors import BuildError, ConfigError, InputError, JourneysError
from journeys.issues import PROBLEMS, Problem
from journeys.stages import Stage, StageModel, load_stage_model
from journeys.transitions import build_transitions, transition_graph

if _TYPE_CHECKING:
    from journeys.pipeline import BuildResult, run_pipeline


_LAZY = ("BuildResult", "run_pipeline")


def __getattr__(name: str) -> _Any:
    """The pipeline loads on first use (it brings pandera): the app starting from a cache never needs it."""
    if name in _LAZY:
        from journeys import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'journeys' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])

__all__ = [
    "PROBLEMS",
    "BuildError",
    "BuildResult",
    "ConfigError",
    "InputError",
    "JourneysError",
    "PathwayConfig",
    "Problem",
    "Rule",
    "Stage",
    "StageModel",
    "build_transitions",
    "load_config",
    "load_stage_model",
    "run_pipeline",
    "transition_graph",
]
