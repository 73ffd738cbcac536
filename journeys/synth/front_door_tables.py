"""The realism knobs of the synthetic local front-door extracts, and the two councils' own code schemes.

The referrals, assessments, plans, s47 enquiries and CP plans come from the CIN census generator
(generate_cin), so their shares are those of cin_tables.py; what is drawn here is what the CIN census
does not hold: the contacts before referrals (most of which go no further), early help (stepping up
to a referral, stepping down after a closure, or on its own) and how each case ended. Shares are
probabilities; durations are (median days, log-normal sigma, lowest, highest), as in cin_tables.py.
"""

from __future__ import annotations

from journeys.synth.cin_tables import Span

FRONT_DOOR_STREAM = 0x464452  # mixed into the seed: never the stream of the care histories or the CIN census

# --- the steps and outcomes in shared terms (the order is the integer code used inside the generator) ----------
STEPS = ("contact", "early_help", "referral", "assessment", "child_in_need", "cin_plan", "section_47", "cp_plan")
CONTACT, EARLY_HELP, REFERRAL, ASSESSMENT, CHILD_IN_NEED, CIN_PLAN, SECTION_47, CP_PLAN = range(len(STEPS))
CARE = 99  # a period of care: joins the steps around it, never written to the front-door extract
OUTCOMES = ("nfa", "advice", "eh_needs_met", "eh_withdrawn", "services_ceased", "transferred", "adult_services",
            "adopted", "special_guardianship", "child_arrangements_order", "died")
(NFA, ADVICE, EH_NEEDS_MET, EH_WITHDRAWN, SERVICES_CEASED, TRANSFERRED, ADULT_SERVICES, ADOPTED, SGO, CAO,
 DIED) = range(len(OUTCOMES))
#: CIN census ReasonForClosure -> how the case ended (RC9, referred to early help, becomes an early help step).
REASON_OUTCOME = {"RC1": ADOPTED, "RC2": DIED, "RC3": CAO, "RC4": SGO, "RC5": TRANSFERRED, "RC6": ADULT_SERVICES,
                  "RC7": SERVICES_CEASED, "RC8": NFA, "RC9": EH_NEEDS_MET}

#: Children only known to the front door per child in care, in riverside's and westmoor's extracts. The CIN
#: census default (8, northgate) gives England's 15-20 referrals per entry to care but ~10 MB per extract;
#: 3 gives about 6.5 referrals per entry and ~5 MB. Every share per referral is the same either way.
CIN_ONLY_PER_CARE_CHILD = 3

# --- contacts -------------------------------------------------------------------------------------------------
#: Contacts that go no further (no further action, or advice and signposting), of all contacts.
P_CONTACT_NO_FURTHER = 0.60
P_ADVICE = 0.45              # of those: information, advice or signposting rather than a plain NFA
P_CONTACT_SAME_DAY = 0.60    # contacts that become a referral (or early help) the day they come in
CONTACT_LEAD_DAYS = (1, 5)   # else this many working days before
P_CONTACT_ON_WORKDAY = 0.85  # the rest keep their day (police contacts at weekends)
#: Contacts that go no further, or lead only to early help, about children the CIN census knows (the rest
#: are about children never referred).
P_KNOWN_CHILD = 0.40
P_SECOND_CASE = 0.22         # children never referred who come back to the front door (once more)
SECOND_CASE_GAP_DAYS: Span = (200.0, 1.0, 14, 2500)

# --- early help ----------------------------------------------------------------------------------------------
EARLY_HELP_ONLY_PER_REFERRAL = 0.30  # early help cases from a contact that never reach a referral
P_STEP_UP = 0.12             # referrals that step up from an early help case (no contact of their own)
STEP_UP_EH_DAYS: Span = (110.0, 0.6, 21, 600)
EARLY_HELP_DAYS: Span = (150.0, 0.55, 28, 900)
P_EH_WITHDRAWN = 0.25        # early help ended because the family withdrew consent, not because needs were met
#: Closures that step down to early help: RC9 always; before RC9 existed (April 2022), closures after
#: assessment (RC8) that would be RC9 now; and some closures of children in need or after an enquiry.
P_STEP_DOWN_RC8_BEFORE_RC9 = 0.35
P_STEP_DOWN_RC7 = 0.12
STEP_DOWN_JOIN_DAYS = 5      # a step-down ending this close to the next referral steps up into it
#: A case closed within this many days of its last recorded step ends with that step; a longer wait is
#: child-in-need support without a plan (a step of its own).
TAIL_DAYS = 30

# --- contact sources (a label per CIN census ReferralSource) ---------------------------------------------------
SOURCE_LABELS = {
    **dict.fromkeys(["1A", "1B", "1C", "1D"], "Individual"), **dict.fromkeys(["2A", "2B"], "School"),
    **dict.fromkeys(["3A", "3B", "3C", "3D", "3E", "3F"], "Health"), "4": "Housing",
    **dict.fromkeys(["5A", "5B", "5C", "5D"], "LA services"), "6": "Police", "7": "Other legal agency",
    "8": "Other", "9": "Anonymous", "10": "Unknown",
}

# --- riverside: its case system's front-door module --------------------------------------------------------------
RIVERSIDE_STEPS = ("CONT", "EH", "REF", "ASMT", "CIN", "CINP", "S47", "CPP")
RIVERSIDE_OUTCOMES = ("NFA", "ADVICE", "EH-CLOSE", "EH-WDRN", "CLOSED", "TRANSFER", "ADULT-SVC", "ADOPTED", "SGO",
                      "CAO", "DIED")
#: Teams by step (free text; the number is drawn once per case, so a case keeps its team).
RIVERSIDE_TEAMS = ("Front Door – MASH", "Early Help Hub", "Assessment Team {n}", "Assessment Team {n}",
                   "Family Support Team {n}", "Family Support Team {n}", "Assessment Team {n}", "Child Protection")
RIVERSIDE_TEAM_NUMBERS = 3

# --- westmoor: numeric codes, grouped its own way --------------------------------------------------------------
#: F11 a contact screened by the MASH; F21 targeted family support (early help led by a keyworker);
#: F50 every kind of child-in-need work, with or without a plan.
WESTMOOR_STEPS = ("F10", "F20", "F30", "F40", "F50", "F50", "F60", "F65")
WESTMOOR_MASH, WESTMOOR_FAMILY_SUPPORT = "F11", "F21"
P_WESTMOOR_MASH = 0.35
P_WESTMOOR_FAMILY_SUPPORT = 0.40
WESTMOOR_OUTCOMES = ("N10", "N11", "C20", "C21", "C30", "C31", "C32", "C33", "C34", "C35", "C39")

#: Share of codes typed in lower case / with stray spaces in riverside's extract (hand-keyed).
RIVERSIDE_NOISE = (0.003, 0.002)
