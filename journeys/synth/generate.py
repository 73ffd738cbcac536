"""generate_care_episodes: full, seeded, vectorised care histories in SSDA903 terms."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from journeys.synth import tables as T
from journeys.synth.care import PLACE_CODES, build_episodes, postcodes_and_urns
from journeys.synth.draw import IntArray, add_years, day_of
from journeys.synth.episodes import RNE_CODES
from journeys.synth.periods import Cohort, simulate_cohort

CHUNK = 100_000  # children simulated at a time: bounds memory; part of the seed's meaning, keep fixed
FIRST_ID = 100_000
UPN_LETTERS = np.frombuffer(b"ABCDEFGHJKLMNPQRTUVWXYZ", dtype=np.uint8)
EPISODE_COLUMNS = ("CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
                   "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN")
HEADER_COLUMNS = ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")


def window(first_year: int, last_year: int) -> tuple[int, int]:
    """(first day, extract day): 1 April of `first_year` to 31 March of `last_year`, as days."""
    return day_of(dt.date(first_year, 4, 1)), day_of(dt.date(last_year, 3, 31))


def _dates(days: np.ndarray) -> np.ndarray:
    """Days (-1 = none) as datetime64[s] with NaT."""
    seconds = days.astype(np.int64) * 86_400
    seconds[days < 0] = np.iinfo(np.int64).min  # NaT
    return seconds.view("datetime64[s]")


def _cat(codes: np.ndarray, categories: tuple[str, ...] | pd.CategoricalDtype) -> pd.Categorical:
    dtype = categories if isinstance(categories, pd.CategoricalDtype) else \
        pd.CategoricalDtype(pd.Index(list(categories), dtype="str"))
    size = len(dtype.categories)
    width = np.int8 if size < 127 else np.int16 if size < 32_000 else np.int32
    return pd.Categorical.from_codes(codes.astype(width), dtype=dtype, validate=False)


def _upns(rng: np.random.Generator, dob: IntArray) -> np.ndarray:
    """13-character UPNs: DfE check letter (weights 2-13, modulo 23), LA, school, year, serial."""
    n = len(dob)
    year = (dob.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970 + 5) % 100
    digits = np.empty((n, 12), dtype=np.int64)
    parts = ((rng.integers(201, 939, n), 3, 0), (rng.integers(1000, 8000, n), 4, 3), (year, 2, 7),
             (rng.integers(0, 1000, n), 3, 9))
    for value, width, start in parts:
        for j in range(width):
            digits[:, start + j] = value // 10 ** (width - 1 - j) % 10
    check = (digits * np.arange(2, 14)).sum(axis=1) % 23
    chars = np.empty((n, 13), dtype=np.uint8)
    chars[:, 0] = UPN_LETTERS[check]
    chars[:, 1:] = digits + ord("0")
    return chars.view("S13").ravel()


def _header(rng: np.random.Generator, co: Cohort, ep: dict[str, IntArray], extract: int) -> dict[str, np.ndarray]:
    """Header columns per child: sex, birth date, ethnicity, UPN (or UN1-UN5), mother and baby's birth."""
    n = co.n_children
    upn = _upns(rng, co.dob)
    first_start = np.full(n, extract, dtype=np.int64)
    np.minimum.at(first_start, ep["child"], ep["decom"])
    young = (first_start - co.dob < 4 * T.YEAR) & (rng.random(n) < 0.7)
    u = rng.random(n)
    unknown = np.select([young, co.uasc & (u < 0.5), u < 0.02, u < 0.03], [b"UN1", b"UN2", b"UN4", b"UN5"], b"")
    upn[unknown != b""] = unknown[unknown != b""]
    girl = ~co.male
    baby_born = co.dob + ((14.5 + 3.4 * rng.random(n)) * T.YEAR).astype(np.int64)
    mother = girl & (rng.random(n) < 0.03) & (baby_born <= extract) & (baby_born < add_years(co.dob, 18))
    return {"sex": (~co.male).astype(np.int8), "dob": co.dob.astype(np.int32), "ethnic": co.ethnic.astype(np.int8),
            "upn": upn, "mother": np.where(girl, mother, -1).astype(np.int8),
            "mc_dob": np.where(mother, baby_born, -1).astype(np.int32)}


