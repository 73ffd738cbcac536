"""Shared fixtures: hand-built SSDA903 files and a fixed pseudonymisation key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from journeys.config import load_config
from journeys.pipeline import BuildResult, run_pipeline
from journeys.pseudonymise import pseudonymise

ROOT = Path(__file__).resolve().parent.parent
KEY = "abcdefghijklmnop"
EPISODE_HEADER = ["CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
                  "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN"]


@pytest.fixture(autouse=True)
def _key_file(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's real key file from tests."""
    monkeypatch.setenv("JOURNEYS_KEY_FILE", str(tmp_path_factory.getbasetemp() / "test.key"))


def write_episodes(path: Path, rows: list[tuple[str, ...]]) -> Path:
    """Rows of (CHILD, DECOM, RNE, LS, PLACE, DEC, REC) as a real-format SSDA903 episodes CSV."""
    lines = [",".join(EPISODE_HEADER)]
    for child, decom, rne, ls, place, dec, rec in rows:
        lines.append(",".join([child, decom, rne, ls, "N1", place, "PR1", dec, rec, "", "", "", ""]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def pid(child: str) -> str:
    """The pseudonym a raw child id gets under the test key."""
    return str(pseudonymise(pd.Series([child]), KEY).iloc[0])


@pytest.fixture
def build_903(tmp_path: Path) -> Callable[..., BuildResult]:
    """Write episode rows (one list per file) and build them with the national config."""
    config = load_config(ROOT / "pathway_configs" / "ssda903.yaml")

    def build(*files: list[tuple[str, ...]], extract: dt.date = dt.date(2020, 3, 31),
              names: list[str] | None = None) -> BuildResult:
        paths = [write_episodes(tmp_path / (names[i] if names else f"episodes_{i}.csv"), rows)
                 for i, rows in enumerate(files)]
        return run_pipeline(paths, config, extract_date=extract, key=KEY)

    return build
