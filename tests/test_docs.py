"""Documentation stays true: every CLI command and option, and every issue code, is written down."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from journeys.cli import make_parser
from journeys.issues import PROBLEMS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
ISSUE_DOC = (ROOT / "docs" / "issue-codes.md").read_text(encoding="utf-8")


def _options() -> list[tuple[str, str]]:
    found = []
    parser = make_parser()
    for action in parser._actions:
        found += [("journeys", s) for s in action.option_strings if s.startswith("--") and s != "--help"]
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((name, name))
                for opt in sub._actions:
                    found += [(name, s) for s in opt.option_strings if s.startswith("--") and s != "--help"]
    return found


@pytest.mark.parametrize("command,option", _options())
def test_cli_option_is_in_readme(command: str, option: str) -> None:
    assert option in README, f"`journeys {command}` has {option}, which README.md does not mention"


@pytest.mark.parametrize("code", sorted(PROBLEMS))
def test_issue_code_is_documented(code: str) -> None:
    assert f"`{code}`" in ISSUE_DOC, f"docs/issue-codes.md does not explain {code}"


def test_make_targets_in_readme() -> None:
    for target in ("make run", "make test", "make bench"):
        assert target in README
