"""Write full histories as two fictional councils' own case-system extracts, each with its own codes.

riverside: one CSV of placements (Windows-1252, ISO dates), a row per placement: a change of legal
status alone does not start a row. westmoor: one XLSX sheet of episodes (a row whenever placement
or legal status changes, like SSDA903) from its system's go-live date, with coarser codes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from journeys.synth.ssda903 import format_dates
from journeys.synth.xlsx import write_xlsx

ETHNIC_LABELS = {
    "WBRI": "White British", "WIRI": "White Irish", "WOTH": "White - any other", "WIRT": "Traveller of Irish heritage",
    "WROM": "Gypsy/Roma", "MWBC": "Mixed - White and Black Caribbean", "MWBA": "Mixed - White and Black African",
    "MWAS": "Mixed - White and Asian", "MOTH": "Mixed - any other", "AIND": "Asian - Indian",
    "APKN": "Asian - Pakistani",
    "ABAN": "Asian - Bangladeshi", "AOTH": "Asian - any other", "BCRB": "Black Caribbean", "BAFR": "Black African",
    "BOTH": "Black - any other", "CHNE": "Chinese", "OOTH": "Any other ethnic group", "REFU": "Declined",
    "NOBT": "Not yet obtained",
}

# --- riverside ----------------------------------------------------------------------------------------
RIVERSIDE_PLACE = {
    **dict.fromkeys(["U1", "U2", "U3"], "FC-KIN"), **dict.fromkeys(["U4", "U5", "U6"], "FC-INH"),
    **dict.fromkeys(["K2", "R1"], "RES-INH"), "S1": "RES-SCH", **dict.fromkeys(["H5", "K3"], "SIL"), "P2": "SIL-IND",
    "P1": "PWP", **dict.fromkeys(["A3", "A4", "A5", "A6"], "ADOPT-PL"), **dict.fromkeys(["K1", "R5"], "SECURE"),
    "R3": "MBU", **dict.fromkeys(["Z1", "Z11", "Z12", "Z13", "Z14", "R2", "P3"], "OTH"),
    "T1": "HOSP", **dict.fromkeys(["T2", "T3"], "HOLIDAY"), **dict.fromkeys(["T0", "T4"], "TEMP"),
}
#: Independent providers (PR4 private, PR5 voluntary) have their own codes for foster care and homes.
RIVERSIDE_INDEPENDENT = {"FC-INH": "FC-IFA", "RES-INH": "RES-PVI"}
RIVERSIDE_DESCRIPTIONS = {
    "FC-KIN": "Foster care – family and friends", "FC-INH": "Foster care – in-house carers",
    "FC-IFA": "Foster care – independent agency", "RES-INH": "Children’s home – council run",
    "RES-PVI": "Children’s home – private/voluntary", "RES-SCH": "Residential school",
    "SIL": "Supported accommodation",
    "SIL-IND": "Independent living – own tenancy", "PWP": "Placed with parents", "ADOPT-PL": "Placed for adoption",
    "SECURE": "Secure unit / YOI", "MBU": "Parent and baby unit", "OTH": "Other placement",
    "HOSP": "Hospital stay", "HOLIDAY": "Holiday / carer’s break", "TEMP": "Temporary – 7 days or less",
    "RESPITE": "Short break (respite)",
}
RIVERSIDE_END = {
    "X1": "MOVE", "E4A": "HOME-PLAN", "E4B": "HOME-UNPLAN", **dict.fromkeys(["E11", "E12"], "ADOPTED"),
    **dict.fromkeys(["E45", "E46", "E47", "E48"], "SGO"), "E41": "CAO", "E13": "REL",
    **dict.fromkeys(["E5", "E6"], "INDEP"),
    "E17": "STAYPUT", "E3": "TRANSFER", "E9": "CUSTODY", "E14": "REMAND-END",
    **dict.fromkeys(["E2", "E7", "E8", "E15", "E16"], "OTHER"),
}
RIVERSIDE_LEGAL = {"C1": "ICO", "C2": "FCO", "E1": "PO", "V2": "S20", "V3": "S20-SB", "V4": "S20-SB", "J1": "REMAND",
                   "J2": "PACE", "J3": "YRO", "L1": "POLICE-PROT", "L2": "EPO", "L3": "CHILD-ASSESS"}
RIVERSIDE_DATA_START = dt.date(2016, 4, 1)

# --- westmoor -----------------------------------------------------------------------------------------
WESTMOOR_PLACE = {
    **dict.fromkeys(["U1", "U2", "U3"], "P10"), **dict.fromkeys(["U4", "U5", "U6"], "P11"),
    **dict.fromkeys(["K2", "R1", "S1"], "P20"), **dict.fromkeys(["K1", "R5"], "P25"), "P1": "P30",
    **dict.fromkeys(["A3", "A4", "A5", "A6"], "P40"), **dict.fromkeys(["H5", "K3"], "P50"), "P2": "P51",
    **dict.fromkeys(["Z1", "Z11", "Z12", "Z13", "Z14", "R2", "R3", "P3"], "P90"),
    **dict.fromkeys(["T0", "T1", "T2", "T3", "T4"], "P80"),
}
#: Foster care with other carers from an independent provider (PR4, PR5) is P12, not P11.
WESTMOOR_AGENCY_FOSTER = "P12"
WESTMOOR_SHORT_BREAK = "P70"
WESTMOOR_END = {
    "E4A": "R10", "E4B": "R11", **dict.fromkeys(["E11", "E12"], "R20"),
    **dict.fromkeys(["E45", "E46", "E47", "E48"], "R30"),
    "E41": "R31", "E13": "R35", **dict.fromkeys(["E5", "E6"], "R40"), "E17": "R41", "E8": "R90", "E3": "R91",
    "E9": "R92", "E14": "R93", **dict.fromkeys(["E2", "E7", "E15", "E16"], "R99"),
}
WESTMOOR_LEGAL = {"C1": "S38 ICO", "C2": "S31 CO", "E1": "S21 PO", "V2": "S20", "V3": "S20 SB", "V4": "S20 SB",
                  "J1": "Remand", "J2": "PACE", "J3": "YRO", "L1": "PPO", "L2": "EPO", "L3": "CAO"}
WESTMOOR_LOCALITIES = ("North", "Central", "South")
WESTMOOR_LOCALITY_SHARES = [0.35, 0.4, 0.25]
#: The stream of westmoor_rows' draws (its first draw is the localities).
WESTMOOR_STREAM = 3
#: westmoor's case system went live on this day; placements that had ended by then were not migrated.
WESTMOOR_DATA_START = dt.date(2016, 10, 3)


def _text(values: pd.Series) -> pd.Series:
    return values.astype("str")


def _noisy_codes(rng: np.random.Generator, codes: pd.Series, lower: float, padded: float) -> pd.Series:
    """A few codes typed in lower case or with stray spaces, as hand-keyed systems have."""
    u = rng.random(len(codes))
    out = codes.where(~(u < lower), codes.str.lower())
    return out.where(~((u >= lower) & (u < lower + padded)), " " + codes + "  ")


def riverside_rows(episodes: pd.DataFrame, header: pd.DataFrame, seed: int) -> pd.DataFrame:
    """riverside's placements extract: episodes joined over changes of legal status only."""
    rng = np.random.default_rng([seed, 2])
    eps = episodes.reset_index(drop=True)
    child = _text(eps["CHILD"])
    new_row = (_text(eps["RNE"]) != "L") | child.ne(child.shift())
    first = np.flatnonzero(new_row.to_numpy())
    last = np.r_[first[1:] - 1, len(eps) - 1]
    head, tail = eps.iloc[first].reset_index(drop=True), eps.iloc[last].reset_index(drop=True)
    place = _text(head["PLACE"]).map(RIVERSIDE_PLACE)
    independent = _text(head["PLACE_PROVIDER"]).isin(["PR4", "PR5"])
    place = place.where(~independent, place.replace(RIVERSIDE_INDEPENDENT))
    place = place.where(~_text(head["LS"]).isin(["V3", "V4"]), "RESPITE")
    people = header.set_index(_text(header["CHILD"]))
    who = people.loc[_text(head["CHILD"])].reset_index(drop=True)
    end = tail["DEC"]
    rows = pd.DataFrame({
        "ClientRef": "RV" + _text(head["CHILD"]),
        "ServiceStart": format_dates(head["DECOM"], "%Y-%m-%d"),
        "ServiceEnd": format_dates(end, "%Y-%m-%d"),
        "ServiceCode": _noisy_codes(rng, place, 0.004, 0.003),
        "ServiceDesc": place.map(RIVERSIDE_DESCRIPTIONS),
        "EndReason": _noisy_codes(rng, _text(tail["REC"]).map(RIVERSIDE_END), 0.003, 0.0),
        "Gender": _text(who["SEX"]).map({"M": "Male", "F": "Female"}),
        "DOB": format_dates(who["DOB"], "%Y-%m-%d"),
        "Ethnicity": _text(who["ETHNIC"]).map(ETHNIC_LABELS),
        "LegalBasis": _text(head["LS"]).map(RIVERSIDE_LEGAL),
        "NeedCode": _text(head["CIN"]),
    })
    return rows.fillna("")


