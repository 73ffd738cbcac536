"""What a build keeps so that a later one can add to it (`incremental/` beside the outputs).

Its input rows with the children keyed (never their ids; dates of birth only as their month), one
file per build, and the census returns it read as stacked (each block's episodes; of each <Child>,
its key, sex, month of birth and ethnicity); where every input row ended up in the row accounting; its issues, each tied to the
child it is about by the file and row it names; and a manifest of the inputs (name, SHA-256), the
fingerprint (config, stage model, code, key) and the dates the extract date is decided from.
journeys.incremental reads it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from journeys.accounting import RowLedger
from journeys.cin_source import CinInputs
from journeys.columns import positions
from journeys.parquet_out import write_parquet
from journeys.pipeline import BuildResult

STATE_DIR = "incremental"
MANIFEST = "manifest.json"
FORMAT = 1
#: issues about no child: found when a file is read (kept with it), or decided by the whole build (decided again)
_READ_ISSUES = frozenset({"missing-column", "inferred-return-year"})
DECIDED_AGAIN = frozenset({"inferred-extract-date"})
_TABLE_LABEL = {"episodes": "episodes", "header": "header", "front_door": "episodes",  # as issues name them
                "cin_episodes": "episodes"}
_ROW = {"cin_episodes": "line"}  # the column that holds the row an issue names, where it is not `row`
#: the stacked census, keyed (journeys.cin_source.keyed_cin): each block's episodes, and each child's traits
CIN_KINDS = ("cin_episodes", "cin_children")
CIN_CHILD_COLUMNS = ["la_child_id", "sex", "birth_date", "ethnicity"]  # all a build reads of a <Child>
#: tables whose issues were found reading and stacking the census: kept as they are, about no child rebuilt
_CIN_READ_TABLES = frozenset({"cin_children", "cin_details"})


@dataclass
class Kept:
    """What a build keeps so that a later one can add to it (written to `incremental/` beside the outputs)."""

    rows: dict[str, pd.DataFrame]  # the rows this build read, by kind, in ledger order; person_id keyed (UInt64)
    bucket: np.ndarray  # every input row's outcome (RowLedger.bucket) ...
    reason: np.ndarray  # ... and its reason
    issues: pd.DataFrame  # the build's issues, with `_child` (UInt64: the child's key) and `_about_child`
    manifest: dict[str, Any]  # with `segments`: each kind's files of rows, the last of them this build's
    carried: dict[str, list[Path]] = field(default_factory=dict)  # earlier builds' files of rows, kept as they are


def input_entries(inputs: Sequence[Path], digest: Any) -> list[dict[str, str]]:
    """Each input's name and SHA-256 (by `digest(path)`), in the order given."""
    return [{"name": Path(p).name, "sha256": digest(Path(p))} for p in inputs]


def kept_for(result: BuildResult, rows: dict[str, pd.DataFrame], ledger: RowLedger, table_info: list[dict[str, Any]],
             inputs: Sequence[Path], *, fingerprint: str, digest: Any, extract_date: dt.date | None,
             return_year: int | None, cin: dict[str, Any] | None = None) -> Kept | None:
    """What a build of every input keeps for the next (its rows keyed, in ledger order; the ledger with every
    row's outcome), or None where an issue cannot be tied to a child."""
    issues = attributed(result.issues, rows)
    if issues is None:
        return None
    manifest = {
        "format": FORMAT, "fingerprint": fingerprint, "inputs": input_entries(inputs, digest),
        "tables": [list(t) for t in ledger.tables], "table_info": table_info, "kinds": sorted(rows),
        "extract_date_given": iso_day(extract_date), "return_year_given": return_year,
        "care_date": iso_day(_care_date(result.report)), "latest": latest_dates(rows["episodes"]),
        "segments": {kind: [segment_name(kind, 0)] for kind in rows},
        **({"cin": cin} if cin is not None else {}),  # the census's reference date, first year and extract date
    }
    return Kept({k: minimised(k, f) for k, f in rows.items()}, ledger.bucket, ledger.reason, issues, manifest)


def census_kept(cin: CinInputs, rows: dict[str, pd.DataFrame], report: dict[str, object]) -> dict[str, Any]:
    """Add a build's stacked, keyed census to the rows it keeps; returns what the manifest says of it (the
    reference date, first year and extract date a later build must build with)."""
    rows |= {"cin_episodes": cin.stack.episodes, "cin_children": cin.stack.children}
    dates = report["extract_dates"]
    assert isinstance(dates, dict)
    return {"reference_date": iso_day(cin.reference_date), "first_year": cin.first_year, "when": dates["cin"]}


def write_kept(kept: Kept, out: Path) -> None:
    """Write what a later build adds to into `out/incremental/` (the manifest last)."""
    state = Path(out) / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    (state / MANIFEST).unlink(missing_ok=True)
    listed = {name for names in kept.manifest["segments"].values() for name in names}
    for stale in state.glob("rows-*.parquet"):
        if stale.name not in listed:
            stale.unlink()
    for paths in kept.carried.values():  # the earlier build's rows, linked (or copied) unless already here
        for path in paths:
            target = state / path.name
            if target.exists() and target.samefile(path):
                continue
            target.unlink(missing_ok=True)
            try:
                os.link(path, target)
            except OSError:
                shutil.copyfile(path, target)
    for kind, frame in kept.rows.items():
        write_parquet(frame, state / kept.manifest["segments"][kind][-1])
    write_parquet(pd.DataFrame({"bucket": kept.bucket, "reason": pd.array(kept.reason, dtype="str")}),
                  state / "ledger.parquet")
    write_parquet(kept.issues, state / "issues.parquet")
    (state / MANIFEST).write_text(json.dumps(kept.manifest, indent=1, default=str), encoding="utf-8")


