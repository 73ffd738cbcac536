"""Turn raw tables into canonical episode and header tables: recognise each table, rename, parse."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from journeys.accounting import RowLedger
from journeys.config import SSDA903_EPISODE_COLUMNS, SSDA903_HEADER_COLUMNS, PathwayConfig
from journeys.issues import issue_frame
from journeys.pseudonymise import pseudonymise_keys
from journeys.readers import RawTable

DATE_DTYPE = "datetime64[us]"
SSDA903_EPISODES_REQUIRED = ["CHILD", "DECOM", "RNE", "LS", "PLACE", "DEC", "REC"]
SSDA903_HEADER_REQUIRED = ["CHILD", "SEX", "DOB"]
#: Canonical text columns whose values are codes: trimmed and put in capitals.
CODE_COLUMNS = ["code", "exit_code", "rne", "legal_status", "need_code", "sex", "ethnicity"]


@dataclass
class CanonicalTables:
    """Canonical episodes and header rows with their ledger ids, and the issues found on the way."""

    episodes: list[pd.DataFrame] = field(default_factory=list)
    header: list[pd.DataFrame] = field(default_factory=list)
    front_door: list[pd.DataFrame] = field(default_factory=list)
    issues: list[pd.DataFrame] = field(default_factory=list)
    inputs: list[dict[str, object]] = field(default_factory=list)

    def key_children(self, key: str) -> None:
        """Every row's child id replaced by its keyed pseudonym (UInt64), in place: builds that keep the rows
        (journeys.kept) or send them to other machines (journeys.partitioned) never hold the ids."""
        for frame in (*self.episodes, *self.header, *self.front_door):
            frame["person_id"] = pseudonymise_keys(frame["person_id"], key)


def _find(columns: list[str], wanted: str) -> str | None:
    """The column matching `wanted`, ignoring case."""
    for col in columns:
        if col.upper() == wanted.upper():
            return col
    return None


def _front_door_keys(config: PathwayConfig) -> list[str]:
    assert config.front_door is not None
    named = config.front_door.columns
    return [named.person_id, named.start, named.code]


def _has_all(columns: list[str], wanted: list[str]) -> bool:
    return all(_find(columns, w) is not None for w in wanted)


def classify(raw: RawTable, config: PathwayConfig) -> tuple[str, dict[str, str], list[str]]:
    """Which table this is (episodes or header), source -> canonical renames, and missing columns."""
    cols = [c for c in raw.frame.columns if c != "_row"]
    if config.front_door is not None and _has_all(cols, _front_door_keys(config)):
        mapping = config.front_door.columns.mapping()
        return "front_door", {_find(cols, src) or src: canon for src, canon in mapping.items()
                              if _find(cols, src)}, []
    if config.source.format == "local":
        mapping = config.column_names()
        required = [c for c in ("person_id", "start", "end", "code") if c in mapping.values()]
        wanted = {src: canon for src, canon in mapping.items()}
        kind = "episodes"
        required_src = [src for src, canon in mapping.items() if canon in required]
    else:
        upper = {c.upper() for c in cols}
        if "DECOM" in upper or "DOB" not in upper and "SEX" not in upper:
            kind, wanted, required_src = "episodes", SSDA903_EPISODE_COLUMNS, SSDA903_EPISODES_REQUIRED
        else:
            kind, wanted, required_src = "header", SSDA903_HEADER_COLUMNS, SSDA903_HEADER_REQUIRED
    renames = {}
    for src, canon in wanted.items():
        found = _find(cols, src)
        if found is not None:
            renames[found] = canon
    missing = [src for src in required_src if _find(cols, src) is None]
    return kind, renames, missing


_DATE_PARTS = {"%d": r"(?P<day>\d{1,2})", "%m": r"(?P<month>\d{1,2})", "%Y": r"(?P<year>\d{4})"}
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _date_regex(date_format: str) -> str | None:
    """A regular expression for formats made of %d, %m and %Y (the usual ones); None for others."""
    tokens = [t for t in re.split(r"(%.)", date_format) if t]
    if any(t.startswith("%") and t not in _DATE_PARTS for t in tokens) or len(set(tokens) & set(_DATE_PARTS)) != 3:
        return None
    return "^" + "".join(_DATE_PARTS.get(t, re.escape(t)) for t in tokens) + "$"


def _parse_parts(raw: pd.Series, pattern: str) -> pd.Series:
    """Vectorised: pick day, month and year out of the text and keep only real calendar dates."""
    text = pa.array(raw.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    parts = pc.extract_regex(text, pattern)
    matched = pc.is_valid(parts).to_numpy(zero_copy_only=False)

    def field(name: str) -> np.ndarray:
        return pc.cast(pc.struct_field(parts, name), pa.int64()).to_numpy(zero_copy_only=False)

    year, month, day = (np.nan_to_num(field(n), nan=1).astype(np.int64) for n in ("year", "month", "day"))
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    length = _MONTH_DAYS[np.clip(month, 1, 12) - 1] + (leap & (month == 2))
    ok = matched & month_ok & (day >= 1) & (day <= length)
    months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    dates = months.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
    return pd.Series(np.where(ok, dates.astype(DATE_DTYPE), np.datetime64("NaT")), index=raw.index,
                     dtype=DATE_DTYPE)


def parse_dates(raw: pd.Series, date_format: str) -> pd.Series:
    """Dates in the config's format, else ISO 8601; unreadable text becomes NaT (the caller reports it).

    >>> parse_dates(pd.Series(["01/02/2019", "31/02/2019", "1/2/2019", "2019-02-01", None]), "%d/%m/%Y").tolist()
    [Timestamp('2019-02-01 00:00:00'), NaT, Timestamp('2019-02-01 00:00:00'), Timestamp('2019-02-01 00:00:00'), NaT]
    """
    if pd.api.types.is_datetime64_any_dtype(raw):
        return raw.astype(DATE_DTYPE).dt.normalize()
    codes, distinct = pd.factorize(raw.astype("str"))  # a decade has ~4,000 distinct dates: parse those
    parsed = np.append(_parse_distinct(pd.Series(distinct, dtype="str"), date_format).to_numpy(),
                       np.datetime64("NaT"))  # code -1 (blank) takes the NaT at the end
    dates = parsed[codes]
    return pd.Series(dates, index=raw.index, dtype=DATE_DTYPE)


def _parse_distinct(text: pd.Series, date_format: str) -> pd.Series:
    """Parse each distinct text once: the config's format in bulk, then ISO 8601 for the rest."""
    pattern = _date_regex(date_format)
    if pattern is not None:
        dates = _parse_parts(text, pattern)
    else:
        dates = pd.to_datetime(text, format=date_format, errors="coerce").astype(DATE_DTYPE)
    retry = dates.isna() & text.notna()
    if retry.any():  # ISO dates, and Excel's 'yyyy-mm-dd 00:00:00', are accepted in any config
        dates[retry] = pd.to_datetime(text[retry], format="ISO8601", errors="coerce").astype(DATE_DTYPE)
    return dates.dt.normalize()


