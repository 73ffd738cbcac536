"""The public API is deliberate, and the core never imports the web stack."""

from __future__ import annotations

import subprocess
import sys

import journeys


def test_exported_members_are_listed() -> None:
    public = {name for name in dir(journeys) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(journeys, name)).__name__ == "module"}
    assert public - modules == set(journeys.__all__)


def test_import_journeys_does_not_import_dash() -> None:
    code = "import sys, journeys, journeys.pipeline, journeys.cli; sys.exit('dash' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_benchmarks_yardsticks_never_reach_the_shipped_tool() -> None:
    """pm4py (AGPL-3.0) and DuckDB are benchmark yardsticks only: no shipped requirement names them, no module imports them."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    shipped = (root / "requirements.txt").read_text() + (root / "pyproject.toml").read_text()
    bench = (root / "benchmarks" / "requirements.txt").read_text()
    for package in ("pm4py", "duckdb"):
        assert package in bench
        assert package not in shipped.lower()
        importing = [p.relative_to(root) for p in (root / "journeys").rglob("*.py")
                     if f"import {package}" in p.read_text() or f"from {package}" in p.read_text()]
        assert not importing, f"{package} imported by {importing}"
    code = "import sys, journeys, journeys.pipeline, journeys.cli, journeys.ui; sys.exit('pm4py' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