def write_riverside(episodes: pd.DataFrame, header: pd.DataFrame, out_dir: Path, seed: int = 1) -> list[Path]:
    """riverside/placements.csv: Windows-1252, CRLF line ends, ISO dates, blank end while open."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "placements.csv"
    riverside_rows(episodes, header, seed).to_csv(path, index=False, encoding="cp1252", lineterminator="\r\n")
    return [path]


def westmoor_localities(rng: np.random.Generator, header: pd.DataFrame) -> pd.Series:
    """Each child's locality, by CHILD: the first draw of westmoor_rows' stream (the front door reuses it)."""
    locality = np.array(WESTMOOR_LOCALITIES)[rng.choice(3, size=len(header), p=WESTMOOR_LOCALITY_SHARES)]
    return pd.Series(locality, index=_text(header["CHILD"]))


def westmoor_rows(episodes: pd.DataFrame, header: pd.DataFrame, seed: int) -> pd.DataFrame:
    """westmoor's care history: SSDA903-like episodes from go-live, with westmoor's own codes."""
    rng = np.random.default_rng([seed, WESTMOOR_STREAM])
    eps = episodes.reset_index(drop=True)
    child = _text(eps["CHILD"])
    next_rne = _text(eps["RNE"]).shift(-1).where(child.eq(child.shift(-1)))
    rec = _text(eps["REC"])
    end_code = rec.map(WESTMOOR_END)
    end_code = end_code.where(rec != "X1", np.where(next_rne == "L", "R01", "R00"))
    place = _text(eps["PLACE"]).map(WESTMOOR_PLACE)
    place = place.where(~((place == "P11") & _text(eps["PLACE_PROVIDER"]).isin(["PR4", "PR5"])), WESTMOOR_AGENCY_FOSTER)
    place = place.where(~_text(eps["LS"]).isin(["V3", "V4"]), WESTMOOR_SHORT_BREAK)
    keep = eps["DEC"].isna() | (eps["DEC"] >= pd.Timestamp(WESTMOOR_DATA_START))
    people = header.set_index(_text(header["CHILD"]))
    who = people.loc[child].reset_index(drop=True)
    by_child = westmoor_localities(rng, header)
    rows = pd.DataFrame({
        "Person ID": child.astype("int64") + 600_000,
        "Placement Start": eps["DECOM"],
        "Placement End": eps["DEC"],
        "Placement Type": place,
        "End Reason": end_code,
        "Sex": _text(who["SEX"]),
        "Date of Birth": who["DOB"],
        "Ethnic Group": _text(who["ETHNIC"]),
        "Legal Status": _text(eps["LS"]).map(WESTMOOR_LEGAL),
        "Category of Need": _text(eps["CIN"]),
        "Locality": by_child.loc[child].to_numpy(),
    })
    return rows[keep.to_numpy()].reset_index(drop=True)


def write_westmoor(episodes: pd.DataFrame, header: pd.DataFrame, out_dir: Path, seed: int = 1) -> list[Path]:
    """westmoor/care_history.xlsx: one sheet 'Care history', Excel dates, blank end while open."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "care_history.xlsx"
    write_xlsx(westmoor_rows(episodes, header, seed), path, sheet="Care history")
    return [path]
