"""Seeded synthetic children's care histories for three fictional authorities (no real child).

    generate_care_episodes   full histories in SSDA903 terms (episodes, header), vectorised
    write_ssda903_returns    those histories as SSDA903 annual returns (one CSV pair per year)
    write_samples            every fictional authority's files: northgate (SSDA903 returns),
                             riverside (local CSV) and westmoor (local XLSX)
"""

from journeys.synth.generate import generate_care_episodes
from journeys.synth.samples import AUTHORITIES, write_samples
from journeys.synth.ssda903 import write_ssda903_returns

__all__ = ["AUTHORITIES", "generate_care_episodes", "write_samples", "write_ssda903_returns"]
