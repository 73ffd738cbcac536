"""Care Journeys: children's journeys through social care, from episode histories to transition graphs.

The core library: it never imports dash (the app lives in `journeys.ui`), so the CLI, tests and
other tools use it without a web stack.
"""

from journeys.config import PathwayConfig, Rule, load_config
from journeys.errors import BuildError, ConfigError, InputError, JourneysError
from journeys.issues import PROBLEMS, Problem
from journeys.pipeline import BuildResult, run_pipeline
from journeys.stages import Stage, StageModel, load_stage_model
from journeys.transitions import build_transitions, transition_graph

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
