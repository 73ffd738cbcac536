"""Pathway configs: how one authority's codes map onto the shared stage model (typed, with a JSON Schema)."""

from __future__ import annotations

import datetime as dt
import fnmatch
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from journeys.errors import ConfigError
from journeys.stages import StageModel, load_stage_model
from journeys.yamlio import load_model, locate

#: SSDA903 episode columns and the canonical column each becomes.
SSDA903_EPISODE_COLUMNS = {
    "CHILD": "person_id", "DECOM": "start", "RNE": "rne", "LS": "legal_status", "CIN": "need_code",
    "PLACE": "code", "PLACE_PROVIDER": "place_provider", "DEC": "end", "REC": "exit_code",
    "REASON_PLACE_CHANGE": "reason_place_change", "HOME_POST": "home_post", "PL_POST": "pl_post",
    "URN": "urn",
}
SSDA903_HEADER_COLUMNS = {"CHILD": "person_id", "SEX": "sex", "DOB": "birth_date", "ETHNIC": "ethnicity",
                          "UPN": "upn", "MOTHER": "mother", "MC_DOB": "mc_dob"}


def _as_list(value: str | list[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else value


class LocalColumns(BaseModel):
    """Which column of a local extract holds each canonical field."""

    model_config = ConfigDict(extra="forbid")
    person_id: str
    start: str
    end: str
    code: str
    exit_code: str | None = None
    sex: str | None = None
    birth_date: str | None = None
    ethnicity: str | None = None
    legal_status: str | None = None
    need_code: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict,
                                       description="Further cohort attributes: canonical name -> column.")

    def mapping(self) -> dict[str, str]:
        """Source column -> canonical name, for the columns that are named."""
        named = {k: v for k, v in self.model_dump(exclude={"attributes"}).items() if v}
        out = {v: k for k, v in named.items()}
        out.update({col: name for name, col in self.attributes.items()})
        return out


class NewPeriod(BaseModel):
    """A column whose values mark the start of a new period (SSDA903: RNE = S)."""

    model_config = ConfigDict(extra="forbid")
    column: str
    values: list[str]


class Source(BaseModel):
    """Where the data comes from and how to read it."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["ssda903", "local"]
    date_format: str = Field("%d/%m/%Y", description="strptime format; ISO dates are also accepted.")
    extract_date: dt.date | None = Field(None, description="Censoring date; else the return's 31 March.")
    return_year: int | None = Field(None, description="Collection year (the year of its 31 March) of "
                                                      "every file; else inferred per file.")
    columns: LocalColumns | None = Field(None, description="Required for local extracts.")
    new_period: NewPeriod | None = None
    continuation_codes: list[str] = Field(default_factory=lambda: ["X1"],
                                          description="End reasons meaning 'a new episode starts the same day'.")
    data_start: dt.date | None = Field(None, description="Journeys whose first episode starts before this "
                                                         "date are treated as already under way.")

    @model_validator(mode="after")
    def _columns_for_local(self) -> Source:
        if self.format == "local" and self.columns is None:
            raise ValueError("a local extract needs 'columns' naming its person_id, start, end and code columns")
        if self.format == "ssda903" and self.new_period is None:
            self.new_period = NewPeriod(column="RNE", values=["S"])
        return self


class Rule(BaseModel):
    """Match one column by value, prefix or glob; then map to a stage or outcome, absorb, or ignore."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, description="Shown in reports, e.g. in ignored_by_rule.")
    source: Literal["cin", "front_door"] | None = Field(
        None, description="Rows the rule applies to: the config's own source (default), CIN census rows (cin) "
                          "or the local front-door extract (front_door).")
    column: str
    equals: list[str] | None = None
    prefix: list[str] | None = None
    glob: list[str] | None = None
    stage: str | None = None
    outcome: str | None = None
    detail: str | None = Field(None, description="Outcome detail kept apart, e.g. planned/unplanned.")
    absorb: bool = Field(False, description="The episode continues the stage before it (temporary moves).")
    ignore: bool = Field(False, description="Leave the episode out of journeys (e.g. short breaks).")

    @field_validator("equals", "prefix", "glob", mode="before")
    @classmethod
    def _normalise(cls, value: str | list[str] | None) -> list[str] | None:
        """Codes are compared trimmed and in capitals, as the loaders normalise them."""
        values = _as_list(value)
        return None if values is None else [str(v).strip().upper() for v in values]

    @model_validator(mode="after")
    def _one_of_each(self) -> Rule:
        matchers = [m for m in ("equals", "prefix", "glob") if getattr(self, m) is not None]
        if len(matchers) != 1:
            raise ValueError("a rule needs exactly one of 'equals', 'prefix' or 'glob'")
        actions = [a for a in ("stage", "outcome") if getattr(self, a)] + \
                  [a for a in ("absorb", "ignore") if getattr(self, a)]
        if len(actions) != 1:
            raise ValueError("a rule needs exactly one of 'stage', 'outcome', 'absorb: true' or 'ignore: true'")
        return self

    @property
    def action(self) -> str:
        """stage, outcome, absorb or ignore."""
        return "stage" if self.stage else "outcome" if self.outcome else "absorb" if self.absorb else "ignore"

    @property
    def label(self) -> str:
        """The rule's name, or a description made from its match."""
        if self.name:
            return self.name
        kind = "equals" if self.equals else "prefix" if self.prefix else "glob"
        values = self.equals or self.prefix or self.glob or []
        return f"{self.column} {kind} {', '.join(values)}"

    def matches(self, value: str) -> bool:
        """Whether one (normalised) value matches; the pipeline applies this to distinct values only."""
        if self.equals is not None:
            return value in self.equals
        if self.prefix is not None:
            return any(value.startswith(p) for p in self.prefix)
        return any(fnmatch.fnmatchcase(value, g) for g in self.glob or [])


class CinSource(BaseModel):
    """CIN census returns given alongside the config's own source (joined-up journeys)."""

    model_config = ConfigDict(extra="forbid")
    extract_date: dt.date | None = Field(None, description="Censoring date; else the latest census date.")


class FrontDoorSource(BaseModel):
    """A local front-door extract (contacts, early help, referrals, assessments, plans): one row per step."""

    model_config = ConfigDict(extra="forbid")
    date_format: str = Field("%d/%m/%Y", description="strptime format; ISO dates are also accepted.")
    extract_date: dt.date | None = Field(None, description="Censoring date; else the config's extract date.")
    columns: LocalColumns = Field(description="person_id, start, end and code (the step type); exit_code for "
                                              "how the step ended.")
    data_start: dt.date | None = Field(None, description="Steps starting before this date were already under way.")


class PathwayConfig(BaseModel):
    """One authority's pathway config (pathway_configs/<authority>.yaml)."""

    model_config = ConfigDict(extra="forbid")
    authority: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str | None = None
    config_version: str
    stage_model_version: str
    source: Source
    cin: CinSource = Field(default_factory=lambda: CinSource(extract_date=None), description="Settings for CIN census inputs.")
    front_door: FrontDoorSource | None = Field(None, description="A local front-door extract given with the "
                                                                 "care data (rules with source: front_door).")
    merge_gap_days: int = Field(1, ge=0, description="Gaps between episodes up to this many days do "
                                                     "not break a journey.")
    rules: list[Rule]
    cohort_attributes: list[str] = Field(default_factory=lambda: ["sex", "ethnicity", "legal_status",
                                                                  "need_code"])
    legal_status_codes: dict[str, str] = Field(
        default_factory=dict, description="Local legal-status codes and the DfE LS code each means (S20: V2), so "
                                          "the legal-status filter offers the DfE categories.")

    @field_validator("legal_status_codes")
    @classmethod
    def _dfe_legal_statuses(cls, codes: dict[str, str]) -> dict[str, str]:
        from journeys.attributes import LEGAL_STATUS_LABELS

        wrong = {local: dfe for local, dfe in codes.items() if str(dfe).strip().upper() not in LEGAL_STATUS_LABELS}
        if wrong:
            raise ValueError(f"legal_status_codes maps {', '.join(f'{k} to {v!r}' for k, v in wrong.items())}, which "
                             f"{'is not a' if len(wrong) == 1 else 'are not'} DfE legal status code"
                             f"{'' if len(wrong) == 1 else 's'}; use one of {', '.join(LEGAL_STATUS_LABELS)}")
        return {str(local).strip().upper(): str(dfe).strip().upper() for local, dfe in codes.items()}

    def column_names(self, source: str | None = None) -> dict[str, str]:
        """Source column name -> canonical name, for this config's format (or its front-door extract)."""
        if source == "front_door" and self.front_door is not None:
            return self.front_door.columns.mapping()
        if source == "cin":
            return {}
        if self.source.format == "ssda903":
            return dict(SSDA903_EPISODE_COLUMNS)
        assert self.source.columns is not None
        return self.source.columns.mapping()

    def needed_columns(self) -> set[str]:
        """Canonical columns a build keeps: the core ones, every rule's column, the cohort attributes."""
        core = {"person_id", "start", "end", "code", "exit_code", "rne", "legal_status", "need_code", "sex",
                "birth_date", "ethnicity"}
        local = set(self.source.columns.attributes) if self.source.columns else set()
        return core | local | {self.canonical(r.column, r.source) for r in self.rules} | set(self.cohort_attributes)

    def canonical(self, column: str, source: str | None = None) -> str:
        """The canonical name of a column a rule names (source names and canonical names both work)."""
        names = self.column_names(source)
        if column in names:
            return names[column]
        upper = {k.upper(): v for k, v in names.items()}
        return upper.get(column.upper(), column)


def stage_model_problems(config: PathwayConfig, model: StageModel) -> list[tuple[tuple[int | str, ...], str]]:
    """Where the config disagrees with the stage model: (location in the YAML, what is wrong)."""
    kinds = {s.id: s.kind for s in model.stages}
    problems: list[tuple[tuple[int | str, ...], str]] = []
    if config.stage_model_version != model.version:
        problems.append((("stage_model_version",), f"the config was written for stage model version "
                         f"{config.stage_model_version}, but the stage model is version {model.version}"))
    for i, rule in enumerate(config.rules):
        target = rule.stage or rule.outcome
        want = "stage" if rule.stage else "outcome"
        if target is None:
            continue
        if target not in kinds:
            problems.append((("rules", i, want), f"rules[{i}] ({rule.label}) maps to '{target}', which the stage "
                             f"model does not define; known {want}s: {', '.join(model.of_kind(want))}"))
        elif kinds[target] != want:
            article = "a" if want == "stage" else "an"
            problems.append((("rules", i, want), f"rules[{i}] ({rule.label}) uses '{target}' as {article} {want}, "
                             f"but it is {'a' if kinds[target] == 'stage' else 'an'} {kinds[target]}"))
    return problems


def load_config(path: Path, stage_model: StageModel | None = None) -> PathwayConfig:
    """Load a pathway config and check it against the stage model (errors name the line)."""
    config = load_model(path, PathwayConfig, "pathway config")
    problems = stage_model_problems(config, stage_model or load_stage_model())
    if problems:
        lines = locate(path, [loc for loc, _ in problems])
        said = [f"line {line}: {what}" if line else what for line, (_, what) in zip(lines, problems)]
        raise ConfigError("the config does not fit the stage model:\n  " + "\n  ".join(said), where=str(path),
                          fix="use stage ids from pathway_configs/stage_model.yaml.")
    return config
