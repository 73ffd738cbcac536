"""The children of the CIN census: those in care (from the SSDA903 header) and those only referred."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pandas as pd

from journeys.synth import cin_tables as C
from journeys.synth import tables as T
from journeys.synth.cin_paths import days_of
from journeys.synth.draw import IntArray, draw, draw_days, draw_rows
from journeys.synth.generate import FIRST_ID, _upns

YEAR = 365.25


@dataclass
class Children:
    """One entry per child; days are ints since 1970 (-1 none)."""

    ids: npt.NDArray[np.object_]
    dob: IntArray
    male: npt.NDArray[np.bool_]
    ethnic: IntArray
    upn: npt.NDArray[np.object_]
    upn_base: npt.NDArray[np.object_]
    disabled: npt.NDArray[np.bool_]
    known: npt.NDArray[np.bool_]
    in_care: npt.NDArray[np.bool_]
    death: IntArray
    first_ref: IntArray

    @property
    def index(self) -> pd.Index:
        """The ids as an index (position lookups)."""
        return pd.Index(self.ids, dtype="object")

    @property
    def ctx(self) -> IntArray:
        """Route context of each child (cin_tables.ROUTE_WEIGHTS): disabled, a known family, or neither."""
        return np.where(self.disabled, C.CTX_DISABLED, np.where(self.known, C.CTX_KNOWN, C.CTX_MOST)).astype(np.int64)

    def take(self, mask: npt.NDArray[np.bool_]) -> Children:
        """Only the children in mask."""
        return Children(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Children]) -> Children:
        """All children, in order."""
        return Children(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Children)})



def care_children(rng: np.random.Generator, header: pd.DataFrame) -> Children:
    """The children of the SSDA903 header, as the CIN census knows them (same ids)."""
    n = len(header)
    upn = header["UPN"].astype("str").fillna("").to_numpy(dtype=object)
    known = (pd.Series(upn, dtype="object").str.len() == 13).to_numpy(dtype=bool)
    ethnic = pd.Series(header["ETHNIC"].astype("str")).map({c: i for i, c in enumerate(T.ETHNIC_CODES)})
    return Children(
        ids=header["CHILD"].astype("str").to_numpy(dtype=object), dob=days_of(header["DOB"]),
        male=header["SEX"].astype("str").isin(["M", "1"]).to_numpy(),
        ethnic=ethnic.fillna(T.ETHNIC_CODES.index("NOBT")).to_numpy(dtype=np.int64),
        upn=np.where(known, upn, ""), upn_base=np.where(known, "", upn), disabled=np.zeros(n, dtype=bool),
        known=np.ones(n, dtype=bool), in_care=np.ones(n, dtype=bool), death=np.full(n, -1, dtype=np.int64),
        first_ref=np.full(n, -1, dtype=np.int64))


def referral_day_weights(first: int, last: int) -> npt.NDArray[np.float64]:
    """Relative chance of a referral on each day first..last: few at weekends, fewer in August and at
    Christmas (schools are closed), a dip in the spring 2020 lockdown, a slight upward trend."""
    days = np.arange(first, last + 1, dtype=np.int64).astype("datetime64[D]")
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    mday = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    weekday = (days.astype(np.int64) + 3) % 7
    w = np.ones(len(days))
    w[weekday == 5] = 0.25
    w[weekday == 6] = 0.2
    w[month == 8] *= 0.75
    w[(month == 12) & (mday >= 20)] *= 0.55
    w[(month == 1) & (mday <= 2)] *= 0.5
    w[(days >= np.datetime64("2020-03-23")) & (days <= np.datetime64("2020-06-30"))] *= 0.78
    return w * (1.0 + 0.01 * (np.arange(len(days)) / 365.25))


def new_ids(rng: np.random.Generator, n: int, taken: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """n fresh numeric child ids, none in `taken`, from the same range as the care histories' ids."""
    pool = max(10 * (n + len(taken)), 1000)
    cand = (FIRST_ID + rng.choice(pool, size=n + len(taken), replace=False)).astype(str).astype(object)
    fresh = cand[~pd.Index(cand, dtype="object").isin(pd.Index(taken, dtype="object"))]  # object: 20x arrow's speed
    return fresh[:n]


def cin_only_children(rng: np.random.Generator, n: int, window_start: int, extract: int,
                      taken: npt.NDArray[np.object_]) -> Children:
    """n candidate children first referred between LOOKBACK_YEARS before the window and its end."""
    first = window_start - int(C.LOOKBACK_YEARS * YEAR)
    first_ref = draw_days(rng, first, referral_day_weights(first, extract), n)
    group = draw(rng, C.CIN_AGE_WEIGHTS, n)
    lo = np.array([a for a, _ in C.CIN_AGE_GROUPS])[group] * YEAR
    hi = np.array([b for _, b in C.CIN_AGE_GROUPS])[group] * YEAR
    age = np.floor(lo + rng.random(n) * (hi - lo)).astype(np.int64)
    age[group == 0] = np.minimum(age[group == 0], -1)  # unborn: born after the referral
    dob = first_ref - age
    upn = _upns(rng, dob).astype(str).astype(object)
    known = rng.random(n) < C.P_UPN_KNOWN
    base = np.array(["UN4", "UN5", "UN2"], dtype=object)[draw(rng, [0.7, 0.2, 0.1], n)]
    return Children(ids=new_ids(rng, n, taken), dob=dob, male=rng.random(n) < C.MALE_SHARE,
                    ethnic=draw_rows(rng, T.ETHNIC_WEIGHTS, np.zeros(n, dtype=np.int64)),
                    upn=np.where(known, upn, ""), upn_base=np.where(known, "", base),
                    disabled=rng.random(n) < C.P_DISABLED, known=rng.random(n) < C.P_KNOWN_FAMILY,
                    in_care=np.zeros(n, dtype=bool),
                    death=np.full(n, -1, dtype=np.int64), first_ref=first_ref)
