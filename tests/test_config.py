"""Configs: every shipped one fits the model, schemas are current, broken ones say where and how to fix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from journeys.config import load_config
from journeys.errors import ConfigError
from journeys.schema import SCHEMA_DIR, SCHEMAS, schema_text
from journeys.stages import load_stage_model

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted(p for p in (ROOT / "pathway_configs").glob("*.yaml") if p.name != "stage_model.yaml")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_loads(path: Path) -> None:
    config = load_config(path)
    assert config.authority == path.stem


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_json_schema_is_current(name: str) -> None:
    assert (SCHEMA_DIR / name).read_text(encoding="utf-8") == schema_text(name), \
        "run `python -m journeys.schema` and commit the result"


def test_stage_model_has_pseudo_stages_in_order() -> None:
    model = load_stage_model()
    assert model.ids[:2] == ["entry", "before_data"] and model.ids[-1] == "open"
    assert model.get("adopted").terminal and not model.get("foster_other").terminal
    assert model.get("foster_other").precedence > model.get("child_protection").precedence


def test_stage_model_lookups_are_remembered_but_follow_edits() -> None:
    """ids, get and of_kind are worked out once per list of stages; equality ignores that cache."""
    model, other = load_stage_model(), load_stage_model()
    outcomes = model.of_kind("outcome")
    assert model == other and outcomes == other.of_kind("outcome") and "adopted" in outcomes
    edited = model.model_copy(deep=True)
    edited.stages = [s for s in edited.stages if s.id != "adopted"]
    assert "adopted" not in edited.of_kind("outcome") and "adopted" in model.of_kind("outcome")
    assert edited != model
    with pytest.raises(KeyError):
        edited.get("adopted")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "council.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = """authority: council
config_version: "1"
stage_model_version: "1"
source: {format: ssda903}
rules:
  - {column: PLACE, equals: [U4], stage: foster_other}
"""


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE + "  - {column: PLACE, equals: [U1], stage: foster_kinship\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}, line 8") and "flow mapping that starts on line 7" in message
    assert "To fix this" in message


def test_rule_without_action_names_line(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE + "  - {column: PLACE, equals: [U1]}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "line 7, rules[1]" in str(err.value)
    assert "exactly one of 'stage', 'outcome'" in str(err.value)


def test_unknown_stage_lists_known_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace("foster_other", "fostering"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "'fostering', which the stage model does not define" in str(err.value)
    assert "foster_other" in str(err.value)


def test_outcome_used_as_stage_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace("stage: foster_other", "stage: adopted"))
    with pytest.raises(ConfigError, match="uses 'adopted' as a stage, but it is an outcome"):
        load_config(path)


def test_local_source_needs_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace("{format: ssda903}", "{format: local}"))
    with pytest.raises(ConfigError, match="a local extract needs 'columns'"):
        load_config(path)


def test_rule_codes_are_normalised() -> None:
    config = load_config(ROOT / "pathway_configs" / "ssda903.yaml")
    rule = config.rules[2]
    assert rule.matches("U1") and not rule.matches("U4")


def test_local_legal_status_codes_must_name_dfe_codes(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE + "legal_status_codes: {S20: V2, FCO: X9}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "legal_status_codes maps FCO to 'X9', which is not a DfE legal status code" in str(err.value)
    assert "C1, C2" in str(err.value)  # the codes it may use
    config = load_config(_write(tmp_path, BASE + "legal_status_codes: {' s20 ': v2}\n"))
    assert config.legal_status_codes == {"S20": "V2"}  # compared trimmed and in capitals, as rule codes are


def test_samples_legal_statuses_are_dfe_categories() -> None:
    """riverside and westmoor record legal status in their own codes; their configs map every one to a DfE code."""
    from journeys.attributes import LEGAL_STATUS_LABELS
    from journeys.mapping import legal_statuses

    for name, column, codes in (("riverside", "LegalBasis", ["S20", "FCO", "ICO", "PO", "S20-SB", "EPO", "POLICE-PROT",
                                                            "REMAND", "YRO", "PACE"]),
                                ("westmoor", "Legal Status", ["S31 CO", "S20", "S38 ICO", "S21 PO", "S20 SB", "EPO",
                                                              "Remand", "PPO", "YRO", "PACE", "CAO"])):
        config = load_config(ROOT / "pathway_configs" / f"{name}.yaml")
        assert config.source.columns is not None and config.source.columns.legal_status == column
        mapped = legal_statuses(pd.Series(codes), config.legal_status_codes)
        assert set(mapped) <= set(LEGAL_STATUS_LABELS), name
