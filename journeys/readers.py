"""Read input files (CSV, XLSX, parquet) into tables of trimmed text, keeping each row's line number."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from journeys.errors import InputError

#: Line number of the first data row in a file with one header row (as a spreadsheet shows it).
FIRST_DATA_ROW = 2


@dataclass
class RawTable:
    """One table as read: text columns (blank -> <NA>), `_row` = the line an analyst finds it on."""

    file: str
    path: Path
    frame: pd.DataFrame
    encoding: str
    sheet: str | None = None

    @property
    def name(self) -> str:
        """The file name, with the sheet for workbooks."""
        return f"{self.file}[{self.sheet}]" if self.sheet else self.file


def decode_bytes(data: bytes, file: str) -> tuple[str, str]:
    """Decode UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252; say which was used."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise InputError(f"the file is neither UTF-8 nor Windows-1252 text (byte {exc.start} cannot be read)",
                         where=file, fix="save the file as CSV UTF-8 from Excel or your case system.") from None


def tidy_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Trim every text cell and column name; blank cells become <NA>."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_numeric_dtype(s) and not \
                pd.api.types.is_bool_dtype(s):
            out[str(col).strip()] = s
            continue
        s = s.astype("str").str.strip() if s.dtype != "str" else s.str.strip()
        out[str(col).strip()] = s.mask(s.isna() | (s == "") | (s == "nan") | (s == "None"))
    return pd.DataFrame(out, index=frame.index)


def _read_csv(path: Path) -> tuple[pd.DataFrame, str]:
    data = path.read_bytes()
    if not data.strip():
        raise InputError("the file is empty", where=path.name, fix="export the data again.")
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("the file is not text (it looks like a binary file with a .csv name)",
                         where=path.name, fix="export the data as CSV or XLSX.")
    text, encoding = decode_bytes(data, path.name)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.ParserError as exc:
        raise InputError(f"the file is not a valid CSV table: {exc}", where=path.name,
                         fix="check for unbalanced quotes or rows with extra commas.") from None
    return frame, encoding


def read_tables(path: Path) -> list[RawTable]:
    """All tables in one input file (one per sheet for workbooks)."""
    if not path.exists():
        raise InputError("the file does not exist", where=str(path), fix="check the file name and folder.")
    if path.is_dir():
        raise InputError("this is a folder, not a file", where=str(path),
                         fix="name the files inside it, e.g. folder/*.csv.")
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            sheets = pd.read_excel(path, sheet_name=None, dtype=str)
            tables = [RawTable(path.name, path, frame, "xlsx", str(name)) for name, frame in sheets.items()
                      if len(frame.columns)]
        elif suffix == ".parquet":
            tables = [RawTable(path.name, path, pd.read_parquet(path), "parquet")]
        else:
            frame, encoding = _read_csv(path)
            tables = [RawTable(path.name, path, frame, encoding)]
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure becomes one readable message
        raise InputError(f"the file could not be read as {suffix.lstrip('.') or 'a table'}: {exc}",
                         where=path.name, fix="open it in Excel and save it again as CSV or XLSX.") from None
    first = 1 if suffix == ".parquet" else FIRST_DATA_ROW
    for table in tables:
        table.frame = tidy_text(table.frame).reset_index(drop=True)
        table.frame["_row"] = pd.RangeIndex(first, first + len(table.frame))
        if len(table.sheet or "") and len(tables) == 1:
            table.sheet = None
    return tables
