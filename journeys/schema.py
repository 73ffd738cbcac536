"""JSON Schemas of the pathway config and the stage model, for editors and other tools."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from journeys.config import PathwayConfig
from journeys.stages import StageModel

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "pathway_configs"
SCHEMAS: dict[str, type[BaseModel]] = {"pathway_config.schema.json": PathwayConfig, "stage_model.schema.json": StageModel}


def schema_text(name: str) -> str:
    """The JSON Schema file's content, as written to pathway_configs/."""
    return json.dumps(SCHEMAS[name].model_json_schema(), indent=2, sort_keys=True) + "\n"


def write_schemas(folder: Path = SCHEMA_DIR) -> list[Path]:
    """Write both schemas; a test checks the committed files are current."""
    paths = []
    for name in SCHEMAS:
        path = folder / name
        path.write_text(schema_text(name), encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":  # pragma: no cover
    for p in write_schemas():
        print(f"wrote {p}")
