"""Outputs are checked against the DESIGN 2 contracts; a broken table is refused, never handed over."""

from __future__ import annotations

import pytest

from journeys.contracts import check_outputs
from journeys.errors import BuildError


def test_contract_refuses_unknown_stage_and_backwards_spell(build_903) -> None:
    r = build_903([("1", "01/01/2019", "S", "C2", "U4", "01/03/2019", "E4A")])
    check_outputs(r.spells, r.transitions, r.stage_model)  # the real output passes
    broken = r.spells.assign(stage="fostering")
    with pytest.raises(BuildError, match="spells table broke its data contract"):
        check_outputs(broken, r.transitions, r.stage_model)
    backwards = r.spells.assign(end=r.spells["start"] - r.spells["start"].dt.day.astype("timedelta64[D]"))
    with pytest.raises(BuildError, match="end-on-or-after-start"):
        check_outputs(backwards, r.transitions, r.stage_model)
    loop = r.transitions.assign(to_stage=r.transitions["from_stage"].where(r.transitions["step"] > 1, "open"))
    with pytest.raises(BuildError, match="transitions table"):
        check_outputs(r.spells, loop, r.stage_model)
