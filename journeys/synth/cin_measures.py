"""Realism measures of CIN census frames, counted the way the DfE's children in need tables count them.

Used by the tests (with tolerances) and to write the figures in data_samples/README.md. They read the
CinTables frames (and, for the link to care, SSDA903 episodes).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from journeys.synth.cin import CinTables

CLOSED_AT_FRONT_DOOR = ("RC8", "RC9")


def _referrals(tables: CinTables, since: dt.date, until: dt.date) -> pd.DataFrame:
    """CINdetails blocks with a referral between the dates, with flags for what followed."""
    d = tables.cin_details
    d = d[(d["CINreferralDate"] >= pd.Timestamp(since)) & (d["CINreferralDate"] <= pd.Timestamp(until))]
    return d.assign(assessed=d["cin_id"].isin(tables.assessments["cin_id"]),
                    s47=d["cin_id"].isin(tables.section47["cin_id"]),
                    cp=d["cin_id"].isin(tables.cp_plans["cin_id"]),
                    plan=d["cin_id"].isin(tables.cin_plans["cin_id"]))


def referral_shares(tables: CinTables, since: dt.date, until: dt.date) -> dict[str, float]:
    """Of referrals between the dates: closed with no further action or at assessment, assessed, found in
    need (of those assessed), led to an s47 enquiry, re-referrals within 12 months of the one before."""
    d = _referrals(tables, since, until)
    front = d["ReferralNFA"] | d["ReasonForClosure"].isin(CLOSED_AT_FRONT_DOOR)
    assessed = d[d["assessed"]]
    all_refs = tables.cin_details.sort_values(["LAchildID", "CINreferralDate"])
    gap = all_refs["CINreferralDate"] - all_refs.groupby("LAchildID")["CINreferralDate"].shift()
    again = (gap <= pd.Timedelta(days=365)).reindex(d.index)
    return {"nfa_or_closed_at_assessment": float(front.mean()), "assessed": float(d["assessed"].mean()),
            "in_need_of_assessed": float((~assessed["ReasonForClosure"].isin(CLOSED_AT_FRONT_DOOR)).mean()),
            "s47": float(d["s47"].mean()), "re_referral_12_months": float(again.mean()),
            "referral_nfa": float(d["ReferralNFA"].mean())}


def protection_shares(tables: CinTables, since: dt.date, until: dt.date) -> dict[str, float]:
    """s47 enquiries (started between the dates and concluded) leading to a conference, conferences
    leading to a CP plan, median CP plan length (days, plans that ended) and initial categories."""
    s = tables.section47
    s = s[(s["S47ActualStartDate"] >= pd.Timestamp(since)) & (s["S47ActualStartDate"] <= pd.Timestamp(until))]
    s = s[s["DateOfInitialCPC"].notna() | s["ICPCnotRequired"]]
    icpc = s[s["DateOfInitialCPC"].notna()]
    plans = tables.cp_plans
    starts = set(zip(plans["cin_id"], plans["CPPstartDate"]))
    to_plan = [(c, t) in starts for c, t in zip(icpc["cin_id"], icpc["DateOfInitialCPC"])]
    cp = plans[(plans["CPPstartDate"] >= pd.Timestamp(since)) & (plans["CPPstartDate"] <= pd.Timestamp(until))]
    ended = cp[cp["CPPendDate"].notna()]
    out = {"icpc_of_s47": float(len(icpc) / max(len(s), 1)),
           "cp_of_icpc": float(sum(to_plan) / max(len(icpc), 1)),
           "cp_median_days": float((ended["CPPendDate"] - ended["CPPstartDate"]).dt.days.median())}
    cats = cp["InitialCategoryOfAbuse"].value_counts(normalize=True)
    out.update({f"category {k}": float(v) for k, v in cats.items()})
    return out


def care_entry_history(tables: CinTables, episodes: pd.DataFrame, since: dt.date, until: dt.date) -> dict[str, float]:
    """Of periods of care starting (RNE S) between the dates: share whose child had a CIN plan, s47 enquiry or
    CP plan starting in the year before (at least a week before), on a CP plan on the day, and a referral
    on or before the day that is open on it."""
    e = episodes[(episodes["RNE"].astype("str") == "S") & ~episodes["LS"].astype("str").isin(["V3", "V4"])]
    e = e[(e["DECOM"] >= pd.Timestamp(since)) & (e["DECOM"] <= pd.Timestamp(until))]
    entries = pd.DataFrame({"LAchildID": e["CHILD"].astype("str").to_numpy(), "day": e["DECOM"].to_numpy()})
    work = pd.concat([
        tables.cin_plans[["LAchildID", "CINPlanStartDate"]].set_axis(["LAchildID", "start"], axis=1),
        tables.section47[["LAchildID", "S47ActualStartDate"]].set_axis(["LAchildID", "start"], axis=1),
        tables.cp_plans[["LAchildID", "CPPstartDate"]].set_axis(["LAchildID", "start"], axis=1)])
    m = entries.reset_index().merge(work, on="LAchildID")
    before = (m["start"] <= m["day"] - pd.Timedelta(days=7)) & (m["start"] >= m["day"] - pd.Timedelta(days=365))
    history = entries.index.isin(m.loc[before, "index"])
    cp = entries.reset_index().merge(tables.cp_plans, on="LAchildID")
    on_cp = (cp["CPPstartDate"] <= cp["day"]) & (cp["CPPendDate"].isna() | (cp["CPPendDate"] >= cp["day"]))
    blocks = entries.reset_index().merge(tables.cin_details, on="LAchildID")
    open_on = (blocks["CINreferralDate"] <= blocks["day"]) & (blocks["CINclosureDate"].isna() |
                                                              (blocks["CINclosureDate"] >= blocks["day"]))
    return {"history": float(history.mean()), "on_cp_plan": float(entries.index.isin(cp.loc[on_cp, "index"]).mean()),
            "referral_open": float(entries.index.isin(blocks.loc[open_on, "index"]).mean()), "entries": len(entries)}


def referrals_per_entry(tables: CinTables, episodes: pd.DataFrame, since: dt.date, until: dt.date) -> float:
    """Referrals between the dates per period of care starting (RNE S) between them."""
    d = tables.cin_details
    refs = ((d["CINreferralDate"] >= pd.Timestamp(since)) & (d["CINreferralDate"] <= pd.Timestamp(until))).sum()
    e = episodes[(episodes["RNE"].astype("str") == "S") & ~episodes["LS"].astype("str").isin(["V3", "V4"])]
    starts = ((e["DECOM"] >= pd.Timestamp(since)) & (e["DECOM"] <= pd.Timestamp(until))).sum()
    return float(refs / max(starts, 1))
