"""CIN census inputs in a build: read and account for them, map their stages, and make them intervals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from journeys.accounting import RowLedger
from journeys.cin import CinCensus, CinStack, account_cin, is_cin_census, read_cin_census
from journeys.columns import positions
from journeys.config import PathwayConfig
from journeys.joined import COVER, INTERVAL_COLUMNS, censor
from journeys.mapping import map_episodes
from journeys.pseudonymise import child_keys, pseudonymise_keys


Parse = Callable[[Sequence[Path]], list[CinCensus]]  # census files -> their censuses, in order


@dataclass(frozen=True)
class CinInputs:
    """The stacked census returns of a build and the census date they speak for."""

    stack: CinStack
    reference_date: dt.date | None
    first_year: int | None
    keyed: bool = False  # the children's ids are keyed already (a partition of a build on Dask): never the ids


def split_inputs(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """CIN census XML (recognised by content, not name) and every other input."""
    cin = [Path(p) for p in paths if Path(p).is_file() and is_cin_census(Path(p))]
    return cin, [Path(p) for p in paths if Path(p) not in cin]


def load_cin(paths: list[Path], ledger: RowLedger, parse: Parse | None = None) -> CinInputs:
    """Read every census file and register its children and CINdetails blocks in the ledger (`parse`: how the
    files become censuses, in their order; by default one after another, here)."""
    censuses = parse(paths) if parse is not None else [read_cin_census(p) for p in paths]
    dates = [c.reference_date for c in censuses if c.reference_date is not None]
    years = [c.collection_year for c in censuses if c.collection_year]
    return CinInputs(account_cin(ledger, censuses), max(dates) if dates else None, min(years) if years else None)


def cin_intervals(cin: CinInputs, config: PathwayConfig, key: str | None, ledger: RowLedger,
                  issues: list[pd.DataFrame], extract_date: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map census episodes to stages (rules with `source: cin`) and return (intervals, episodes).

    A block whose stage or closure reason no rule maps is quarantined whole: its episodes share
    the block's ledger row, so none of them may be used.
    """
    rows = _with_characteristics(cin.stack.episodes, cin.stack.children)
    rows["person_id"] = child_keys(rows["person_id"], None if cin.keyed else key)
    rows["row"] = rows["line"]
    rows = rows[rows["start"] <= pd.Timestamp(extract_date)].reset_index(drop=True)
    late = rows["end"] > pd.Timestamp(extract_date)
    rows.loc[late, ["end", "exit_code"]] = [pd.NaT, pd.NA]
    mapped, found = map_episodes(rows, config, source="cin")
    issues.append(found)
    bad = (mapped["action"] == "unmapped") | (mapped["outcome"] == "unmapped")
    bad_blocks = mapped.loc[bad, "row_id"].unique()
    codes = np.where(mapped.loc[bad, "action"] == "unmapped", "unknown-service-code", "unknown-exit-code")
    ledger.quarantine(mapped.loc[bad, "row_id"], codes)
    ignored = (mapped["action"] == "ignore") & ~mapped["row_id"].isin(bad_blocks)
    ledger.ignore(mapped.loc[ignored, "row_id"], mapped.loc[ignored, "rule"])
    used = mapped[~mapped["row_id"].isin(bad_blocks) & (mapped["action"] == "stage")]
    data_start = pd.Timestamp(dt.date(cin.first_year - 1, 4, 1)) if cin.first_year else None
    intervals = pd.DataFrame({
        "person_id": used["person_id"], "stage": used["stage"], "start": used["start"], "end": used["end"],
        "outcome": used["outcome"], "exit_detail": used["outcome_detail"],
        "left_truncated": (used["start"] < data_start) if data_start is not None else False, "moves": 0,
    })[INTERVAL_COLUMNS]
    return censor(pd.concat([intervals, _case_cover(used, intervals)], ignore_index=True), extract_date), \
        in_input_order(used, ledger)


def keyed_cin(cin: CinInputs, key: str) -> CinInputs:
    """The census with every child's id replaced by its keyed pseudonym, as `CanonicalTables.key_children` does
    the tables', so that a child's census and care rows meet, and no process sent them sees an id."""
    stack = cin.stack
    children = stack.children.assign(la_child_id=pseudonymise_keys(stack.children["la_child_id"], key))
    episodes = stack.episodes.assign(person_id=pseudonymise_keys(stack.episodes["person_id"], key))
    return CinInputs(CinStack(children, stack.details.iloc[:0], episodes, stack.superseded[:0], stack.repeats.iloc[:0],
                              stack.issues), cin.reference_date, cin.first_year, keyed=True)


def in_input_order(rows: pd.DataFrame, ledger: RowLedger) -> pd.DataFrame:
    """Census episodes in the order of the inputs (file as the ledger first registered it, then line): the
    episodes table's order, which a build in partitions of children can give back (`partitioned.child_order`)
    and which says nothing of how the children's ids sort."""
    files = pd.Index(list(dict.fromkeys(file for file, *_ in ledger.tables)))  # in the order first registered
    place = positions(rows["file"].astype("str"), files).astype(np.int64)
    return rows.iloc[np.lexsort((rows["line"].to_numpy(dtype=np.int64), place))].reset_index(drop=True)


def _with_characteristics(episodes: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """Each census episode with its child's sex, month of birth and ethnicity (the app filters on them)."""
    kids = children.drop_duplicates("la_child_id")
    born = pd.to_datetime(kids["birth_date"], errors="coerce")
    traits = pd.DataFrame({"person_id": kids["la_child_id"].to_numpy(), "sex": kids["sex"].to_numpy(),
                           "birth_month": (born - pd.to_timedelta(born.dt.day - 1, unit="D")).to_numpy(),
                           "ethnicity": kids["ethnicity"].to_numpy()})
    return episodes.drop(columns=[c for c in ("sex", "birth_month", "ethnicity") if c in episodes]).merge(
        traits, on="person_id", how="left")


def _case_cover(used: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """One interval per CINdetails block from its referral to its closure (open if any stage is)."""
    blocks = intervals.assign(block=used["row_id"].to_numpy(), is_open=intervals["end"].isna())
    cover = blocks.groupby("block", sort=True).agg(person_id=("person_id", "first"), start=("start", "min"),
                                                   end=("end", "max"), is_open=("is_open", "any"),
                                                   left_truncated=("left_truncated", "any"))
    cover = cover[cover["is_open"] | (cover["end"] > cover["start"])]  # a same-day block needs no cover
    return pd.DataFrame({"person_id": cover["person_id"], "stage": COVER, "start": cover["start"],
                         "end": cover["end"].where(~cover["is_open"]), "outcome": None, "exit_detail": None,
                         "left_truncated": cover["left_truncated"], "moves": 0})[INTERVAL_COLUMNS]
