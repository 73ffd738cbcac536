"""Turn a cohort's periods into SSDA903 episode rows (as integer code arrays), all at once."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np

from journeys.synth import tables as T
from journeys.synth.draw import IntArray, day_of, draw_rows, member
from journeys.synth.episodes import (BASE, LS_EVENT, RNE_CODES, TEND, TSTART, Segments, draw_legal_events,
                                     draw_routes, draw_segments, draw_temporary_moves)
from journeys.synth.periods import Cohort

#: PLACE categories: the drawn kinds (SUPP written as H5), then later codes and temporary moves.
PLACE_CODES = tuple("H5" if k == "SUPP" else k for k in T.KINDS) + ("K3", "Z11", "Z12", "Z13", "Z14") + T.TEMP_CODES
PLACE = {c: i for i, c in enumerate(PLACE_CODES)}
REC = {c: i for i, c in enumerate(T.REC_CODES)}
K3_FROM = day_of(dt.date(2024, 4, 1))       # supported accommodation is K3 from 2024-25
NEW_CODES_FROM = day_of(dt.date(2025, 4, 1))  # Z1 split into Z11-Z14, P2 gone, from 2025-26
N_HOME, N_AWAY, N_HOMES, N_SCHOOLS = 600, 900, 250, 60
_GROUP_OF_KIND = {"foster_kin": ("U1", "U2", "U3"), "foster": ("U4", "U5", "U6"), "home": ("K2", "R1"),
                  "parents": ("P1",), "adoption": ("A3", "A4", "A5", "A6"), "supported": ("SUPP", "P2"),
                  "secure": ("K1", "R5"), "school": ("S1",), "other": ("Z1", "R2", "R3", "P3")}


@lru_cache(maxsize=1)
def postcodes_and_urns() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Fictional postcodes (ZN: the authority's own area; ZA-ZD: elsewhere) and Ofsted-style URNs.

    Drawn from a fixed seed so that every run has the same categories; no real area starts with Z
    except ZE, which is not used.
    """
    rng = np.random.default_rng(903)
    letters = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))

    def codes(areas: list[str], n: int) -> list[str]:
        area = np.array(areas)[rng.integers(0, len(areas), n)]
        district = rng.integers(1, 30, n)
        sector = rng.integers(0, 10, n)
        unit = letters[rng.integers(0, len(letters), (n, 2))]
        return sorted({f"{a}{d} {s}{u[0]}{u[1]}" for a, d, s, u in zip(area, district, sector, unit)})

    home = codes(["ZN"], N_HOME * 2)[:N_HOME]
    away = codes(["ZA", "ZB", "ZC", "ZD"], N_AWAY * 2)[:N_AWAY]
    homes = [f"SC{n:06d}" for n in sorted(rng.choice(np.arange(400000, 999999), N_HOMES, replace=False))]
    schools = [f"{n:06d}" for n in sorted(rng.choice(np.arange(100000, 150000), N_SCHOOLS, replace=False))]
    return tuple(home + away), ("XXXXXXX", *homes, *schools)


def _segment_codes(rng: np.random.Generator, co: Cohort, seg: Segments) -> IntArray:
    """PLACE code of each placement, valid for the year it starts in."""
    code = seg.kind.copy()  # kinds and the first PLACE codes share their positions
    begins = co.start[seg.period] + seg.offset
    code[(seg.kind == T.K["SUPP"]) & (begins >= K3_FROM)] = PLACE["K3"]
    late = begins >= NEW_CODES_FROM
    code[(seg.kind == T.K["P2"]) & late] = PLACE["K3"]
    z1 = (seg.kind == T.K["Z1"]) & late
    code[z1] = PLACE["Z11"] + rng.integers(0, 4, int(z1.sum()))
    return code


