"""The realism knobs of the synthetic generator: code lists and the probability tables drawn from.

Every share here is a weight (rows need not sum to 1). They are tuned so that the generated data
lands near published England figures (see data_samples/README.md); change them here, not in the
code that draws from them.
"""

from __future__ import annotations

import numpy as np

DAY = 1
YEAR = 365.25

# --- children -------------------------------------------------------------------------------------
#: Age groups at entry; group 5 is the UASC-like group (16-17, mostly boys, own placement mix).
AGE_GROUPS = ("under 1", "1-4", "5-9", "10-15", "16-17", "uasc")
AGE_GROUP_WEIGHTS = np.array([0.205, 0.14, 0.135, 0.405, 0.075, 0.04])
#: Age at entry in years (low, high) per group; babies get a spike at birth (see periods.py).
AGE_GROUP_YEARS = ((0.0, 1.0), (1.0, 5.0), (5.0, 10.0), (10.0, 16.0), (16.0, 17.9), (15.0, 17.9))
MALE_SHARE = np.array([0.52, 0.53, 0.54, 0.54, 0.57, 0.93])

ETHNIC_CODES = ("WBRI", "WIRI", "WOTH", "WIRT", "WROM", "MWBC", "MWBA", "MWAS", "MOTH", "AIND", "APKN",
                "ABAN", "AOTH", "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT")
ETHNIC_WEIGHTS = np.array([
    # WBRI WIRI WOTH WIRT WROM MWBC MWBA MWAS MOTH AIND APKN ABAN AOTH BCRB BAFR BOTH CHNE OOTH REFU NOBT
    [74.0, 0.4, 4.0, 0.4, 0.8, 3.4, 1.2, 1.3, 3.6, 0.6, 1.5, 0.5, 1.0, 1.3, 2.0, 1.3, 0.2, 1.2, 0.2, 0.3],
    # UASC-like: from many countries, recorded mostly as other White/Asian/Black/other groups
    [0.0, 0.0, 12.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 26.0, 0.0, 30.0, 6.0, 0.0, 22.0, 0.0, 1.0],
])
CIN_CODES = ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8")
CIN_WEIGHTS = np.array([
    [64.0, 3.0, 3.0, 8.0, 15.0, 2.5, 0.3, 4.0],    # most children
    [2.0, 0.0, 0.0, 3.0, 1.0, 0.0, 0.0, 94.0],     # UASC-like: absent parenting
    [5.0, 85.0, 3.0, 5.0, 2.0, 0.0, 0.0, 0.0],     # short breaks: disability
])

# --- periods of care: how they end ------------------------------------------------------------------
#: Outcome classes; each becomes one or more REC codes (see care.py).
OUTCOMES = ("home_planned", "home_unplanned", "adopted", "sgo", "cao", "relatives", "independent",
            "at_18", "other", "transfer", "custody", "remand_end", "age_assessed", "abroad", "died")
(HOME_P, HOME_U, ADOPT, SGO, CAO, REL, INDEP, AT18, OTHER, TRANSFER, CUSTODY, REMAND_END, AGE_ASSESSED,
 ABROAD, DIED) = range(len(OUTCOMES))
OUTCOME_WEIGHTS = np.array([
    # HP    HU    AD    SGO   CAO   REL  INDEP AT18  OTH   TR    CUST  REM   AGE   ABR   DIED
    [18.0, 2.5, 36.0, 19.5, 4.0, 3.0, 0.0, 8.0, 3.5, 1.5, 0.0, 0.0, 0.0, 0.5, 0.3],   # under 1
    [28.0, 5.5, 15.0, 25.0, 4.5, 5.0, 0.0, 10.0, 4.0, 1.5, 0.0, 0.0, 0.0, 0.5, 0.1],  # 1-4
    [33.0, 8.0, 1.5, 19.5, 5.0, 7.0, 0.0, 15.0, 5.0, 2.0, 0.0, 0.0, 0.0, 0.5, 0.0],   # 5-9
    [27.0, 10.5, 0.0, 6.5, 2.5, 6.5, 1.5, 19.0, 7.5, 2.5, 1.5, 2.5, 0.0, 0.5, 0.1],   # 10-15
    [20.0, 10.0, 0.0, 0.0, 0.0, 5.0, 6.0, 28.0, 8.5, 2.5, 2.5, 3.0, 0.0, 1.0, 0.1],   # 16-17
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 12.0, 60.0, 8.0, 6.0, 0.0, 0.0, 7.0, 4.0, 0.0],    # uasc
])
#: Probability of coming back into care (a new period, RNE S) after each outcome, before age 17.5.
REENTRY_P = np.array([0.22, 0.30, 0.0, 0.03, 0.07, 0.13, 0.0, 0.0, 0.13, 0.03, 0.12, 0.18, 0.0, 0.03, 0.0])
REENTRY_GAP_MEDIAN_DAYS = 250.0

# --- placements ---------------------------------------------------------------------------------------
#: Placement kinds drawn; SUPP becomes H5 (before 2024-25) or K3, and P2/Z1 follow the 2025-26 codes.
KINDS = ("U1", "U2", "U3", "U4", "U5", "U6", "K2", "R1", "S1", "P1", "A3", "A4", "A5", "A6", "SUPP",
         "P2", "K1", "R5", "Z1", "R2", "R3", "P3")
K = {k: i for i, k in enumerate(KINDS)}
FOSTER_KINDS = [K[k] for k in ("U1", "U2", "U3", "U4", "U5", "U6")]


def _row(**weights: float) -> list[float]:
    row = [0.0] * len(KINDS)
    for kind, w in weights.items():
        row[K[kind]] = w
    return row


