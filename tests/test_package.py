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
