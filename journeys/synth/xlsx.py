"""Write a DataFrame as a one-sheet .xlsx with real Excel dates: fast, and the same bytes on every run.

openpyxl writes some 10^4 cells a second here, too slow for a 5,000-child extract, so the sheet XML is
built column by column with vectorised string operations. The package holds only what Excel,
LibreOffice and openpyxl need: content types, relationships, workbook, one worksheet with inline
strings, and styles with one date format.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

STAMP = (2025, 3, 31, 0, 0, 0)  # zip entry time: fixed so that the same data gives the same bytes
EXCEL_EPOCH = dt.date(1899, 12, 30)
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _parts(sheet: str, date_format: str) -> dict[str, str]:
    return {
        "[Content_Types].xml": HEAD + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{CT}.worksheet+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{CT}.styles+xml"/></Types>'),
        "_rels/.rels": HEAD + (
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": HEAD + (
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
            f'<sheet name="{escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": HEAD + (
            f'<Relationships xmlns="{PKG}">'
            f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{REL}/styles" Target="styles.xml"/></Relationships>'),
        "xl/styles.xml": HEAD + (
            f'<styleSheet xmlns="{MAIN}"><numFmts count="1"><numFmt numFmtId="164" '
            f'formatCode="{escape(date_format)}"/></numFmts>'
            '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'),
    }


def _letters(i: int) -> str:
    """Column letters: 0 -> A, 25 -> Z, 26 -> AA."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def _xml_text(values: pd.Series) -> pd.Series:
    text = values.astype("str")
    return text.str.replace("&", "&amp;").str.replace("<", "&lt;").str.replace(">", "&gt;")


def _cells(values: pd.Series, ref: pd.Series) -> pd.Series:
    """The <c> element of each value of one column ('' where missing)."""
    missing = values.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(values):
        days = (values.dt.normalize() - pd.Timestamp(EXCEL_EPOCH)).dt.days
        body = '<c r="' + ref + '" s="1"><v>' + days.fillna(0).astype("int64").astype("str") + "</v></c>"
    elif pd.api.types.is_numeric_dtype(values):
        body = '<c r="' + ref + '"><v>' + values.astype("str") + "</v></c>"
    else:
        body = '<c r="' + ref + '" t="inlineStr"><is><t>' + _xml_text(values) + "</t></is></c>"
    return body.where(~missing, "")


def write_xlsx(frame: pd.DataFrame, path: Path, sheet: str, date_format: str = "dd/mm/yyyy") -> None:
    """One sheet: a header row, then the rows; datetime columns become Excel dates, missing cells empty."""
    frame = frame.reset_index(drop=True)
    row_no = pd.Series(np.arange(2, len(frame) + 2), dtype="int64").astype("str")
    rows = '<row r="' + row_no + '">'
    head = '<row r="1">'
    for i, column in enumerate(frame.columns):
        letter = _letters(i)
        head += f'<c r="{letter}1" t="inlineStr"><is><t>{escape(str(column))}</t></is></c>'
        rows = rows + _cells(frame[column], letter + row_no)
    body = head + "</row>" + "".join((rows + "</row>").tolist())
    parts = _parts(sheet, date_format)
    parts["xl/worksheets/sheet1.xml"] = HEAD + f'<worksheet xmlns="{MAIN}"><sheetData>{body}</sheetData></worksheet>'
    order = ["[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
             "xl/styles.xml", "xl/worksheets/sheet1.xml"]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in order:
            entry = zipfile.ZipInfo(name, date_time=STAMP)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, parts[name].encode("utf-8"))