def infer_return_year(frame: pd.DataFrame) -> int | None:
    """The collection whose 31 March follows the latest date in the table (year of that 31 March)."""
    dates = [frame[c].max() for c in ("start", "end") if c in frame and frame[c].notna().any()]
    if not dates:
        return None
    latest = max(dates)
    return int(latest.year + (1 if (latest.month, latest.day) > (3, 31) else 0))


def year_in_name(name: str) -> int | None:
    """A collection year written in a file name: '2016-17' or '2016_17' -> 2017, a lone '2017' -> 2017."""
    match = re.search(r"(20\d\d)[-_ ]?(\d\d)(?!\d)", name)
    if match and (int(match.group(1)) + 1) % 100 == int(match.group(2)):
        return int(match.group(1)) + 1
    match = re.search(r"(?<!\d)(20\d\d)(?!\d)", name)
    return int(match.group(1)) if match else None


def canonicalise(raw: RawTable, config: PathwayConfig, ledger: RowLedger, tables: CanonicalTables,
                 return_year: int | None) -> None:
    """Add one raw table to `tables` in canonical form, registering its rows in the ledger."""
    kind, renames, missing = classify(raw, config)
    row_ids = ledger.add_table(raw.name, kind, len(raw.frame))
    entry: dict[str, object] = {"file": raw.name, "table": kind, "encoding": raw.encoding,
                                "rows": len(raw.frame)}
    tables.inputs.append(entry)
    if missing:
        present = [c for c in raw.frame.columns if c != "_row"]
        hints = []
        for col in missing:
            close = difflib.get_close_matches(col, present, n=1, cutoff=0.6)
            hints.append(f" (is '{close[0]}' meant to be {col}?)" if close else "")
        tables.issues.append(issue_frame("missing-column", raw.name, kind, None, None, missing,
                                         [h or f" (found: {', '.join(present[:15])})" for h in hints]))
        ledger.quarantine(row_ids, "missing-column")
        return
    frame = raw.frame.rename(columns=renames)
    needed = config.needed_columns()
    keep = [c for c in dict.fromkeys(renames.values()) if c in needed]  # postcodes, URNs... are not read on
    out = frame[keep].copy()
    out.insert(0, "row_id", row_ids)
    out.insert(1, "file", raw.name)
    out.insert(2, "row", frame["_row"].to_numpy())
    for col in CODE_COLUMNS:
        if col in out and not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].str.upper()
    date_cols = ["birth_date"] if kind == "header" else ["start", "end"]
    date_format = config.front_door.date_format if kind == "front_door" and config.front_door else \
        config.source.date_format
    for col in date_cols:
        if col in out:
            out[col + "_text"] = out[col].astype("str")
            out[col] = parse_dates(out[col], date_format)
    year = return_year or config.source.return_year
    if kind == "episodes" and config.source.format == "ssda903":
        if year is None:
            year = infer_return_year(out)
            if year is not None:
                tables.issues.append(issue_frame("inferred-return-year", raw.name, kind, value=str(year)))
                entry["return_year_inferred"] = True
    if kind == "header" and year is None:
        year = year_in_name(raw.name)
    entry["return_year"] = year
    out["return_year"] = np.int32(year or 0)
    out["source"] = "front_door" if kind == "front_door" else config.source.format
    {"episodes": tables.episodes, "header": tables.header, "front_door": tables.front_door}[kind].append(out)
