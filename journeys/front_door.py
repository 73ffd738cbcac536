"""Local front-door extracts (contacts, early help, referrals...) in a build: checked, mapped, as intervals."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from journeys.accounting import RowLedger
from journeys.config import PathwayConfig
from journeys.joined import INTERVAL_COLUMNS, censor
from journeys.mapping import map_episodes, settle_mapping
from journeys.pseudonymise import child_keys
from journeys.validate import check_episodes


def front_door_intervals(rows: pd.DataFrame, config: PathwayConfig, key: str | None, ledger: RowLedger,
                         issues: list[pd.DataFrame], extract_date: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check the steps (errors quarantined), map them with `source: front_door` rules; (intervals, rows used).

    Steps are not stacked like annual returns: an extract is one history, and two steps of a child
    may well start on the same day (a contact and the referral it became).
    """
    rows = rows.assign(person_id=child_keys(rows["person_id"], key))
    found, errors = check_episodes(rows, extract_date)
    assert config.front_door is not None
    names = {canon: src for src, canon in config.front_door.columns.mapping().items()}
    found["column"] = found["column"].map(lambda c: names.get(c, c) if isinstance(c, str) else c)
    issues.append(found)
    ledger.quarantine(rows.loc[errors.index, "row_id"], errors.to_numpy())
    rows = rows.drop(index=errors.index)
    late = rows["end"] > pd.Timestamp(extract_date)
    rows.loc[late | rows["end"].isna(), ["end", "exit_code"]] = [pd.NaT, pd.NA]
    mapped, found = map_episodes(rows.reset_index(drop=True), config, source="front_door")
    issues.append(found)
    kept = settle_mapping(mapped, ledger)
    used = mapped[kept & (mapped["action"] == "stage")]
    start = config.front_door.data_start
    intervals = pd.DataFrame({
        "person_id": used["person_id"], "stage": used["stage"], "start": used["start"], "end": used["end"],
        "outcome": used["outcome"], "exit_detail": used["outcome_detail"],
        "left_truncated": (used["start"] < pd.Timestamp(start)) if start else False, "moves": 0,
    })[INTERVAL_COLUMNS]
    return censor(intervals, extract_date), used