def generate_care_episodes(n_children: int, seed: int, first_year: int = 2016,
                           last_year: int = 2025) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Full fictional care histories in SSDA903 terms: (episodes, header).

    The data window runs from 1 April `first_year` (the day after the first 31 March) to the extract
    date, 31 March `last_year`: collection years first_year-(first_year+1) to (last_year-1)-last_year,
    nine of them by default (2016-17 to 2024-25). Every episode open at some time in the window is
    there; children already in care when it opens start with an earlier DECOM (and often an RNE other
    than S). Open episodes at the extract date have DEC and REC null. `n_children` counts every child
    with an episode in the window (about 3.3 episodes each). Same arguments, same frames.
    """
    if n_children < 1:
        raise ValueError("n_children must be at least 1")
    if last_year <= first_year:
        raise ValueError("last_year must be after first_year (they are the years of the first and last 31 March)")
    window_start, extract = window(first_year, last_year)
    sizes = [min(CHUNK, n_children - i) for i in range(0, n_children, CHUNK)]
    episodes: list[dict[str, IntArray]] = []
    headers: list[dict[str, np.ndarray]] = []
    ids: list[IntArray] = []
    offset = 0
    for size, seq in zip(sizes, np.random.SeedSequence(seed).spawn(len(sizes))):
        rng = np.random.default_rng(seq)
        co = simulate_cohort(rng, size, window_start, extract)
        ep = build_episodes(rng, co, window_start, extract)
        headers.append(_header(rng, co, ep, extract))
        ep["child"] = ep["child"] + offset
        episodes.append({k: v.astype(np.int32 if k in ("child", "decom", "dec") else np.int16) for k, v in ep.items()})
        ids.append(FIRST_ID + 4 * (offset + np.arange(size)) + rng.integers(0, 4, size))
        offset += size
    ep = {k: np.concatenate([e.pop(k) for e in episodes]) for k in list(episodes[0])}
    hd = {k: np.concatenate([h.pop(k) for h in headers]) for k in list(headers[0])}
    child_ids = pd.CategoricalDtype(pd.Index(pa.array(np.concatenate(ids)).cast(pa.string()), dtype="str"))
    posts, urns = postcodes_and_urns()
    frame = pd.DataFrame({
        "CHILD": _cat(ep["child"], child_ids), "DECOM": _dates(ep["decom"]), "RNE": _cat(ep["rne"], RNE_CODES),
        "LS": _cat(ep["ls"], T.LS_CODES), "CIN": _cat(ep["cin"], T.CIN_CODES), "PLACE": _cat(ep["place"], PLACE_CODES),
        "PLACE_PROVIDER": _cat(ep["provider"], T.PROVIDERS), "DEC": _dates(ep["dec"]),
        "REC": _cat(ep["rec"], T.REC_CODES), "REASON_PLACE_CHANGE": _cat(ep["reason"], T.REASON_CODES),
        "HOME_POST": _cat(ep["home_post"], posts), "PL_POST": _cat(ep["pl_post"], posts), "URN": _cat(ep["urn"], urns),
    })
    header = pd.DataFrame({
        "CHILD": _cat(np.arange(n_children), child_ids), "SEX": _cat(hd["sex"], ("M", "F")),
        "DOB": _dates(hd["dob"]), "ETHNIC": _cat(hd["ethnic"], T.ETHNIC_CODES),
        "UPN": pd.array(hd["upn"].astype(str), dtype="str"), "MOTHER": _cat(hd["mother"], ("0", "1")),
        "MC_DOB": _dates(hd["mc_dob"]),
    })
    for df in (frame, header):
        df.attrs.update(first_year=first_year, last_year=last_year)
    return frame, header
