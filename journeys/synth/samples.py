"""write_samples: the three fictional authorities' files, as `journeys synth` writes them.

northgate also gets CIN census returns (front door: referrals, assessments, plans, s47, CP plans) of the
same children; riverside and westmoor get their case systems' front-door extracts (contacts, early help,
referrals... one row per step, in their own codes) of the same children and of children only referred.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from journeys.synth.cin import generate_cin
from journeys.synth.cin_census import write_cin_census
from journeys.synth.front_door_local import write_riverside_front_door, write_westmoor_front_door
from journeys.synth.generate import generate_care_episodes
from journeys.synth.local import write_riverside, write_westmoor
from journeys.synth.ssda903 import write_ssda903_returns

Writer = Callable[[pd.DataFrame, pd.DataFrame, Path, int], list[Path]]


@dataclass(frozen=True)
class Authority:
    """A fictional authority: how many children it has at scale 1 and how its files are written."""

    name: str
    children: int
    write: Writer


def _write_northgate(episodes: pd.DataFrame, header: pd.DataFrame, out_dir: Path, seed: int) -> list[Path]:
    """SSDA903 returns, then CIN census returns of the same children and of 8 times as many never in care.

    The CIN draws come from their own stream (generate_cin mixes its own tag into the seed) and are made
    after the SSDA903 files are written, so adding them changed none of the SSDA903 bytes.
    """
    paths = write_ssda903_returns(episodes, header, out_dir)
    return paths + write_cin_census(generate_cin(episodes, header, seed=seed), out_dir)


def _write_riverside(episodes: pd.DataFrame, header: pd.DataFrame, out_dir: Path, seed: int) -> list[Path]:
    """The placements extract, then the front-door extract (its own streams: no placements byte moved)."""
    return write_riverside(episodes, header, out_dir, seed) + write_riverside_front_door(episodes, header, out_dir,
                                                                                         seed)


def _write_westmoor(episodes: pd.DataFrame, header: pd.DataFrame, out_dir: Path, seed: int) -> list[Path]:
    """The care history, then the front-door extract (its own streams: no care-history byte moved)."""
    return write_westmoor(episodes, header, out_dir, seed) + write_westmoor_front_door(episodes, header, out_dir,
                                                                                       seed)


AUTHORITIES = (
    Authority("northgate", 500, _write_northgate),
    Authority("riverside", 2_000, _write_riverside),
    Authority("westmoor", 5_000, _write_westmoor),
)


def authority_seed(seed: int, index: int) -> int:
    """Each authority's own generator seed, derived from the run's seed."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def write_samples(out: Path, seed: int = 1, scale: float = 1.0) -> dict[str, list[Path]]:
    """Write every fictional authority's files under out/<authority>/ and return them by authority.

    `scale` multiplies the number of children (northgate 500, riverside 2,000, westmoor 5,000 at 1.0,
    counting every child in the nine years). The same seed and scale give the same bytes.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    written: dict[str, list[Path]] = {}
    for index, authority in enumerate(AUTHORITIES):
        own_seed = authority_seed(seed, index)
        n = max(10, int(round(authority.children * scale)))
        episodes, header = generate_care_episodes(n, own_seed)
        written[authority.name] = authority.write(episodes, header, out / authority.name, own_seed)
    return written
