"""The realism knobs of the synthetic CIN census: code lists, shares and durations the front door is drawn from.

Shares are weights (rows need not sum to 1); durations are (median days, log-normal sigma, lowest,
highest). They are tuned so that the referrals land near published England figures (DfE, *Characteristics
of children in need*; see data_samples/README.md). Change them here, not in the code that draws from them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from journeys.synth.draw import day_of

Span = tuple[float, float, int, int]

# --- code lists (the order is the integer code used inside the generator) --------------------------------
SOURCES = ("1A", "1B", "1C", "1D", "2A", "2B", "3A", "3B", "3C", "3D", "3E", "3F", "4", "5A", "5B", "5C", "5D",
           "6", "7", "8", "9", "10")
SRC = {c: i for i, c in enumerate(SOURCES)}
NEEDS = ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N9", "N0")
REASONS = ("RC1", "RC2", "RC3", "RC4", "RC5", "RC6", "RC7", "RC8", "RC9")
RC = {c: i for i, c in enumerate(REASONS)}
CATEGORIES = ("NEG", "EMO", "PHY", "SAB", "MUL")
DISABILITIES = ("MOB", "HAND", "PC", "INC", "COMM", "LD", "HEAR", "VIS", "BEH", "CON", "AUT", "DDA")
FACTORS = ("1A", "1B", "1C", "2A", "2B", "2C", "3A", "3B", "3C", "4A", "4B", "4C", "5A", "5B", "5C", "6A", "6B",
           "6C", "7A", "8F", "9A", "10A", "11A", "12A", "13A", "14A", "15A", "16A", "17A", "18A", "18B", "18C",
           "19A", "19B", "19C", "20", "21", "22A", "23A", "24A")
FAC = {c: i for i, c in enumerate(FACTORS)}

#: Routes of a referral (CINdetails block): what happens after the front door.
ROUTES = ("nfa", "no_need", "in_need", "s47", "other", "disabled", "care")
NFA, NO_NEED, IN_NEED, S47, OTHER, DISABLED, CARE = range(len(ROUTES))

# --- when codes became valid (first day they are used) -----------------------------------------------------
#: RC9 (closed after assessment, referred to early help) and source 5D (early help) arrive in 2022-23.
RC9_FROM = day_of(dt.date(2022, 4, 1))
SOURCE_5D_FROM = RC9_FROM
#: Factors 18B/18C/19B/19C (child on child / adult on child) from 2020-21, 24A (criminal exploitation) from 2021-22.
SPLIT_ABUSE_FACTORS_FROM = day_of(dt.date(2020, 4, 1))
FACTOR_24A_FROM = day_of(dt.date(2021, 4, 1))

# --- referrals -------------------------------------------------------------------------------------------
#: Route of a referral by the child's context: 0 most children, 1 disabled children, 2 children of families
#: well known to services (and children who have been in care): more enquiries, more referrals.
#: Tuned together to: ~40% closed with no further action or at assessment, ~50% assessed, ~33% s47.
ROUTE_WEIGHTS = np.array([
    # nfa   no_need in_need s47   other disabled
    [23.0, 28.0, 9.0, 25.0, 15.0, 0.0],
    [4.0, 5.0, 12.0, 5.0, 4.0, 70.0],
    [13.0, 18.0, 10.0, 48.0, 11.0, 0.0],
])
CTX_MOST, CTX_DISABLED, CTX_KNOWN = range(3)
#: Share of s47 enquiries with a (single) assessment recorded alongside them.
P_ASSESS_S47 = 0.30
P_ICPC = 0.40            # s47 enquiries that lead to an initial child protection conference
P_CP = 0.70              # conferences that lead to a child protection plan
P_PLAN_IN_NEED = 0.55    # children found in need who get a CIN plan
P_PLAN_DISABLED = 0.85
P_PLAN_AFTER = {"cp": 0.55, "icpc": 0.70, "no_icpc": 0.30}  # a CIN plan after a CP plan / conference / enquiry
P_EARLY_HELP = 0.40      # closures after assessment that refer to early help (RC9), once RC9 exists
P_TRANSFERRED = 0.08     # closures RC5 (another local authority) among children in need
P_REFERRAL_ON_WORKDAY = 0.85  # the rest keep their day (police referrals at weekends)

#: Source of referral: 0 most referrals, 1 unborn or newborn, 2 emergency entry to care, 3 UASC-like.
SOURCE_WEIGHTS = np.array([
    # 1A  1B   1C   1D   2A    2B   3A   3B   3C   3D   3E   3F   4    5A   5B   5C   5D   6     7    8    9    10
    [4.5, 1.0, 1.5, 0.8, 19.5, 1.5, 2.0, 2.0, 0.5, 2.0, 3.0, 5.5, 1.5, 3.0, 3.0, 2.5, 3.5, 29.0, 3.0, 5.0, 1.0, 2.7],
    [2.0, 0.3, 0.5, 0.2, 0.0, 0.0, 4.0, 8.0, 0.0, 12.0, 4.0, 30.0, 1.0, 10.0, 3.0, 5.0, 1.0, 12.0, 3.0, 3.0, 0.3, 1.0],
    [3.0, 0.5, 2.0, 0.5, 8.0, 0.5, 0.5, 1.0, 0.0, 1.0, 6.0, 6.0, 0.5, 2.0, 3.0, 4.0, 0.5, 48.0, 8.0, 3.0, 0.5, 1.0],
    [0.0, 0.0, 3.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 5.0, 30.0, 0.0, 25.0, 20.0, 12.0, 0.0, 2.0],
])
SOURCE_GENERAL, SOURCE_BABY, SOURCE_EMERGENCY, SOURCE_UASC = range(4)

#: Primary need by route: 0 not found in need (N9/N0 or a need recorded anyway), 1 in need, 2 s47, 3 other.
NEED_WEIGHTS = np.array([
    # N1   N2   N3   N4    N5    N6   N7   N8   N9    N0
    [18.0, 2.0, 3.0, 8.0, 11.0, 3.0, 0.5, 1.5, 43.0, 10.0],
    [40.0, 4.0, 5.0, 14.0, 22.0, 8.0, 1.0, 4.0, 0.0, 2.0],
    [85.0, 0.5, 1.0, 4.0, 8.0, 1.5, 0.0, 0.0, 0.0, 0.0],
    [25.0, 3.0, 4.0, 10.0, 12.0, 5.0, 0.5, 3.0, 25.0, 12.5],
])

# --- child protection ------------------------------------------------------------------------------------
CATEGORY_WEIGHTS = np.array([50.0, 38.0, 4.0, 3.0, 5.0])
P_CATEGORY_CHANGES = 0.12

# --- assessment factors: rows 0 not in need, 1 in need, 2 abuse (s47, care), 3 disabled, 4 UASC-like -------
_FACTOR_ROWS: dict[int, dict[str, float]] = {
    0: {"21": 60, "4B": 6, "3B": 6, "4A": 5, "14A": 4, "17A": 3, "16A": 3, "20": 5, "1B": 2, "2B": 2, "15A": 2},
    1: {"4B": 15, "3B": 13, "3A": 8, "4A": 11, "17A": 9, "16A": 8, "2B": 6, "1B": 5, "14A": 6, "15A": 4, "10A": 3,
        "20": 6, "5A": 2, "6B": 2, "7A": 1, "13A": 1, "24A": 1.5, "11A": 1, "2A": 1.5, "4C": 1, "3C": 1},
    2: {"3B": 16, "3A": 12, "4B": 14, "17A": 15, "16A": 14, "18A": 3, "18B": 1, "18C": 5, "2B": 8, "1B": 6,
        "19A": 1, "19B": 0.5, "19C": 1.5, "4A": 5, "11A": 2, "10A": 2, "24A": 1.5, "20": 3, "23A": 0.3, "22A": 0.2},
    3: {"5A": 30, "6A": 25, "4A": 6, "4B": 5, "7A": 2, "20": 8, "17A": 2, "16A": 2, "14A": 3},
    4: {"9A": 70, "12A": 8, "4A": 8, "20": 4, "10A": 3},
}
FACTOR_WEIGHTS = np.array([[_FACTOR_ROWS[r].get(c, 0.0) for c in FACTORS] for r in range(5)])
#: Mean number of extra factors (beyond the first) recorded per authorised assessment, by row.
EXTRA_FACTORS = np.array([0.2, 1.3, 1.8, 0.8, 0.5])
FACTORS_NOT_IN_NEED, FACTORS_IN_NEED, FACTORS_ABUSE, FACTORS_DISABLED, FACTORS_UASC = range(5)

# --- durations (median days, sigma, lowest, highest) ------------------------------------------------------
ASSESSMENT_DAYS: Span = (24.0, 0.55, 1, 150)       # start to authorisation (target: 45 working days)
CIN_PLAN_DAYS: Span = (200.0, 0.85, 21, 2500)      # months to years
DISABLED_PLAN_DAYS: Span = (700.0, 0.7, 90, 4000)
CIN_NO_PLAN_DAYS: Span = (70.0, 0.8, 1, 900)       # in need without a plan: authorisation to closure
STEP_DOWN_DAYS: Span = (150.0, 0.7, 21, 1500)      # CIN plan after a CP plan or an enquiry
ICPC_DAYS: Span = (16.0, 0.35, 2, 70)              # s47 start to the conference (target: 15 working days)
S47_NO_ICPC_DAYS: Span = (18.0, 0.6, 1, 120)       # s47 start to the decision that no conference is needed
CP_DAYS: Span = (305.0, 0.6, 20, 2200)            # child protection plans: median about 9 months
OTHER_DAYS: Span = (25.0, 1.0, 0, 365)             # referrals closed without assessment (transfers, advice)
REREFERRAL_GAP_DAYS: Span = (230.0, 1.15, 1, 4000)  # closure to the next referral
#: Chance of another referral after a closure, by context (as ROUTE_WEIGHTS).
P_NEXT_REFERRAL = np.array([0.44, 0.55, 0.62])
P_NEXT_AFTER_CP = 0.8
MAX_REFERRALS = 8

# --- children who come into care --------------------------------------------------------------------------
#: What the front door had done before a period of care started: 0 nothing (referral within days: an
#: emergency), 1 an assessment, 2 a CIN plan, 3 a section 47 enquiry, 4 a child protection plan.
#: Rows: 0 most children, 1 newborns (pre-birth work), 2 UASC-like, 3 teenagers (14+).
STAGE_WEIGHTS = np.array([
    [15.0, 5.0, 20.0, 12.0, 48.0],
    [8.0, 4.0, 8.0, 5.0, 75.0],
    [100.0, 0.0, 0.0, 0.0, 0.0],
    [25.0, 8.0, 28.0, 14.0, 25.0],
])
DIRECT, ASSESSED, PLANNED, ENQUIRY, PROTECTED = range(5)
CP_BEFORE_CARE_DAYS: Span = (150.0, 0.8, 10, 1100)
PLAN_BEFORE_CARE_DAYS: Span = (160.0, 0.8, 14, 1500)
P_PLAN_BEFORE_S47 = 0.45
P_S47_AT_EMERGENCY = 0.35    # emergency entries (police protection) with an s47 enquiry alongside
P_CP_ENDS_AT_ENTRY = 0.6     # else the plan ends at a conference within two months of entry
#: After care: how long the CINdetails stays open (returned home: support, maybe a CIN plan).
HOME_SUPPORT_DAYS: Span = (45.0, 0.8, 1, 600)
P_PLAN_AFTER_HOME = 0.5
P_LEFT_OPEN = 0.04           # cases left open long after the child left care
LEFT_OPEN_DAYS: Span = (365.0, 0.5, 60, 2000)
EARLIER_REFERRALS = 0.55     # mean earlier (closed) referrals of a child before the one that led to care
P_REFERRAL_AFTER_CARE = 0.22
SHORT_BREAK_LEAD_DAYS: Span = (120.0, 0.6, 14, 700)
SHORT_BREAK_AFTER_DAYS: Span = (200.0, 0.8, 7, 2000)

# --- children only known to the front door ----------------------------------------------------------------
#: Age at first referral: unborn, under 1, 1-4, 5-9, 10-15, 16-17 (years).
CIN_AGE_GROUPS = ((-0.4, 0.0), (0.0, 1.0), (1.0, 5.0), (5.0, 10.0), (10.0, 16.0), (16.0, 17.9))
CIN_AGE_WEIGHTS = np.array([0.02, 0.07, 0.17, 0.23, 0.35, 0.16])
MALE_SHARE = 0.52
P_DISABLED = 0.08            # children whose disability is why they are known (need N2, long CIN plans)
P_KNOWN_FAMILY = 0.2         # children of families well known to services (context 2)
P_UPN_KNOWN = 0.9            # school-age children with a UPN on record
LOOKBACK_YEARS = 4           # first referrals drawn from this long before the window (the stock at its start)
DISABILITY_WEIGHTS = np.array([6.0, 2.0, 4.0, 1.0, 15.0, 30.0, 1.5, 1.5, 10.0, 0.5, 30.0, 0.5])
P_DISABILITY_RECORDED = 0.04  # children not counted as disabled who still have a disability recorded
