"""The SSDA903 header table: one row per child (latest return wins), attached to the child's episodes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeys.accounting import RowLedger
from journeys.config import PathwayConfig
from journeys.issues import issue_frame
from journeys.stacking import stack_header
from journeys.validate import check_header


def settle_header(header: pd.DataFrame, seen: np.ndarray, ledger: RowLedger,
                   issues: list[pd.DataFrame]) -> pd.DataFrame:
    """Check and stack header rows; a child with no episode row at all is quarantined."""
    if header.empty:
        return header
    found, missing = check_header(header)
    ledger.quarantine(header.loc[missing, "row_id"], "missing-child-id")
    header = header.drop(index=missing)
    stacked = stack_header(header)
    header, dupes = stacked.kept, stacked.issues
    ledger.supersede(stacked.superseded)
    ledger.quarantine(stacked.repeats, "duplicate-header")
    lonely = ~header["person_id"].isin(seen)
    bad = header[lonely]
    ledger.quarantine(bad["row_id"], "header-without-episodes")
    issues += [found, dupes, issue_frame("header-without-episodes", bad["file"], "header", bad["row"], "CHILD")]
    return header[~lonely]


def attach_header(episodes: pd.DataFrame, header: pd.DataFrame, config: PathwayConfig,
                   issues: list[pd.DataFrame], given: bool | None = None) -> pd.DataFrame:
    """SSDA903: sex, birth month and ethnicity from the header; a child without one gets a warning where a
    header table was `given` (default: where `header` has rows). Whether one was is for the build to say,
    not the rows of these children: a partition or the children an added file touches may have none."""
    if config.source.format != "ssda903":
        return episodes
    attrs = header.set_index("person_id")[["sex", "birth_date", "ethnicity"]] if len(header) else \
        pd.DataFrame(columns=["sex", "birth_date", "ethnicity"])
    for col in ("sex", "birth_date", "ethnicity"):
        episodes[col] = episodes["person_id"].map(attrs[col]) if len(attrs) else pd.NA
    firsts = episodes.drop_duplicates("person_id")
    lacking = firsts[~firsts["person_id"].isin(attrs.index)]
    if len(header) if given is None else given:
        issues.append(issue_frame("missing-header", lacking["file"], "episodes", lacking["row"], "CHILD"))
    return episodes
