"""SSDA903 code lists and the collection years each code is valid in (from the DfE guidance)."""

from __future__ import annotations

RNE = frozenset({"S", "P", "L", "T", "U", "B"})
LS = frozenset({"C1", "C2", "D1", "E1", "J1", "J2", "J3", "L1", "L2", "L3", "V2", "V3", "V4"})
CIN = frozenset({f"N{i}" for i in range(1, 9)})
REC = frozenset({"E11", "E12", "E13", "E14", "E15", "E16", "E17", "E2", "E3", "E41", "E45", "E46", "E47",
                 "E48", "E4A", "E4B", "E5", "E6", "E7", "E8", "E9", "X1"})
_PLACE_2223 = frozenset({"A3", "A4", "A5", "A6", "H5", "K1", "K2", "P1", "P2", "P3", "R1", "R2", "R3", "R5",
                         "S1", "T0", "T1", "T2", "T3", "T4", "U1", "U2", "U3", "U4", "U5", "U6", "Z1"})
_PLACE_2425 = _PLACE_2223 | {"K3"}
_PLACE_2526 = (_PLACE_2425 - {"H5", "P2", "Z1"}) | {"Z11", "Z12", "Z13", "Z14"}
PLACE = _PLACE_2526 | _PLACE_2425

#: SEX was 1/2 until 2023-24 and M/F/U from 2024-25; both are accepted in every year.
SEX = {"1": "M", "2": "F", "M": "M", "F": "F", "U": "U"}


def valid_places(return_year: int) -> frozenset[str]:
    """PLACE codes valid in the collection whose 31 March falls in `return_year`.

    Years before 2022-23 are treated as 2022-23, as the DESIGN asks.

    >>> "K3" in valid_places(2024), "K3" in valid_places(2025), "H5" in valid_places(2026)
    (False, True, False)
    """
    if return_year >= 2026:
        return _PLACE_2526
    if return_year == 2025:
        return _PLACE_2425
    return _PLACE_2223


def collection_label(return_year: int) -> str:
    """'2023-24' for the collection whose 31 March is in 2024."""
    return f"{return_year - 1}-{return_year % 100:02d}"
