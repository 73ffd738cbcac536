"""Realism measures of front-door steps (generate_front_door's frame): contacts, early help, what referrals led to.

Used by the tests (with tolerances) and to write the figures in data_samples/README.md.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

NO_FURTHER = ("nfa", "advice")


def _between(steps: pd.DataFrame, since: dt.date, until: dt.date) -> pd.Series:
    return (steps["start"] >= pd.Timestamp(since)) & (steps["start"] <= pd.Timestamp(until))


def front_door_shares(steps: pd.DataFrame, since: dt.date, until: dt.date) -> dict[str, float]:
    """Of contacts starting between the dates: share going no further, to early help, to a referral; contacts
    and early help cases per referral; of referrals: stepped up from early help, closed with no further
    action at referral, assessed, led to an s47 enquiry, to a CP plan."""
    step = steps["step"].astype("str")
    in_period = _between(steps, since, until)
    contacts = steps[in_period & (step == "contact")]
    referrals = steps[in_period & (step == "referral")]
    has = {name: (step == name).groupby(steps["case"]).any() for name in ("referral", "early_help", "assessment",
                                                                           "section_47", "cp_plan")}
    to_referral = contacts["case"].map(has["referral"])
    to_eh = contacts["case"].map(has["early_help"]) & ~to_referral
    prev = step.groupby(steps["case"]).shift()
    after_eh = (prev == "early_help")[referrals.index]
    eh_rows = steps[in_period & (step == "early_help")]
    n_ref = max(len(referrals), 1)
    return {
        "contacts": float(len(contacts)), "referrals": float(len(referrals)),
        "contact_no_further": float(contacts["outcome"].isin(NO_FURTHER).mean()),
        "contact_to_early_help": float(to_eh.mean()), "contact_to_referral": float(to_referral.mean()),
        "contacts_per_referral": float(len(contacts) / n_ref),
        "early_help_per_referral": float(len(eh_rows) / n_ref),
        "referral_from_early_help": float(after_eh.mean()),
        "referral_nfa": float((referrals["outcome"] == "nfa").mean()),
        "assessed": float(referrals["case"].map(has["assessment"]).mean()),
        "s47": float(referrals["case"].map(has["section_47"]).mean()),
        "cp_plan": float(referrals["case"].map(has["cp_plan"]).mean()),
    }


def care_entries_met(steps: pd.DataFrame, episodes: pd.DataFrame, since: dt.date, until: dt.date) -> dict[str, float]:
    """Of periods of care starting (RNE S) between the dates: share whose child has a front-door step that
    starts on or before the day and is open on it or ends on it (the front door led into care), and share
    with a step starting at least a week before."""
    e = episodes[(episodes["RNE"].astype("str") == "S") & ~episodes["LS"].astype("str").isin(["V3", "V4"])]
    e = e[(e["DECOM"] >= pd.Timestamp(since)) & (e["DECOM"] <= pd.Timestamp(until))]
    entries = pd.DataFrame({"child": e["CHILD"].astype("str").to_numpy(), "day": e["DECOM"].to_numpy()})
    m = entries.reset_index().merge(steps[["child", "start", "end"]], on="child")
    touching = (m["start"] <= m["day"]) & (m["end"].isna() | (m["end"] >= m["day"]))
    early = touching & (m["start"] <= m["day"] - pd.Timedelta(days=7))
    return {"entries": float(len(entries)), "met": float(entries.index.isin(m.loc[touching, "index"]).mean()),
            "known_a_week_before": float(entries.index.isin(m.loc[early, "index"]).mean())}
