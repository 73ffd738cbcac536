"""Pseudonymise child ids at load with a keyed hash whose key stays on the council's machine.

The hash is SipHash-2-4 (a keyed pseudo-random function) as pandas implements it in C, so ids
of a whole country hash in a second; the 128-bit key lives in a file outside the repo and outside
configs (`$JOURNEYS_KEY_FILE`, else `~/.config/care-journeys/pseudonymisation.key`), created on
first use with permissions for its owner only. The same key gives the same pseudonym across
sources, which is what links a child's SSDA903 and CIN records.
"""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

KEY_ENV = "JOURNEYS_KEY_FILE"
_ALPHABET = string.ascii_letters + string.digits


def key_path() -> Path:
    """Where the pseudonymisation key is kept."""
    env = os.environ.get(KEY_ENV)
    return Path(env) if env else Path.home() / ".config" / "care-journeys" / "pseudonymisation.key"


def load_key(path: Path | None = None) -> str:
    """The 16-character key, created at random (about 95 bits) the first time."""
    path = path or key_path()
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
        if len(key) == 16:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def pseudonymise_keys(ids: pd.Series, key: str) -> pd.Series:
    """Keyed hash of each id as an unsigned 64-bit number (fast to sort and join); <NA> stays <NA>."""
    present = ids.notna().to_numpy()
    codes, uniques = pd.factorize(ids[present].astype("str"))
    hashed = pd.util.hash_array(np.asarray(uniques, dtype=object), hash_key=key, categorize=False)
    values = np.zeros(len(ids), dtype=np.uint64)
    values[present] = hashed[codes]
    return pd.Series(pd.arrays.IntegerArray(values, ~present), index=ids.index, dtype="UInt64")


def child_keys(ids: pd.Series, key: str | None) -> pd.Series:
    """`pseudonymise_keys`, or the ids as they are where `key` is None: rows keyed already (a build that adds
    to an earlier one keeps its children's rows keyed, never their ids)."""
    return ids.astype("UInt64") if key is None else pseudonymise_keys(ids, key)


def pseudonym_text(keys: pd.Series) -> pd.Series:
    """The pseudonym as written in outputs: 16 hex characters."""
    present = keys.notna().to_numpy()
    chars = _hex_chars(keys.to_numpy(dtype=np.uint64, na_value=0))
    offsets = np.arange(0, 16 * len(keys) + 1, 16, dtype=np.int32)
    validity = pa.array(present).buffers()[1] if not present.all() else None
    text = pa.Array.from_buffers(pa.string(), len(keys), [validity, pa.py_buffer(offsets), pa.py_buffer(chars)],
                                 null_count=int((~present).sum()))
    return pd.Series(text.to_pandas().array, index=keys.index, dtype="str")


def pseudonymise(ids: pd.Series, key: str) -> pd.Series:
    """Keyed hash of each id as 16 hex characters; <NA> stays <NA>. Equal ids get equal pseudonyms."""
    return pseudonym_text(pseudonymise_keys(ids, key))


_BYTE_HEX = np.array([f"{i:02x}".encode("ascii") for i in range(256)], dtype="S2").view(np.uint16)  # byte -> 2 chars


def _hex_chars(values: np.ndarray) -> np.ndarray:
    """uint64 -> 16 lowercase hex characters each, as one contiguous byte buffer (vectorised).

    Each value's 8 bytes, most significant first, each looked up as its two characters at once (a
    16-wide array of shifted copies cost ten times as much).

    >>> bytes(_hex_chars(np.array([0x0123456789ABCDEF, 255], dtype=np.uint64)))
    b'0123456789abcdef00000000000000ff'
    """
    big_endian = np.ascontiguousarray(values, dtype=">u8").view(np.uint8)
    return _BYTE_HEX[big_endian].view(np.uint8)