def iso_day(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _care_date(report: dict[str, object]) -> dt.date:
    return dt.date.fromisoformat(str(report["extract_date"]))


def segment_name(kind: str, inputs_before: int) -> str:
    """The file of one build's rows of a kind, named by how many inputs were read before them."""
    return f"rows-{kind}-{inputs_before}.parquet"


def latest_dates(dated: pd.DataFrame) -> dict[str, object]:
    """The latest dates and return year of the care rows: all the extract date is decided from."""
    def day(series: pd.Series) -> str | None:
        value = series.max()
        return None if pd.isna(value) else pd.Timestamp(value).isoformat()

    return {"start": day(dated["start"]), "end": day(dated["end"]),
            "return_year": int(dated["return_year"].max()) if len(dated) else 0}


def latest_frame(latest: dict[str, object]) -> pd.DataFrame:
    """One row standing for every earlier care row in the extract date's decision."""
    return pd.DataFrame({"start": pd.to_datetime([latest["start"]]).astype("datetime64[us]"),
                         "end": pd.to_datetime([latest["end"]]).astype("datetime64[us]"),
                         "return_year": np.array([latest["return_year"]], dtype=np.int32)})


def minimised(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows as kept: a header's date of birth only as its month (all a build reads of it), and as written
    only where it could not be read (the warning quotes it); of a census <Child>, its key, sex, month of
    birth and ethnicity only (no UPN)."""
    if kind == "cin_children":
        born = pd.to_datetime(frame["birth_date"], errors="coerce")
        return frame[CIN_CHILD_COLUMNS].assign(
            birth_date=born.dt.to_period("M").dt.start_time.astype(frame["birth_date"].dtype))
    if kind != "header" or "birth_date" not in frame:
        return frame
    out = frame.copy()
    born = pd.to_datetime(out["birth_date"])
    out["birth_date"] = born.dt.to_period("M").dt.start_time.astype(born.dtype)
    if "birth_date_text" in out:
        out["birth_date_text"] = out["birth_date_text"].where(born.isna())
    return out


def attributed(issues: pd.DataFrame, rows: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    """The issues with the child each is about (`_child`, `_about_child`), by the file and row it names;
    None where an issue names a row no kept row is, or is about no child and is not one of the kinds kept
    as they are (read from a file) or decided again."""
    frames = {kind: frame for kind, frame in rows.items() if len(frame) and kind in _TABLE_LABEL}
    if "cin_episodes" in frames:  # an assessment is two stages on one line: one child's, named once
        frames["cin_episodes"] = frames["cin_episodes"].drop_duplicates(["file", "line", "person_id"])
    files = pd.Index(sorted({str(f) for frame in frames.values() for f in frame["file"].unique()} |
                            {str(f) for f in issues["file"].dropna().unique()}))
    labels = sorted(set(_TABLE_LABEL.values()))

    def where(file: pd.Series, label: np.ndarray, row: np.ndarray) -> np.ndarray:
        """(table label, file, row) as one number: labels and files are few, rows below 2^40."""
        return (label.astype(np.int64) << 60) | (positions(file.astype("str"), files).astype(np.int64) << 40) | row

    keys = [where(frame["file"], np.full(len(frame), labels.index(_TABLE_LABEL[kind])),
                  frame[_ROW.get(kind, "row")].to_numpy(dtype=np.int64)) for kind, frame in frames.items()]
    lookup = pd.Index(np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64))
    if not lookup.is_unique:
        return None
    children = pd.concat([frame["person_id"] for frame in frames.values()], ignore_index=True).astype("UInt64") \
        if frames else pd.Series([], dtype="UInt64")
    read = issues["table"].isin(_CIN_READ_TABLES).to_numpy()  # census reading and stacking: about no rebuild
    named = issues["row"].notna().to_numpy() & ~read
    label = issues["table"].map({name: i for i, name in enumerate(labels)}).fillna(len(labels)).to_numpy(np.int64)
    at = lookup.get_indexer(where(issues["file"].fillna(""), label, issues["row"].fillna(-1).to_numpy(np.int64)))
    at[~named] = -1
    if (named & (at < 0)).any() or not (issues.loc[~named & ~read, "code"].isin(_READ_ISSUES | DECIDED_AGAIN)).all():
        return None
    out = issues.copy()
    found = np.maximum(at, 0)
    values = children.to_numpy(dtype=np.uint64, na_value=0)[found] if len(children) else \
        np.zeros(len(at), dtype=np.uint64)
    missing = (at < 0) | (children.isna().to_numpy()[found] if len(children) else True)
    out["_child"] = pd.arrays.IntegerArray(values, np.asarray(missing, dtype=bool))
    out["_about_child"] = named
    return out
