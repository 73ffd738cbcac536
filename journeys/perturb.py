"""Consistent perturbation of viewers' counts by the cell-key method, so no difference of two views is exact.

The method is the Office for National Statistics' cell-key method, as used by the flexible table
builder of Census 2021 (and the ABS TableBuilder before it):

- every record (a journey, or a child) has a fixed record key in 0..255, a keyed hash (SipHash with
  a 16-character ``secret``) of the pseudonymised person id and the journey number, so keys cannot
  be guessed without the secret;
- a cell's key is the sum of its records' keys modulo 256, so the same set of records gets the same
  cell key whatever filter, grouping or row order produced it;
- a fixed perturbation table (p-table) maps (count, cell key) to a small noise added to the count.

The p-table (defaults: ``max_noise`` D = 2, ``variance`` V = 1, counts 1..750; larger counts use the
row of 750) is built once, deterministically. For each count c the targets are the counts c-D..c+D
that are not negative and not 1 or 2 (as in the ONS rule, small counts are perturbed to 0 or at
least 3, never to 1 or 2). Transition probabilities over these targets have mean exactly c
(unbiased) and variance as close to V as the targets allow (a linear programme); among those, the
most spread-out distribution (least sum of squared probabilities) is taken, so noise is rarely
zero and the parity of a count does not leak. With the defaults, counts from 5 up move by
-2..+2 with probabilities about .057, .271, .343, .271, .057 (variance 1); 4 moves to 3..6
(variance 1); 3 cannot move without bias or beyond D, so it stays 3; 1 goes to 0 or 3 and 2 to 0
or 3 (variance 2). The 256 cell keys of a row are then dealt out to the targets in order, each
target getting round(256 x cumulative probability) keys, so a uniform cell key draws the noise with
those probabilities. Zero cells stay zero: with no records there is nothing to key (structural
zeros). Perturbed counts still go through ``journeys.suppress`` before display.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, overload

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from journeys.flows import Period
    from journeys.stages import StageModel

RECORD_KEY_BASE: int = 256  # record and cell keys are 0..255
MAX_PTABLE_COUNT: int = 750  # larger counts use this row of the p-table
DEFAULT_MAX_NOISE: int = 2
DEFAULT_VARIANCE: float = 1.0
FORBIDDEN_COUNTS: tuple[int, ...] = (1, 2)  # never published after perturbation
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # spreads journey numbers over 64 bits before mixing


@dataclass(frozen=True, eq=False)
class PTable:
    """The perturbation table: ``table[c, k]`` is the noise added to count c with cell key k."""

    max_noise: int
    variance: float
    table: np.ndarray  # int8, shape (max_count + 1, 256); row 0 all zero
    probabilities: np.ndarray  # float, shape (max_count + 1, 2 * max_noise + 1): P(noise = -D..+D)

    @classmethod
    def build(cls, max_noise: int = DEFAULT_MAX_NOISE, variance: float = DEFAULT_VARIANCE,
              max_count: int = MAX_PTABLE_COUNT) -> PTable:
        """Build the p-table for these parameters (deterministic: the same arguments give the same table)."""
        if max_noise < 2 or variance <= 0 or max_count < max_noise + 3:  # D = 1 cannot move 1 to 0 or 3
            raise ValueError(f"PTable needs max_noise >= 2, variance > 0 and max_count >= max_noise + 3, "
                             f"not {max_noise}, {variance}, {max_count}.")
        offsets = np.arange(-max_noise, max_noise + 1)
        probabilities = np.zeros((max_count + 1, offsets.size))
        probabilities[0, max_noise] = 1.0
        stable = max_noise + max(FORBIDDEN_COUNTS) + 1  # from here every offset is allowed
        for count in range(1, stable + 1):  # the rows differ only near the forbidden counts
            probabilities[count] = _transition_probabilities(count, offsets, variance)
        probabilities[stable:] = probabilities[stable]
        keys_per_offset = np.diff(np.round(np.cumsum(probabilities, axis=1) * RECORD_KEY_BASE), prepend=0)
        table = np.stack([np.repeat(offsets, row.astype(np.int64)) for row in keys_per_offset[: stable + 1]])
        table = np.concatenate([table, np.repeat(table[-1:], max_count - stable, axis=0)]).astype(np.int8)
        table.setflags(write=False)
        probabilities.setflags(write=False)
        return cls(max_noise, float(variance), table, probabilities)

    @classmethod
    def default(cls) -> PTable:
        """The p-table with the default parameters, built once per process."""
        return _default_ptable()


@functools.cache
def _default_ptable() -> PTable:
    return PTable.build()


def _transition_probabilities(count: int, offsets: np.ndarray, variance: float) -> np.ndarray:
    """P(noise = offset) for one count: mean 0, variance nearest ``variance``, then most spread out."""
    from scipy.optimize import linprog, minimize  # here: only a viewer's first table builds the p-table (0.25 s)

    targets = count + offsets
    allowed = (targets >= 0) & ~np.isin(targets, FORBIDDEN_COUNTS)
    steps = offsets[allowed].astype(float)
    n = steps.size
    # Stage 1 (LP): the variance nearest the target that an unbiased distribution on these steps allows.
    lp = linprog(np.r_[np.zeros(n), 1.0],
                 A_ub=np.array([np.r_[steps**2, -1.0], np.r_[-(steps**2), -1.0]]), b_ub=[variance, -variance],
                 A_eq=np.array([np.r_[np.ones(n), 0.0], np.r_[steps, 0.0]]), b_eq=[1.0, 0.0],
                 bounds=[(0, 1)] * n + [(0, None)], method="highs")
    achieved = float(steps**2 @ lp.x[:n])
    # Stage 2: least sum of squares at that mean and variance (spreads the noise over the steps).
    constraints = np.array([np.ones(n), steps, steps**2])
    goal = np.array([1.0, 0.0, achieved])
    spread = minimize(lambda p: p @ p, lp.x[:n], jac=lambda p: 2 * p, method="SLSQP", bounds=[(0, 1)] * n,
                      constraints=[{"type": "eq", "fun": lambda p: constraints @ p - goal, "jac": lambda p: constraints}],
                      options={"ftol": 1e-15, "maxiter": 500})
    chosen = np.clip(spread.x, 0, None) if spread.success else lp.x[:n]
    row = np.zeros(offsets.size)
    row[allowed] = chosen / chosen.sum()
    return row


def record_keys(person_id: pd.Series, journey_no: pd.Series | None, secret: str) -> np.ndarray:
    """Each record's fixed key in 0..255: a keyed hash of person (and journey, if given) under ``secret``.

    Pass ``journey_no=None`` when the records are children rather than journeys.
    """
    if len(secret.encode("utf-8")) != 16:
        raise ValueError("The perturbation secret must be 16 characters (16 bytes); derive it from the council's key.")
    if person_id.isna().any() or (journey_no is not None and journey_no.isna().any()):
        raise ValueError("Every record needs a person_id (and a journey_no) to get a record key; some are missing.")
    hashed = pd.util.hash_array(person_id.to_numpy(dtype=object), hash_key=secret, categorize=False)
    if journey_no is not None:
        # The person's hash is secret, so mixing in the journey number keeps every bit unguessable.
        hashed = pd.util.hash_array(hashed + journey_no.to_numpy(dtype=np.int64).astype(np.uint64) * _GOLDEN)
    return (hashed % np.uint64(RECORD_KEY_BASE)).astype(np.int64)


def cell_keys(groups: pd.DataFrame | list[pd.Series], keys: np.ndarray | pd.Series) -> pd.DataFrame:
    """Count and cell key (sum of record keys mod 256) of each group, indexed by the group values.

    Give one row per record per cell: the count is the number of rows.
    """
    frame = groups if isinstance(groups, pd.DataFrame) else pd.concat(groups, axis=1)
    values = np.asarray(keys, dtype=np.int64)
    if len(values) != len(frame):
        raise ValueError(f"cell_keys got {len(values)} record keys for {len(frame)} rows.")
    if frame.shape[1] == 0:
        return pd.DataFrame({"count": [len(values)], "cell_key": [int(values.sum()) % RECORD_KEY_BASE]})
    keyed = frame.assign(_record_key=values).groupby(list(frame.columns), observed=True, dropna=False, sort=True)
    out = keyed["_record_key"].agg(["size", "sum"]).astype(np.int64)
    return pd.DataFrame({"count": out["size"], "cell_key": out["sum"] % RECORD_KEY_BASE})


def keyed_counts(frame: pd.DataFrame, by: list[str], record_key_column: str = "record_key") -> pd.DataFrame:
    """Counts of rows by ``by`` with each cell's key: the ``by`` columns, then ``count`` and ``cell_key``.

    >>> frame = pd.DataFrame({"stage": ["care", "care", "cin"], "record_key": [250, 10, 3]})
    >>> keyed_counts(frame, ["stage"])
      stage  count  cell_key
    0  care      2         4
    1   cin      1         3
    """
    return cell_keys(frame[by], frame[record_key_column]).reset_index(drop=not by)


@overload
def perturb_counts(counts: np.ndarray, cell_key: np.ndarray | pd.Series, ptable: PTable | None = None) -> np.ndarray: ...
@overload
def perturb_counts(counts: pd.Series, cell_key: np.ndarray | pd.Series, ptable: PTable | None = None) -> pd.Series: ...
def perturb_counts(counts: np.ndarray | pd.Series, cell_key: np.ndarray | pd.Series,
                   ptable: PTable | None = None) -> np.ndarray | pd.Series:
    """Counts plus the p-table's noise for their cell keys (int64, same shape; a Series keeps its index).

    >>> perturb_counts(np.array([0, 1, 1, 40]), np.array([7, 0, 255, 128]))
    array([ 0,  0,  3, 40])
    """
    table = (ptable or PTable.default()).table
    values = np.asarray(counts, dtype=np.int64)
    keys = np.asarray(cell_key, dtype=np.int64)
    if values.shape != keys.shape:
        raise ValueError(f"perturb_counts got counts of shape {values.shape} but cell keys of shape {keys.shape}.")
    if (values < 0).any() or (keys < 0).any() or (keys >= RECORD_KEY_BASE).any():
        raise ValueError("perturb_counts needs counts >= 0 and cell keys in 0..255.")
    perturbed = values + table[np.minimum(values, table.shape[0] - 1), keys]
    if isinstance(counts, pd.Series):
        return pd.Series(perturbed, index=counts.index, name=counts.name, dtype=np.int64)
    return perturbed


def perturbed_stage_counts(spells: pd.DataFrame, period: Period, model: StageModel, secret: str,
                           stock_start: pd.Series, stock_end: pd.Series) -> pd.DataFrame:
    """quarter_stage_counts' table for a viewer: entered, left, came from another stage and placement moves get cell-key
    noise (each stage's children keyed as in the flows, so the same children get the same noise), and the
    children at the start and end are the given stocks, the perturbed flows table's margins (exact ones beside
    them would give that noise away).

    `spells` carry person_id (pseudonyms) and authority; a stage not in a stock Series has 0 there.
    """
    from journeys.flows import one_child_per_council
    from journeys.quarter_stats import MEASURES, entered_and_left, stages_in

    stages = pd.Index(stages_in(spells, model), name="stage")
    _, _, entered, left = entered_and_left(one_child_per_council(spells), period)

    def keyed(frame: pd.DataFrame) -> pd.DataFrame:  # each (child, stage) once: count and cell key per stage
        once = frame.drop_duplicates(["person_id", "stage"])
        return cell_keys([once["stage"].astype("str")], record_keys(once["person_id"].astype("str"), None, secret))

    noisy = pd.DataFrame(0, index=stages, columns=pd.Index(list(MEASURES), name="measure"), dtype=np.int64)
    for measure, frame in (("entries", entered), ("exits", left), ("moves_in", entered[entered["step"] > 1])):
        cells = keyed(frame).reindex(stages, fill_value=0)
        noisy[measure] = perturb_counts(cells["count"].to_numpy(), cells["cell_key"].to_numpy())
    # moves are not children: the stage's moves get the noise of the key of the children who made them
    moves = left.groupby(left["stage"].astype("str"))["moves"].sum().reindex(stages, fill_value=0)
    movers = keyed(left[left["moves"] > 0]).reindex(stages, fill_value=0)
    noisy["placement_moves"] = perturb_counts(moves.to_numpy(dtype=np.int64), movers["cell_key"].to_numpy())
    noisy["stock_start"] = stock_start.reindex(stages, fill_value=0).to_numpy(dtype=np.int64)
    noisy["stock_end"] = stock_end.reindex(stages, fill_value=0).to_numpy(dtype=np.int64)
    return noisy
