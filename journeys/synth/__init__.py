"""Seeded synthetic children's care histories for three fictional authorities (no real child).

    generate_care_episodes   full histories in SSDA903 terms (episodes, header), vectorised
    write_ssda903_returns    those histories as SSDA903 annual returns (one CSV pair per year)
    write_samples            every fictional authority's files: northgate (SSDA903 and CIN census
                             returns), riverside (local CSV) and westmoor (local XLSX)
    generate_cin             the front door (CIN census content) of the same children and of children
                             never in care, as frames (CinTables)
    write_cin_census         those frames as CIN census XML returns (one per collection year)
    generate_front_door      a local front-door record of the same children, step by step (contacts, early
                             help, referrals, assessments, CIN, s47, CP plans), in shared terms; riverside and
                             westmoor write it in their own codes (front_door_local.py)
"""

# The CIN census additions are importable from here (explicit re-exports); they join __all__ when
# tests/test_synth.py::test_public_api, which pins __all__, is updated with them.
from journeys.synth.cin import CinTables as CinTables
from journeys.synth.cin import generate_cin as generate_cin
from journeys.synth.cin_census import write_cin_census as write_cin_census
from journeys.synth.front_door import generate_front_door as generate_front_door
from journeys.synth.generate import generate_care_episodes
from journeys.synth.samples import AUTHORITIES, write_samples
from journeys.synth.ssda903 import write_ssda903_returns

__all__ = ["AUTHORITIES", "generate_care_episodes", "write_samples", "write_ssda903_returns"]
