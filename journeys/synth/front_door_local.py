"""The front-door steps (generate_front_door) as riverside's and westmoor's own extracts, each with its own codes.

riverside: `front_door.csv` (UTF-8, ISO dates), a row per step, codes such as CONT, EH, REF, ASMT, CIN, CINP,
S47, CPP and outcomes such as NFA, EH-CLOSE, CLOSED; person ids as in its placements extract. westmoor:
`front_door.xlsx`, sheet 'Front door', real Excel dates, numeric codes grouped its own way (F50 for every
kind of child-in-need work; two contact codes and two early help codes); person ids and localities as in
its care history. Only the last step of a case carries an outcome.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from journeys.synth import front_door_tables as F
from journeys.synth.cin import generate_cin
from journeys.synth.front_door import generate_front_door
from journeys.synth.local import (RIVERSIDE_DATA_START, WESTMOOR_DATA_START, WESTMOOR_LOCALITIES,
                                  WESTMOOR_LOCALITY_SHARES, WESTMOOR_STREAM, _noisy_codes, westmoor_localities)
from journeys.synth.ssda903 import format_dates
from journeys.synth.xlsx import write_xlsx

RIVERSIDE_COLUMNS = ("ClientRef", "StepType", "StepStart", "StepEnd", "StepOutcome", "Team", "ContactSource")
WESTMOOR_COLUMNS = ("Person ID", "Step Type", "Step Start", "Step End", "Step Outcome", "Locality")
WESTMOOR_SHEET = "Front door"
LOCAL_STREAM = 0x4644  # the writers' own draws (teams, MASH and family-support codes, noise)


def _codes(values: pd.Series, names: tuple[str, ...], codes: tuple[str, ...]) -> np.ndarray:
    """Shared step or outcome names (None for none) as the council's codes ('' for none)."""
    table = dict(zip(names, codes))
    return values.astype("object").map(table).fillna("").to_numpy(dtype=object)


