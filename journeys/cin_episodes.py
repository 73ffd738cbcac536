"""CIN census tables as stage episodes; several years' censuses stacked; every row in the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from journeys.accounting import RowLedger
from journeys.cin_reader import CHILDREN, COLUMNS, DETAILS, CinCensus
from journeys.issues import combine_issues, issue_frame
from journeys.sources import DATE_DTYPE

#: Stage codes in the order a block runs through them (also the tie-break when sorting).
STAGE_ORDER = {"REFERRAL": 0, "ASSESSMENT": 1, "CHILD_IN_NEED": 2, "CIN_PLAN": 3, "SECTION_47": 4, "CP_PLAN": 5}
EPISODE_COLUMNS = ["file", "child_no", "detail_no", "line", "person_id", "start", "end", "code", "exit_code",
                   "need_code", "category", "source", "return_year"]
_KEY = ["child_no", "detail_no"]
_NO_NEED = ["RC8", "RC9"]  # closed after assessment: no further action, or referred to early help


def cin_episodes(census: CinCensus) -> pd.DataFrame:
    """One row per stage interval of every usable CINdetails block (quarantined blocks give none).

    - REFERRAL: CINreferralDate to the first of: the first start of a later stage (an assessment, or
      a plan or s47 enquiry recorded without one) on or after the referral date; the no-further-action
      decision when ReferralNFA is true (the closure date if given, else the referral date itself);
      the closure date. Open (NaT) if none.
    - ASSESSMENT: AssessmentActualStartDate to AssessmentAuthorisationDate.
    - CHILD_IN_NEED: for a block with an authorised assessment but no CIN or CP plan, not NFA and not
      closed as RC8/RC9 (no further action or early help after assessment): from the first
      authorisation to the closure date.
    - CIN_PLAN: CINPlanStartDate to CINPlanEndDate. CP_PLAN: CPPstartDate to CPPendDate, `category`
      the initial category of abuse.
    - SECTION_47: S47ActualStartDate to DateOfInitialCPC; with ICPCnotRequired true and no conference,
      to the next later start of a stage of the block (or the closure, if earlier), else its own start.
    - A stage still open when its block is closed ends at the closure date (when that is on or after
      its start); otherwise NaT = open at the census reference date.
    - `exit_code` on the block's last row (latest end; ties: latest start, then the later stage):
      NFA when ReferralNFA is true, else ReasonForClosure (RC1..RC9) when closed, else null; never on
      an open row.
    Overlaps (a CIN plan during a CP plan, an s47 enquiry during a plan) are kept: the pipeline
    resolves them by the stage model's precedence. `file`, `child_no`, `detail_no` and `line` say
    where each row was read (the stage's own element; the CINdetails block for a referral).
    """
    keys = np.arange(len(census.details))
    blocks = _block_rows(census, keys)
    return _episodes(blocks[census.details["quarantined"].isna().to_numpy()], _stage_rows(census, keys))[
        EPISODE_COLUMNS]


def _block_rows(census: CinCensus, keys: np.ndarray) -> pd.DataFrame:
    """The CINdetails table with a block `key`, its file and its return year."""
    return census.details.assign(key=keys, file=census.file, return_year=np.int32(census.collection_year or 0))


def _stage_rows(census: CinCensus, keys: np.ndarray) -> pd.DataFrame:
    """Every stage block of the census as a row (key = its CINdetails block's key), with where it was read."""
    frames = []
    for table, code, end, category in [(census.assessments, "ASSESSMENT", "authorised", None),
                                       (census.cin_plans, "CIN_PLAN", "end", None),
                                       (census.section47, "SECTION_47", "initial_cpc_date", None),
                                       (census.cp_plans, "CP_PLAN", "end", "initial_category")]:
        frames.append(pd.DataFrame({
            "child_no": table["child_no"], "detail_no": table["detail_no"], "line": table["line"],
            "start": table["start"].astype(DATE_DTYPE), "end": table[end].astype(DATE_DTYPE), "code": code,
            "category": table[category] if category else pd.Series(pd.NA, index=table.index, dtype="str"),
            "icpc_not_required": table["icpc_not_required"] if code == "SECTION_47" else False}))
    stages = pd.concat(frames, ignore_index=True)
    block = pd.Series(keys, index=pd.MultiIndex.from_frame(census.details[_KEY]))
    stages["key"] = block.reindex(pd.MultiIndex.from_frame(stages[_KEY])).to_numpy()
    return stages.assign(file=census.file, return_year=np.int32(census.collection_year or 0))


def _episodes(blocks: pd.DataFrame, stages: pd.DataFrame) -> pd.DataFrame:
    """The episode rows of `blocks` from their `stages` (see cin_episodes), keyed by the block's `key`."""
    facts = blocks[["key", "referral_date", "closure_date", "closure_reason", "referral_nfa"]]
    stages = _section47_ends(stages.merge(facts, on="key", how="inner"))  # stages of dropped blocks go too
    rows = pd.concat([_referrals(stages, blocks), stages, _in_need(stages)], ignore_index=True)
    rows = rows.drop(columns=facts.columns[1:]).merge(facts, on="key")
    still_open = rows["end"].isna() & rows["code"].ne("REFERRAL") & (rows["closure_date"] >= rows["start"])
    rows.loc[still_open, "end"] = rows.loc[still_open, "closure_date"]
    rows["order"] = rows["code"].map(STAGE_ORDER)
    rows = rows.sort_values(["key", "start", "order"], kind="stable").reset_index(drop=True)
    exits = pd.Series(np.where(rows["referral_nfa"], "NFA", rows["closure_reason"].where(
        rows["closure_date"].notna())), index=rows.index, dtype="str")
    closed = rows["end"].notna()
    last = rows.assign(open=~closed).sort_values(["key", "open", "end", "start", "order"], kind="stable")
    last = last.index[~last.duplicated("key", keep="last")]
    rows["exit_code"] = pd.Series(pd.NA, index=rows.index, dtype="str")
    rows.loc[last, "exit_code"] = exits[last].where(closed[last])
    block = blocks.set_index("key")
    rows["need_code"] = block["primary_need"].reindex(rows["key"]).to_numpy()
    rows["person_id"] = block["la_child_id"].reindex(rows["key"]).to_numpy()
    rows["source"] = "cin"
    for col in ("person_id", "code", "exit_code", "need_code", "category", "file", "source"):
        rows[col] = rows[col].astype("str")
    rows["return_year"] = rows["return_year"].astype(np.int32)
    return rows[[*EPISODE_COLUMNS, "key"]]


def _section47_ends(stages: pd.DataFrame) -> pd.DataFrame:
    """An enquiry with no conference because none was required ends when the block's next stage starts."""
    done = stages["code"].eq("SECTION_47") & stages["end"].isna() & stages["icpc_not_required"].astype(bool)
    if not done.any():
        return stages.drop(columns="icpc_not_required")
    pairs = stages.loc[done, ["key", "start"]].reset_index().merge(stages[["key", "start"]], on="key",
                                                                   suffixes=("", "_next"))
    following = pairs[pairs["start_next"] > pairs["start"]].groupby("index")["start_next"].min()
    enquiries = stages.loc[done]
    following = following.reindex(enquiries.index)
    closure = enquiries["closure_date"].where(enquiries["closure_date"] >= enquiries["start"])
    ends = pd.concat([following, closure], axis=1).min(axis=1).where(following.notna())
    stages.loc[done, "end"] = ends.fillna(enquiries["start"]).astype(DATE_DTYPE)
    return stages.drop(columns="icpc_not_required")


def _referrals(stages: pd.DataFrame, blocks: pd.DataFrame) -> pd.DataFrame:
    """The referral of each block: to the first later stage, the NFA decision, or the closure."""
    later = stages[stages["start"] >= stages["referral_date"]].groupby("key")["start"].min()
    ref = blocks.set_index("key")
    decided = ref["closure_date"].fillna(ref["referral_date"]).where(ref["referral_nfa"])
    end = pd.concat([later.reindex(ref.index), decided, ref["closure_date"]], axis=1).min(axis=1)
    return pd.DataFrame({"file": ref["file"], "child_no": ref["child_no"], "detail_no": ref["detail_no"],
                         "line": ref["line"], "start": ref["referral_date"], "end": end.astype(DATE_DTYPE),
                         "code": "REFERRAL", "return_year": ref["return_year"]}).reset_index()


def _in_need(stages: pd.DataFrame) -> pd.DataFrame:
    """Child in need without a plan: from the first authorised assessment to closure (see cin_episodes)."""
    authorised = stages[stages["code"].eq("ASSESSMENT") & stages["end"].notna()].sort_values("end", kind="stable")
    first = authorised.drop_duplicates("key")
    planned = stages.loc[stages["code"].isin(["CIN_PLAN", "CP_PLAN"]), "key"]
    keep = (~first["key"].isin(planned) & ~first["referral_nfa"].astype(bool) & ~first["closure_reason"].isin(_NO_NEED)
            & (first["closure_date"].isna() | (first["closure_date"] > first["end"])))
    first = first[keep]
    return first[["key", "file", "child_no", "detail_no", "line", "return_year"]].assign(
        start=first["end"], end=first["closure_date"], code="CHILD_IN_NEED")


@dataclass
class CinStack:
    """Several censuses stacked: what is kept, what a later return replaced, and what repeats."""

    children: pd.DataFrame  # one <Child> row per LAchildID: the latest return's (with file, return_year, row_id)
    details: pd.DataFrame  # one CINdetails row per child and referral date: the latest return's
    episodes: pd.DataFrame  # episodes of the kept blocks, stages merged over returns; row_id = the kept block's
    superseded: np.ndarray  # row ids of children and blocks that a later return repeats
    repeats: pd.DataFrame  # row_id, code: repeats within one return (duplicate-child, duplicate-cin-details)
    issues: pd.DataFrame  # every census's issues, then the stacking's


def register_cin(ledger: RowLedger, census: CinCensus) -> tuple[np.ndarray, np.ndarray]:
    """Add a file's `cin_children` and `cin_details` tables to the ledger; rows with an error are quarantined.

    Returns the row ids of the children and of the CINdetails blocks, aligned with the census tables.
    """
    ids = []
    for table, frame in ((CHILDREN, census.children), (DETAILS, census.details)):
        row_ids = ledger.add_table(census.file, table, len(frame))
        bad = frame["quarantined"].notna().to_numpy()
        ledger.quarantine(row_ids[bad], frame.loc[bad, "quarantined"].to_numpy())
        ids.append(row_ids)
    return ids[0], ids[1]


def account_cin(ledger: RowLedger, censuses: Sequence[CinCensus]) -> CinStack:
    """Register every census in the ledger, stack them, and mark superseded rows and repeats."""
    stack = stack_cin(censuses, [register_cin(ledger, census) for census in censuses])
    ledger.supersede(stack.superseded)
    ledger.quarantine(stack.repeats["row_id"].to_numpy(), stack.repeats["code"].to_numpy())
    return stack


def stack_cin(censuses: Sequence[CinCensus], row_ids: Sequence[tuple[np.ndarray, np.ndarray]] | None = None
              ) -> CinStack:
    """Stack annual censuses (in any order: it only decides which of two same-year repeats is kept).

    A child (LAchildID) and a CINdetails block (LAchildID + referral date) found in several returns
    is taken from the latest collection year (closure, reason, need, NFA); the other versions are
    superseded. A return only carries the assessments, plans and enquiries active in its year, so a
    block's stages are merged over every return it is in: one per stage type and start date, from the
    latest return that has it. A repeat within one collection year (one file, or two files of the
    same year) is quarantined (`duplicate-child`, `duplicate-cin-details`); the first read is kept.
    Rows quarantined when read take no part.

    `row_ids` are each census's (children, details) ids from `register_cin`; by default, the ids a
    fresh ledger would give them in this order.
    """
    if not censuses:
        extra = ["file", "return_year", "row_id"]
        return CinStack(pd.DataFrame(columns=COLUMNS["children"] + extra), pd.DataFrame(
            columns=COLUMNS["details"] + extra), pd.DataFrame(columns=[*EPISODE_COLUMNS, "row_id"]),
            np.zeros(0, np.int64), pd.DataFrame({"row_id": np.zeros(0, np.int64), "code": []}), combine_issues([]))
    if row_ids is None:
        sizes = np.cumsum([0] + [n for c in censuses for n in (len(c.children), len(c.details))])
        row_ids = [(np.arange(sizes[2 * i], sizes[2 * i + 1]), np.arange(sizes[2 * i + 1], sizes[2 * i + 2]))
                   for i in range(len(censuses))]
    children = [c.children.assign(file=c.file, return_year=np.int32(c.collection_year or 0), row_id=ids)
                for c, (ids, _) in zip(censuses, row_ids)]
    details = [_block_rows(c, ids).assign(row_id=ids) for c, (_, ids) in zip(censuses, row_ids)]
    stages = [_stage_rows(c, ids) for c, (_, ids) in zip(censuses, row_ids)]
    kept_children, child_issues, child_old, child_rep, _ = _latest(pd.concat(children, ignore_index=True),
                                                                   ["la_child_id"], "duplicate-child")
    kept, detail_issues, detail_old, detail_rep, winner = _latest(
        pd.concat(details, ignore_index=True), ["la_child_id", "referral_date"], "duplicate-cin-details")
    merged = pd.concat(stages, ignore_index=True)
    merged["key"] = merged["key"].map(winner)  # each stage joins the latest version of its block
    merged = merged[merged["key"].notna()].astype({"key": np.int64})
    merged = merged.sort_values(["key", "code", "start", "return_year"], ascending=[True, True, True, False],
                                kind="stable").drop_duplicates(["key", "code", "start"])
    episodes = _episodes(kept.assign(key=kept["row_id"]), merged).rename(columns={"key": "row_id"})
    episodes = episodes.sort_values(["person_id", "start"], kind="stable")  # the blocks' order is kept on ties
    repeats = pd.DataFrame({"row_id": np.concatenate([child_rep, detail_rep]).astype(np.int64),
                            "code": ["duplicate-child"] * len(child_rep) + ["duplicate-cin-details"] * len(detail_rep)})
    issues = combine_issues([c.issues for c in censuses] + [child_issues, detail_issues])
    return CinStack(kept_children, kept.drop(columns="key"),
                    episodes.reset_index(drop=True), np.concatenate([child_old, detail_old]).astype(np.int64),
                    repeats, issues)


def _latest(frame: pd.DataFrame, keys: list[str], code: str) -> tuple[
        pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray, pd.Series]:
    """Kept rows, issues on repeats, superseded and repeated row ids, and row id -> its winner's row id."""
    usable = frame[frame["quarantined"].isna()]
    ordered = usable.sort_values([*keys, "return_year", "row_id"], ascending=[*[True] * len(keys), False, True],
                                 kind="stable")
    repeat = ordered.duplicated(keys, keep="first")
    winner = ordered[["return_year", "line", "file", "row_id"]].where(~repeat).ffill()
    same = repeat & (winner["return_year"] == ordered["return_year"])
    dup, first = ordered[same], winner[same]
    table = CHILDREN if code == "duplicate-child" else DETAILS
    value = dup["referral_date"].dt.strftime("%Y-%m-%d") if code == "duplicate-cin-details" else None
    detail = (" (the first is at line " + first["line"].astype("int64").astype("str") + " of "
              + first["file"].astype("str") + ")")  # never the child's id: issues are stored (DESIGN 7)
    issues = issue_frame(code, dup["file"], table, dup["line"], "LAchildID" if table == CHILDREN
                             else "CINreferralDate", value, detail)
    kept = ordered[~repeat].sort_values("row_id", kind="stable").reset_index(drop=True)
    winners = pd.Series(winner.loc[~same, "row_id"].to_numpy(dtype=np.int64),
                        index=ordered.loc[~same, "row_id"].to_numpy())
    return kept, issues, ordered.loc[repeat & ~same, "row_id"].to_numpy(), dup["row_id"].to_numpy(), winners
