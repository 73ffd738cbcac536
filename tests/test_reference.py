"""An independent check: transitions on the synthetic SSDA903 sample equal a plain per-child computation.

The reference below is deliberately naive (dicts and loops, no pandas tricks) and shares no code
with the pipeline, so an error in the vectorised logic shows up as a difference in counts.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from journeys.config import load_config
from journeys.pipeline import run_pipeline

ROOT = Path(__file__).resolve().parent.parent
NORTHGATE = ROOT / "data_samples" / "northgate"
EXTRACT = dt.date(2025, 3, 31)
PLACES = {"foster_kinship": "U1 U2 U3", "foster_other": "U4 U5 U6", "residential": "K2 R1 S1",
          "placed_with_parents": "P1", "placed_for_adoption": "A3 A4 A5 A6", "supported_living": "H5 K3 P2",
          "secure_or_custody": "K1 R5", "other_placement": "Z1 Z11 Z12 Z13 Z14 R2 R3 P3"}
STAGE_OF = {code: stage for stage, codes in PLACES.items() for code in codes.split()}
OUTCOMES = {"E4A": "returned_home", "E4B": "returned_home", "E13": "lives_with_relatives_or_others",
            "E11": "adopted", "E12": "adopted", "E45": "special_guardianship", "E46": "special_guardianship",
            "E47": "special_guardianship", "E48": "special_guardianship", "E41": "child_arrangements_order",
            "E5": "independent_living", "E6": "independent_living", "E17": "turned_18_stayed"}


def _date(text: str) -> dt.date | None:
    return dt.datetime.strptime(text, "%d/%m/%Y").date() if text else None


def reference_transitions(files: list[Path]) -> Counter[tuple[str, str]]:
    """Latest return wins; short breaks out; temporary moves absorbed; X1 chains; merge gaps of a day."""
    latest: dict[tuple[str, dt.date], tuple[int, dict[str, str]]] = {}
    for path in files:
        year = int(path.stem[-7:-3]) + 1
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                key = (row["CHILD"], _date(row["DECOM"]))
                if key not in latest or latest[key][0] < year:
                    latest[key] = (year, row)
    by_child: dict[str, list[dict[str, str]]] = {}
    for (child, _), (_, row) in sorted(latest.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if row["LS"] not in ("V3", "V4"):
            by_child.setdefault(child, []).append(row)
    counts: Counter[tuple[str, str]] = Counter()
    for episodes in by_child.values():
        journey: list[str] = []
        previous = None
        for i, row in enumerate(episodes):
            start, end = _date(row["DECOM"]), _date(row["DEC"])
            if previous is not None:
                prev_end = _date(previous["DEC"])
                continues = previous["REC"] in ("X1", "") and prev_end is not None and \
                    (start - prev_end).days <= 1
                if not continues:
                    _close(journey, previous, counts)
                    journey = []
            if not journey:
                journey = ["entry" if row["RNE"] == "S" else "before_data"]
            stage = STAGE_OF.get(row["PLACE"], journey[-1] if len(journey) > 1 else None)
            if stage is None:  # journey starts with a temporary move: take the next real placement
                stage = next(STAGE_OF[r["PLACE"]] for r in episodes[i:] if r["PLACE"] in STAGE_OF)
            if stage != journey[-1]:
                journey.append(stage)
            previous = row if end is not None and end <= EXTRACT else {**row, "DEC": "", "REC": ""}
        _close(journey, previous, counts)
    return counts


def _close(journey: list[str], last: dict[str, str] | None, counts: Counter[tuple[str, str]]) -> None:
    if not journey or last is None:
        return
    if not last["DEC"]:
        outcome = "open"
    else:
        outcome = OUTCOMES.get(last["REC"], "other_exit" if last["REC"] not in ("X1", "") else "unknown_exit")
    for a, b in zip(journey, journey[1:] + [outcome]):
        counts[(a, b)] += 1


@pytest.mark.skipif(not NORTHGATE.exists(), reason="synthetic samples not present")
def test_transition_counts_match_a_plain_reference() -> None:
    files = sorted(NORTHGATE.glob("ssda903_episodes_*.csv"))
    result = run_pipeline(files, load_config(ROOT / "pathway_configs" / "northgate.yaml"), extract_date=EXTRACT,
                          key="abcdefghijklmnop")
    ours = Counter(zip(result.transitions["from_stage"], result.transitions["to_stage"]))
    assert sum(ours.values()) > 1000
    assert ours == reference_transitions(files)