def riverside_front_door_rows(steps: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """riverside's front-door extract from generate_front_door's steps (all text, blank = none)."""
    rng = np.random.default_rng([seed, LOCAL_STREAM, 1])
    kind = steps["step"].cat.codes.to_numpy(dtype=np.int64)
    team_no = rng.integers(1, F.RIVERSIDE_TEAM_NUMBERS + 1, int(steps["case"].max()) + 1 if len(steps) else 0)
    templates = np.asarray(F.RIVERSIDE_TEAMS, dtype=object)[kind]
    numbers = team_no[steps["case"].to_numpy()].astype(str)
    team = pd.Series(templates, dtype="str").str.replace("{n}", "", regex=False)
    numbered = pd.Series(templates, dtype="str").str.contains("{n}", regex=False).to_numpy()
    team = team.where(~numbered, team + numbers)
    code = pd.Series(_codes(steps["step"], F.STEPS, F.RIVERSIDE_STEPS), dtype="str")
    return pd.DataFrame({
        "ClientRef": "RV" + steps["child"].astype("str"),
        "StepType": _noisy_codes(rng, code, *F.RIVERSIDE_NOISE),
        "StepStart": format_dates(steps["start"], "%Y-%m-%d"),
        "StepEnd": format_dates(steps["end"], "%Y-%m-%d"),
        "StepOutcome": _codes(steps["outcome"], F.OUTCOMES, F.RIVERSIDE_OUTCOMES),
        "Team": team.to_numpy(dtype=object),
        "ContactSource": steps["source"].fillna("").to_numpy(dtype=object),
    }, columns=list(RIVERSIDE_COLUMNS))


def _one_row_per_cin_spell(steps: pd.DataFrame) -> pd.DataFrame:
    """Child-in-need steps of a case that follow on (support, then a plan) as one row: westmoor has one code."""
    cin = steps["step"].isin(["child_in_need", "cin_plan"]).to_numpy()
    case, start, end = steps["case"].to_numpy(), steps["start"].to_numpy(), steps["end"].to_numpy()
    joins = np.r_[False, cin[1:] & cin[:-1] & (case[1:] == case[:-1]) & (start[1:] == end[:-1]) &
                  steps["outcome"].isna().to_numpy()[:-1]]
    group = np.cumsum(~joins) - 1
    first = np.flatnonzero(~joins)
    last = np.r_[first[1:] - 1, len(steps) - 1] if len(first) else first
    out = steps.iloc[first].reset_index(drop=True)
    tail = steps.iloc[last].reset_index(drop=True)
    out["end"], out["outcome"] = tail["end"].to_numpy(), tail["outcome"].to_numpy()
    out["step"] = out["step"].where(~pd.Series(np.bincount(group) > 1), "child_in_need")
    return out


def westmoor_front_door_rows(steps: pd.DataFrame, header: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """westmoor's front-door extract from generate_front_door's steps (dates as datetimes, NaT/None = blank).

    Children in care keep the locality of their care history (the same draw); the others get their own.
    Child-in-need support and the plan that follows it without a gap are one F50 row.
    """
    steps = _one_row_per_cin_spell(steps)
    rng = np.random.default_rng([seed, LOCAL_STREAM, 2])
    kind = steps["step"].cat.codes.to_numpy(dtype=np.int64)
    code = _codes(steps["step"], F.STEPS, F.WESTMOOR_STEPS)
    u = rng.random(len(steps))
    code = np.where((kind == F.CONTACT) & (u < F.P_WESTMOOR_MASH), F.WESTMOOR_MASH, code)
    code = np.where((kind == F.EARLY_HELP) & (u < F.P_WESTMOOR_FAMILY_SUPPORT), F.WESTMOOR_FAMILY_SUPPORT, code)
    care_locality = westmoor_localities(np.random.default_rng([seed, WESTMOOR_STREAM]), header)
    child = steps["child"].astype("str")
    children = pd.Index(child.unique())
    own = np.asarray(WESTMOOR_LOCALITIES, dtype=object)[rng.choice(3, size=len(children), p=WESTMOOR_LOCALITY_SHARES)]
    locality = pd.Series(own, index=children)
    in_care = children.isin(care_locality.index)
    locality[in_care] = care_locality.loc[children[in_care]].to_numpy()
    outcome = _codes(steps["outcome"], F.OUTCOMES, F.WESTMOOR_OUTCOMES)
    outcome[outcome == ""] = None
    return pd.DataFrame({
        "Person ID": child.astype("int64").to_numpy() + 600_000,
        "Step Type": code,
        "Step Start": steps["start"].to_numpy(),
        "Step End": steps["end"].to_numpy(),
        "Step Outcome": outcome,
        "Locality": locality.loc[child].to_numpy(),
    }, columns=list(WESTMOOR_COLUMNS))


def local_steps(episodes: pd.DataFrame, header: pd.DataFrame, seed: int, data_start: dt.date) -> pd.DataFrame:
    """The steps of a local extract: CIN_ONLY_PER_CARE_CHILD children only referred per child in care."""
    cin = generate_cin(episodes, header, seed=seed, n_cin_only_children=F.CIN_ONLY_PER_CARE_CHILD * len(header))
    return generate_front_door(episodes, header, seed=seed, cin=cin, data_start=data_start)


def write_riverside_front_door(episodes: pd.DataFrame, header: pd.DataFrame, out_dir: Path,
                               seed: int = 1) -> list[Path]:
    """riverside/front_door.csv: UTF-8, CRLF line ends, ISO dates, blank end while open."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "front_door.csv"
    steps = local_steps(episodes, header, seed, RIVERSIDE_DATA_START)
    riverside_front_door_rows(steps, seed).to_csv(path, index=False, encoding="utf-8", lineterminator="\r\n")
    return [path]


def write_westmoor_front_door(episodes: pd.DataFrame, header: pd.DataFrame, out_dir: Path,
                              seed: int = 1) -> list[Path]:
    """westmoor/front_door.xlsx: sheet 'Front door', Excel dates (dd/mm/yyyy), blank end while open."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "front_door.xlsx"
    steps = local_steps(episodes, header, seed, WESTMOOR_DATA_START)
    write_xlsx(westmoor_front_door_rows(steps, header, seed), path, sheet=WESTMOOR_SHEET)
    return [path]
