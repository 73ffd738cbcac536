"""Files coming in from the app's Data page: uploads and folders, checked before anything touches the disk.

No name or path from the browser reaches the filesystem unchecked (DESIGN 7): an upload keeps
only a cleaned base name, must have an extract's extension and the bytes that type starts with,
and stays under a size limit; a folder must exist and only its extract files are read.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

from journeys.errors import InputError

EXTENSIONS = (".csv", ".xlsx", ".xml", ".parquet")
MAX_FILE_BYTES = 200 * 1024 * 1024
_MAGIC = {".xlsx": (b"PK\x03\x04",), ".parquet": (b"PAR1",)}
_SAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_filename(name: str) -> str:
    """The base name only, with anything but letters, digits, dot, dash, underscore and space replaced.

    >>> safe_filename("../../etc/passwd.csv"), safe_filename("C:\\\\x\\\\ssda903 2024.csv")
    ('passwd.csv', 'ssda903 2024.csv')
    """
    base = re.split(r"[\\\\/]", name)[-1].strip()
    cleaned = _SAFE.sub("_", base).lstrip(".")
    if not cleaned:
        raise InputError(f"'{name}' is not a usable file name", fix="rename the file and upload it again.")
    return cleaned


def check_extract(name: str, content: bytes) -> None:
    """Refuse files that are not extracts: wrong extension, too big, or bytes that do not match the type."""
    suffix = Path(name).suffix.lower()
    if suffix not in EXTENSIONS:
        raise InputError(f"{name} is not an extract file Care Journeys reads", where=name,
                         fix=f"upload {', '.join(EXTENSIONS)} files (SSDA903 or local CSV/XLSX, CIN census XML).")
    if len(content) > MAX_FILE_BYTES:
        raise InputError(f"{name} is {len(content) / 2**20:,.0f} MB, over the {MAX_FILE_BYTES // 2**20} MB upload limit",
                         where=name, fix="load it from a folder on this computer instead.")
    starts = _MAGIC.get(suffix)
    if starts and not content.startswith(starts):
        raise InputError(f"{name} is named {suffix} but its contents are not a {suffix} file", where=name,
                         fix="save it again from the case system or spreadsheet in that format.")
    if suffix == ".xml" and not content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        raise InputError(f"{name} is named .xml but does not start with XML", where=name,
                         fix="upload the CIN census XML file as exported.")


def save_upload(name: str, data_url: str, folder: Path) -> Path:
    """Decode a browser upload ('data:...;base64,...'), check it and write it into `folder` under a safe name."""
    clean = safe_filename(name)
    try:
        content = base64.b64decode(data_url.split(",", 1)[1], validate=True)
    except (IndexError, binascii.Error) as exc:
        raise InputError(f"{clean} did not arrive whole", where=clean, fix="upload it again.") from exc
    check_extract(clean, content)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / clean
    target.write_bytes(content)
    return target


def folder_extracts(path_text: str) -> list[Path]:
    """The extract files directly inside a folder on this computer (no sub-folders), sorted by name."""
    folder = Path(path_text.strip()).expanduser()
    if not path_text.strip() or not folder.is_dir():
        raise InputError(f"'{path_text}' is not a folder on this computer",
                         fix="type the full path of the folder that holds the extract files.")
    files = sorted(p for p in folder.resolve().iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)
    if not files:
        raise InputError(f"{folder} holds no extract files ({', '.join(EXTENSIONS)})",
                         fix="choose the folder the returns or extracts were saved in.")
    return files


_AUTHORITY = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")


def new_config(authority: str, folder: Path, template: Path) -> Path:
    """Start an authority's pathway config from the national template (`authority` and `name` set), never overwriting.

    The analyst then edits its rules; the file is checked like any config when a build uses it.
    """
    slug = authority.strip().lower().replace(" ", "-")
    if not _AUTHORITY.match(slug):
        raise InputError(f"'{authority}' cannot name a config",
                         fix="use 2 to 40 lower-case letters, digits, - or _, starting with a letter (e.g. 'northgate').")
    target = folder / f"{slug}.yaml"
    if target.exists():
        raise InputError(f"there is already a config for {slug}", where=str(target),
                         fix="choose it from the list, or pick another name.")
    text = template.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^authority: .*$", f"authority: {slug}", text, count=1)
    text = re.sub(r"(?m)^name: .*$", f"name: {slug} (started from the national SSDA903 codes)", text, count=1)
    target.write_text(text, encoding="utf-8")
    return target