#: Rows 0-5: any placement by age band at its start (under 1, 1-4, 5-9, 10-15, 16-17, UASC-like);
#: rows 6-10: the last placement of a period that ends in adoption, SGO, a child arrangements order,
#: a trial at home before returning home, or a move to supported accommodation before 18; row 11:
#: short breaks.
KIND_WEIGHTS = np.array([
    _row(U1=1.5, U2=2, U3=13, U4=3, U5=7, U6=57, P1=10.5, R3=3, Z1=0.3, R2=0.3),
    _row(U1=3, U2=1, U3=16, U4=12, U5=3, U6=47, P1=15, K2=1, Z1=0.4, R2=0.2, R3=0.5),
    _row(U1=6, U3=13, U4=25, U6=36, P1=12, K2=5.5, R1=0.5, S1=1, Z1=0.4, R2=0.2),
    _row(U1=4, U3=8, U4=17, U6=28, P1=7, K2=24, R1=2.5, S1=2.5, K1=0.9, Z1=0.8, R2=0.3, SUPP=1.5),
    _row(U1=2, U3=4.5, U4=11, U6=21, P1=3.5, K2=17, R1=1, S1=1, SUPP=38, P2=4, K1=0.3, R5=1.2, Z1=1.2,
         P3=0.3, R2=0.4),
    _row(U6=39, U4=4, SUPP=47, K2=4, P2=5, R1=0.5, Z1=0.5),
    _row(A3=8, A4=12, A5=25, A6=55),
    _row(U1=10, U2=3, U3=55, U4=10, U5=2, U6=20),
    _row(U3=45, U6=25, P1=30),
    _row(P1=100),
    _row(SUPP=80, P2=12, U6=8),
    _row(K2=45, U6=30, U4=15, R1=10),
])
FINAL_ADOPT, FINAL_SGO, FINAL_CAO, FINAL_HOME, FINAL_SUPP, SHORT_BREAK = 6, 7, 8, 9, 10, 11

#: Mean placement changes a year by age group at entry (each period draws its own rate around it).
MOVE_RATE = np.array([0.32, 0.34, 0.42, 0.76, 0.72, 0.5])
#: Shape of the gamma spread of move rates between children (smaller: a few children move a lot).
MOVE_RATE_SHAPE = 0.25
#: Share of periods whose first placement is an emergency one, left within weeks.
EMERGENCY_MOVE_P = 0.22
#: Temporary moves (T0-T4) a year, by age group at entry; their codes and lengths in days.
TEMP_RATE = np.array([0.05, 0.07, 0.08, 0.12, 0.12, 0.06])
TEMP_CODES = ("T0", "T1", "T2", "T3", "T4")
TEMP_WEIGHTS = np.array([0.18, 0.15, 0.10, 0.22, 0.35])
TEMP_DAYS = np.array([[1, 10], [1, 10], [3, 14], [5, 14], [1, 7]])

#: Providers (PR0-PR5) by placement kind.
PROVIDERS = ("PR0", "PR1", "PR2", "PR3", "PR4", "PR5")
PROVIDER_WEIGHTS = {
    "foster_kin": [0, 88, 5, 0, 5, 2], "foster": [0, 56, 3, 0, 33, 8], "home": [0, 20, 4, 2, 66, 8],
    "parents": [100, 0, 0, 0, 0, 0], "adoption": [0, 55, 25, 0, 5, 15], "supported": [0, 22, 3, 0, 60, 15],
    "secure": [0, 40, 40, 20, 0, 0], "school": [0, 5, 10, 5, 40, 40], "other": [0, 10, 5, 45, 35, 5],
    "temporary": [0, 50, 5, 20, 20, 5],
}

# --- legal status -------------------------------------------------------------------------------------
LS_CODES = ("C1", "C2", "E1", "V2", "J1", "J2", "J3", "L1", "L2", "L3", "V3", "V4")
LS = {c: i for i, c in enumerate(LS_CODES)}
#: Legal route of a period by outcome: court (C1 then C2, E1 before adoption), s20 (V2), youth
#: justice (J1-J3), or emergency only (L1-L3). Columns: court, s20, youth justice, emergency.
ROUTE_WEIGHTS = np.array([
    [46, 44, 3, 7], [40, 50, 6, 4], [100, 0, 0, 0], [88, 12, 0, 0], [85, 15, 0, 0], [40, 52, 2, 6],
    [45, 55, 0, 0], [67, 33, 0, 0], [34, 52, 8, 6], [50, 50, 0, 0], [0, 0, 100, 0], [0, 0, 100, 0],
    [0, 100, 0, 0], [40, 60, 0, 0], [60, 40, 0, 0],
])
COURT, S20, YOUTH, EMERGENCY = range(4)
INTERIM_ORDER_MEDIAN_DAYS = 180.0

# --- exits and moves ----------------------------------------------------------------------------------
REASON_CODES = ("CARPL", "CREQB", "CREQO", "CHILD", "LAREQ", "CLOSE", "ALLEG", "STAND", "APPRR", "PLACE",
                "CUSTOD", "OTHER")
REASON_WEIGHTS = np.array([
    [44, 11, 8, 5, 7, 3, 2, 2, 1, 3, 1, 13],    # new carer
    [35, 0, 0, 0, 5, 0, 0, 0, 0, 60, 0, 0],     # same carer (RNE T/U)
])
REC_CODES = ("X1", "E4A", "E4B", "E11", "E12", "E45", "E46", "E47", "E48", "E41", "E13", "E5", "E6", "E17",
             "E8", "E3", "E9", "E14", "E15", "E16", "E2", "E7")
