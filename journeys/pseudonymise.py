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
import pyarrow.compute as pc

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


def pseudonym_order(text: pd.Series | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Pseudonyms as written (16 lowercase hex characters) back to their 64-bit numbers, whose order is the
    text's: a sort key for outputs without sorting text. Blank text, or text of another length, is 0.

    >>> pseudonym_order(pd.Series(["00000000000000ff", "ffffffffffffffff", None, "abc"])).tolist()
    [255, 18446744073709551615, 0, 0]
    """
    values = text if isinstance(text, (pa.Array, pa.ChunkedArray)) else pa.array(text, from_pandas=True)
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    return np.concatenate([_chunk_order(chunk) for chunk in chunks] or [np.zeros(0, dtype=np.uint64)])


def _chunk_order(chunk: pa.Array) -> np.ndarray:
    if not pa.types.is_large_string(chunk.type):
        chunk = chunk.cast(pa.string())
    ok = pc.fill_null(pc.equal(pc.utf8_length(chunk), 16), False)
    fixed = pc.if_else(ok, chunk, "0" * 16)  # every value 16 characters: one contiguous (n, 16) byte block
    wide = np.int64 if pa.types.is_large_string(fixed.type) else np.int32
    offsets = np.frombuffer(fixed.buffers()[1], dtype=wide)[fixed.offset: fixed.offset + len(fixed) + 1]
    chars = np.frombuffer(fixed.buffers()[2], dtype=np.uint8)[offsets[0]: offsets[-1]].reshape(len(fixed), 16)
    nibbles = _NIBBLE[chars]
    octets = np.ascontiguousarray((nibbles[:, 0::2] << 4) | nibbles[:, 1::2])  # most significant first
    out = octets.view(">u8").ravel().astype(np.uint64)
    return np.where(ok.to_numpy(zero_copy_only=False), out, np.uint64(0))


_NIBBLE = np.zeros(256, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)


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
