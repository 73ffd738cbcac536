"""Apply a pathway config's rules: each episode gets a stage (or is absorbed or ignored), each end an outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeys.accounting import RowLedger
from journeys.columns import text_column
from journeys.config import PathwayConfig, Rule
from journeys.errors import ConfigError
from journeys.issues import combine_issues, issue_frame


def _rule_mask(codes: tuple[np.ndarray, pd.Index], rule: Rule) -> np.ndarray:
    """Rows whose value matches; the rule is evaluated once per distinct value, not per row."""
    row_codes, distinct = codes
    hit = np.array([rule.matches(str(v)) for v in distinct] + [False], dtype=bool)  # last: blank cells
    return hit[row_codes]


def _column_for(frame: pd.DataFrame, config: PathwayConfig, rule: Rule, index: int) -> str:
    column = config.canonical(rule.column, rule.source)
    if column not in frame:
        raise ConfigError(f"rules[{index}] ({rule.label}) matches the column '{rule.column}', which the "
                          f"input does not have", where=f"pathway config '{config.authority}'",
                          fix="name a column of the input (for local extracts, one named in source.columns).")
    return column


def map_episodes(frame: pd.DataFrame, config: PathwayConfig, source: str | None = None) -> tuple[
        pd.DataFrame, pd.DataFrame]:
    """Add `action`, `stage`, `rule`, `outcome`, `outcome_detail`, `continues`; issues for unmapped codes.

    Episode rules (stage, absorb, ignore) and exit rules (outcome) are each first-match-wins. Rows
    with an unmapped code or end reason get action `unmapped` / outcome `unmapped`; the caller
    quarantines them.
    """
    n = len(frame)
    exits = frame["exit_code"]
    continuation = set(config.source.continuation_codes) if source is None else set()  # the care source's
    continues = exits.isin(continuation).to_numpy()
    has_exit = (exits.notna() & ~exits.isin(continuation)).to_numpy()
    factorized: dict[str, tuple[np.ndarray, pd.Index]] = {}
    # each row's first matching episode rule and exit rule, by number (-1: none): integer work per rule, and the
    # text columns taken from the rules once at the end
    episode_rules: list[Rule] = []
    exit_rules: list[Rule] = []
    first_episode = np.full(n, -1, dtype=np.int32)
    first_exit = np.full(n, -1, dtype=np.int32)
    for i, rule in enumerate(config.rules):
        if rule.source != source:  # rules without `source` are for the config's own source
            continue
        column = _column_for(frame, config, rule, i)
        if column not in factorized:
            factorized[column] = pd.factorize(frame[column], use_na_sentinel=True)
        if rule.action == "outcome":
            first_exit[(first_exit < 0) & has_exit & _rule_mask(factorized[column], rule)] = len(exit_rules)
            exit_rules.append(rule)
        else:
            first_episode[(first_episode < 0) & _rule_mask(factorized[column], rule)] = len(episode_rules)
            episode_rules.append(rule)
    unmapped = first_episode < 0
    action = text_column([r.action for r in episode_rules], first_episode, "unmapped")
    bad_exit = has_exit & (first_exit < 0) & np.asarray(action != "ignore", dtype=bool)
    out = frame.assign(action=action, stage=text_column([r.stage for r in episode_rules], first_episode),
                       rule=text_column([r.label for r in episode_rules], first_episode),
                       outcome=text_column([r.outcome for r in exit_rules], np.where(bad_exit, len(exit_rules), first_exit),
                                     None, "unmapped"),
                       outcome_detail=text_column([r.detail for r in exit_rules], first_exit), continues=continues)
    if source is None and config.legal_status_codes and "legal_status" in out:
        out["legal_status"] = legal_statuses(out["legal_status"], config.legal_status_codes)
    names = config.column_names(source)
    code_column = next((src for src, canon in names.items() if canon == "code"), "code")
    exit_column = next((src for src, canon in names.items() if canon == "exit_code"), "exit_code")
    miss, miss_exit = out[unmapped], out[bad_exit]
    issues = [
        issue_frame("unknown-service-code", miss["file"], "episodes", miss["row"], code_column,
                    miss["code"].astype("object").fillna(""), code_column),
        issue_frame("unknown-exit-code", miss_exit["file"], "episodes", miss_exit["row"], exit_column,
                    miss_exit["exit_code"]),
    ]
    return out, combine_issues(issues)


def legal_statuses(codes: pd.Series, local: dict[str, str]) -> pd.Series:
    """Legal-status codes with the config's local codes replaced by the DfE codes they mean (others as they were).

    >>> out = legal_statuses(pd.Series(["s20", "C2", "XYZ", None]), {"S20": "V2"})
    >>> out.tolist()[:3], bool(pd.isna(out.iloc[3]))
    (['V2', 'C2', 'XYZ'], True)
    """
    values = codes.to_numpy(dtype=object)
    mapped = pd.Series(values).astype("string").str.strip().str.upper().map(local)
    return pd.Series(np.where(mapped.notna(), mapped.to_numpy(dtype=object), values), index=codes.index, dtype=object)


def settle_mapping(mapped: pd.DataFrame, ledger: RowLedger) -> pd.Series:
    """Mark ignored rows (by rule) and unmapped ones (quarantined) in the ledger; True for the rows kept."""
    ignored = mapped["action"] == "ignore"
    ledger.ignore(mapped.loc[ignored, "row_id"], mapped.loc[ignored, "rule"])
    unmapped = ~ignored & ((mapped["action"] == "unmapped") | (mapped["outcome"] == "unmapped"))
    codes = np.where(mapped.loc[unmapped, "action"] == "unmapped", "unknown-service-code", "unknown-exit-code")
    ledger.quarantine(mapped.loc[unmapped, "row_id"], codes)
    return ~ignored & ~unmapped