def _segment_details(rng: np.random.Generator, co: Cohort, seg: Segments, code: IntArray,
                     home_post: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Provider, placement postcode and URN of each placement."""
    groups = list(T.PROVIDER_WEIGHTS)
    group_of = np.zeros(len(T.KINDS), dtype=np.int64)
    for g, kinds in _GROUP_OF_KIND.items():
        group_of[[T.K[k] for k in kinds]] = groups.index(g)
    provider = draw_rows(rng, [T.PROVIDER_WEIGHTS[g] for g in groups], group_of[seg.kind])
    n = len(code)
    local = rng.random(n) < 0.65
    post = np.where(local, rng.integers(0, N_HOME, n), N_HOME + rng.integers(0, N_AWAY, n))
    post = np.where(seg.kind == T.K["P1"], home_post[co.child[seg.period]], post)
    urn = np.zeros(n, dtype=np.int64)
    homes = member(code, [PLACE["K1"], PLACE["K2"], PLACE["K3"]])
    urn[homes] = 1 + rng.integers(0, N_HOMES, int(homes.sum()))
    school = code == PLACE["S1"]
    urn[school] = 1 + N_HOMES + rng.integers(0, N_SCHOOLS, int(school.sum()))
    return provider, post, urn


def _exit_codes(rng: np.random.Generator, outcome: IntArray, last_kind: IntArray) -> IntArray:
    """REC of the last episode of each period, from its outcome and (for some) the last placement."""
    plain = {T.HOME_P: "E4A", T.HOME_U: "E4B", T.ADOPT: "E11", T.SGO: "E45", T.CAO: "E41", T.REL: "E13",
             T.INDEP: "E5", T.AT18: "E17", T.OTHER: "E8", T.TRANSFER: "E3", T.CUSTODY: "E9",
             T.REMAND_END: "E14", T.AGE_ASSESSED: "E15", T.ABROAD: "E16", T.DIED: "E2"}
    rec = np.array([REC[plain[i]] for i in range(len(T.OUTCOMES))])[outcome]
    n = len(outcome)
    u = rng.random(n)
    rec[(outcome == T.ADOPT) & (u < 0.15)] = REC["E12"]
    rec[(outcome == T.INDEP) & (u < 0.25)] = REC["E6"]
    kin = member(last_kind, T.FOSTER_KINDS[:3])
    sgo = outcome == T.SGO
    rec[sgo & kin] = np.where(u < 0.8, REC["E45"], REC["E47"])[sgo & kin]
    rec[sgo & ~kin] = np.where(u < 0.7, REC["E46"], REC["E48"])[sgo & ~kin]
    at18 = outcome == T.AT18
    kind_group = np.select([member(last_kind, T.FOSTER_KINDS), member(last_kind, [T.K["SUPP"], T.K["P2"]]),
                            member(last_kind, [T.K[k] for k in ("K2", "R1", "S1", "K1", "R5")])], [0, 1, 2], 3)
    choices = [REC[c] for c in ("E17", "E5", "E6", "E8", "E7")]
    table = [[85, 8, 0, 7, 0], [18, 56, 14, 12, 0], [0, 50, 15, 25, 10], [0, 40, 0, 60, 0]]
    rec[at18] = np.array(choices)[draw_rows(rng, table, kind_group[at18])]
    return rec


def prev(values: IntArray) -> IntArray:
    """The value of the row before (-9 for the first row)."""
    return np.r_[-9, values[:-1]]


def build_episodes(rng: np.random.Generator, co: Cohort, window_start: int, extract: int) -> dict[str, IntArray]:
    """Episode rows of a cohort, censored at `extract` and cut to those open on or after `window_start`."""
    n = len(co.start)
    age = co.start - co.dob[co.child]
    route, youth = draw_routes(rng, co, window_start)
    seg = draw_segments(rng, co, age, route)
    lp, lt, lcode = draw_legal_events(rng, co, seg, route, youth)
    tp, ts, te, tcode = draw_temporary_moves(rng, co, co.dur)
    nseg, nls, ntmp = len(seg.period), len(lp), len(tp)
    ev_p = np.concatenate([seg.period, lp, np.arange(n), tp, tp])
    ev_t = np.concatenate([seg.offset, lt, np.zeros(n, dtype=np.int64), te, ts])
    ev_kind = np.repeat([BASE, LS_EVENT, TEND, TEND, TSTART], [nseg, nls, n, ntmp, ntmp])
    ev_val = np.concatenate([np.arange(nseg), lcode, np.full(n + ntmp, -1), tcode])
    # events after a period's end or after the extract date (they would start unseen episodes) go
    inside = (ev_t < co.dur[ev_p]) & (co.start[ev_p] + ev_t <= extract)
    key = ((ev_p << 26) | (ev_t << 2) | ev_kind)[inside]
    order = np.argsort(key)
    key, val, kind = key[order], ev_val[inside][order], ev_kind[inside][order]
    pos = np.arange(len(key))

    def ffill(mask: np.ndarray) -> IntArray:
        at = np.where(mask, pos, 0)
        np.maximum.accumulate(at, out=at)
        return val[at]

    seg_id, ls, tmp = ffill(kind == BASE), ffill(kind == LS_EVENT), ffill(kind >= TEND)
    day_end = np.r_[(key[1:] >> 2) != (key[:-1] >> 2), True]
    p, t = key[day_end] >> 26, (key[day_end] >> 2) & ((1 << 24) - 1)
    seg_id, ls, tmp = seg_id[day_end], ls[day_end], tmp[day_end]
    first = np.r_[True, p[1:] != p[:-1]]
    changed = first | (seg_id != prev(seg_id)) | (ls != prev(ls)) | (tmp != prev(tmp))
    p, t, seg_id, ls, tmp, first = p[changed], t[changed], seg_id[changed], ls[changed], tmp[changed], first[changed]
    last = np.r_[p[1:] != p[:-1], True]
    end = np.where(last, co.dur[p], np.r_[t[1:], 0])
    # what changed: RNE
    p_seg, p_tmp = prev(seg_id), prev(tmp)
    placement = (seg_id != p_seg) | (tmp != p_tmp)
    legal = ls != prev(ls)
    same = ((seg_id != p_seg) & (tmp < 0) & (p_tmp < 0) & seg.same_carer[seg_id]) | \
           ((p_tmp >= 1) & (p_tmp <= 2) & (tmp < 0) & (seg_id == p_seg))
    rne = np.select([first, placement & legal & same, placement & legal, placement & same, placement],
                    [RNE_CODES.index(c) for c in "SUBTP"], RNE_CODES.index("L"))
    # PLACE, REC, reason for a placement change
    seg_code = _segment_codes(rng, co, seg)
    place = np.where(tmp >= 0, PLACE["T0"] + tmp, seg_code[seg_id])
    rec_of_period = _exit_codes(rng, co.outcome[p[last]], seg.kind[seg_id[last]])
    rec = np.zeros(len(p), dtype=np.int64)
    rec[last] = rec_of_period
    temp = tmp >= 0
    next_rne = np.r_[rne[1:], 0]
    moved = ~last & member(next_rne, [RNE_CODES.index(c) for c in "PBTU"]) & ~temp & ~np.r_[temp[1:], False]
    reason = np.full(len(p), -1, dtype=np.int64)
    same_next = member(next_rne, [RNE_CODES.index(c) for c in "TU"])
    reason[moved] = draw_rows(rng, T.REASON_WEIGHTS, same_next[moved].astype(np.int64))
    # per child, per period and per placement details
    home_post = rng.integers(0, N_HOME, co.n_children)
    provider, post, urn = _segment_details(rng, co, seg, seg_code, home_post)
    cin_ctx = np.where(co.uasc[co.child], 1, np.where(co.short_break, 2, 0))
    cin = draw_rows(rng, T.CIN_WEIGHTS, cin_ctx)
    ep_provider, ep_post, ep_urn = provider[seg_id], post[seg_id], urn[seg_id]
    n_temp = int(temp.sum())
    ep_provider[temp] = draw_rows(rng, [T.PROVIDER_WEIGHTS["temporary"]], np.zeros(n_temp, dtype=np.int64))
    ep_post[temp] = rng.integers(0, N_HOME + N_AWAY, n_temp)
    ep_urn[temp] = 0
    # dates, censoring at the extract date and the window
    decom = co.start[p] + t
    dec = co.start[p] + end
    keep = (decom <= extract) & (dec >= window_start)
    is_open = dec > extract
    out = {
        "child": co.child[p], "decom": decom, "dec": np.where(is_open, -1, dec), "rne": rne, "ls": ls,
        "cin": cin[p], "place": place, "provider": ep_provider,
        "rec": np.where(is_open, -1, rec), "reason": np.where(is_open, -1, reason),
        "home_post": home_post[co.child[p]], "pl_post": ep_post, "urn": ep_urn,
    }
    return {k: v[keep] for k, v in out.items()}
