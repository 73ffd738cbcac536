"""The app's working set: every loaded authority's spells with journey attributes, filtered by masks.

A filter change in the app is a few numpy look-ups over categorical codes (no joins, no copies of
raw rows), so callbacks stay fast at a million spells.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from journeys.attributes import FILTER_COLUMNS, JOURNEY_KEY, combine_attributes, filter_options


T = TypeVar("T")
MEMO_SIZE = 512  # results remembered per working set (small suppressed tables, counts and figures)


@dataclass(frozen=True)
class Selection:
    """What the user has chosen: authorities (empty = all), filter values (missing = all), a stage passed through."""

    authorities: tuple[str, ...] = ()
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    through_stage: str | None = None

    @classmethod
    def from_values(cls, authorities: Sequence[str] | None = None,
                    filters: Mapping[str, Sequence[str] | None] | None = None,
                    through_stage: str | None = None) -> Selection:
        """Build from UI values, where None or an empty list means 'no restriction'."""
        chosen = {k: tuple(v) for k, v in (filters or {}).items() if v}
        unknown = set(chosen) - set(FILTER_COLUMNS)
        if unknown:
            raise ValueError(f"unknown filter {sorted(unknown)}: the filters are {', '.join(FILTER_COLUMNS)}")
        return cls(tuple(authorities or ()), chosen, through_stage or None)

    def key(self) -> tuple[object, ...]:
        """A hashable form, for remembering views already computed."""
        return (tuple(sorted(self.authorities)), tuple(sorted((k, tuple(sorted(v))) for k, v in self.filters.items())),
                self.through_stage)


def _changes(values: pd.Series | pa.Array) -> np.ndarray:
    """Where each row's value differs from the row before (the first row counts as a change)."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    if isinstance(values, pd.Series) and pd.api.types.is_integer_dtype(values.dtype) and not values.hasnans:
        numbers = values.to_numpy()
        return np.concatenate([[True], numbers[1:] != numbers[:-1]])
    array = values if isinstance(values, pa.Array) else _arrow(values)
    differs = pc.fill_null(pc.not_equal(array[1:], array[:-1]), True).to_numpy(zero_copy_only=False)
    return np.concatenate([[True], differs])


def _in_order(spells: pd.DataFrame, keyed: pd.DataFrame, new_child: np.ndarray) -> pd.DataFrame | None:
    """spells with each journey's number and filter columns, when the spells come journey by journey in the
    attributes' order (as builds write them): a running count, not a join on text keys. None otherwise.
    `new_child`: where the authority or child differs from the row before."""
    if spells.empty:
        return None
    first = new_child | _changes(spells["journey_no"])
    starts = np.flatnonzero(first)
    if starts.size != len(keyed):
        return None
    for column in JOURNEY_KEY:  # each journey's key where its spells begin, against the attributes' row
        ours, theirs = spells[column], keyed[column]
        if pd.api.types.is_integer_dtype(ours.dtype) and pd.api.types.is_integer_dtype(theirs.dtype):
            same = np.array_equal(ours.to_numpy()[starts], theirs.to_numpy())
        else:
            same = pc.all(pc.equal(pc.take(_arrow(ours.astype("str")), starts), _arrow(theirs.astype("str")))).as_py()
        if not same:
            return None
    journey = np.cumsum(first, dtype=np.int64) - 1
    joined = spells.reset_index(drop=True)
    extra = {"journey": journey} | {column: keyed[column].take(journey).reset_index(drop=True)
                                    for column in FILTER_COLUMNS}
    return pd.concat([joined, pd.DataFrame(extra)], axis=1)


def _categorical(values: pd.Series) -> pd.Series:
    """values.astype("category") (categories sorted), text encoded in Arrow: several times quicker at 10^7 rows."""
    if isinstance(values.dtype, pd.CategoricalDtype) or not isinstance(values.dtype, pd.StringDtype):
        return values.astype("category")
    encoded = pc.dictionary_encode(_arrow(values))
    words = np.array(encoded.dictionary.to_pylist(), dtype=object)
    order = np.argsort(words, kind="stable")
    rank = np.empty(len(words), dtype=np.int64)
    rank[order] = np.arange(len(words))
    codes = rank[pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)] if len(words) else \
        np.zeros(len(values), dtype=np.int64)
    codes[encoded.indices.is_null().to_numpy(zero_copy_only=False)] = -1
    categories = pd.Index(words[order]).astype(values.dtype)
    return pd.Series(pd.Categorical.from_codes(codes, categories=categories), index=values.index, name=values.name)


def _arrow(values: pd.Series) -> pa.Array:
    """A column as one Arrow array (text kept as text)."""
    array = pa.array(values)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _children_in_order(joined: pd.DataFrame, person: pa.Array, new_child: np.ndarray) -> np.ndarray:
    """One integer per (authority, child), numbered as they first appear: a running count where each child's
    spells are together (sorted within each authority, as builds write them), else by factorising.
    `person`: the spells' person_id in Arrow; `new_child`: where the authority or child differs from the row before."""
    authority = joined["authority"].cat.codes.to_numpy()
    if len(person) > 1:
        same_authority = authority[1:] == authority[:-1]
        together = int((~same_authority).sum()) + 1 == len(np.unique(authority))  # each authority in one block
        ascending = pc.fill_null(pc.greater_equal(person[1:], person[:-1]), False).to_numpy(zero_copy_only=False)
        if together and bool((ascending | ~same_authority).all()):
            return np.cumsum(new_child, dtype=np.int64) - 1
    return pd.MultiIndex.from_arrays([joined["authority"].cat.codes, joined["person_id"]]).factorize()[0]


class JourneyData:
    """Spells of one or more authorities, each row carrying its journey's attributes as categoricals."""

    def __init__(self, spells: pd.DataFrame, attributes: pd.DataFrame | list[pd.DataFrame]) -> None:
        frames = attributes if isinstance(attributes, list) else [attributes]
        keyed = combine_attributes(frames)
        keyed["journey"] = np.arange(len(keyed), dtype=np.int64)
        spells = spells.reset_index(drop=True)
        person = _arrow(spells["person_id"].astype("str"))  # once: for where each child begins, and their order
        new_child = _changes(spells["authority"]) | _changes(person)
        joined = _in_order(spells, keyed, new_child)
        if joined is None:  # spells not in their journeys' order: join on the key (~5x slower)
            joined = spells.merge(keyed[JOURNEY_KEY + ["journey", *FILTER_COLUMNS]], on=JOURNEY_KEY, how="left",
                                  validate="many_to_one")
        if joined["journey"].isna().any():
            raise ValueError("some spells have no journey attributes: rebuild the cache")
        for column in ("authority", "stage", "next_stage", "exit_detail"):  # few values: codes copy faster than text
            if column in joined:
                joined[column] = _categorical(joined[column])
        # one integer per child across authorities: aggregates count children without hashing strings
        joined["child"] = _children_in_order(joined, person, new_child)  # rows as in spells, whichever way joined
        self.spells = joined
        self.attributes = keyed
        stages = pd.Categorical(joined["stage"])
        if len(stages.categories) > 64:
            raise ValueError("more than 64 stages: click-to-narrow keeps one bit per stage")
        self._stage_codes = {s: i for i, s in enumerate(stages.categories)}
        bits = np.left_shift(np.uint64(1), stages.codes.astype(np.uint64))
        passed = np.zeros(len(keyed), dtype=np.uint64)
        np.bitwise_or.at(passed, joined["journey"].to_numpy(), bits)
        self._passed = passed  # per journey: one bit per stage it passed through
        self._authority_codes: pd.Series | None = None  # each journey's authority as a categorical (_mask)
        self._last_mask: tuple[tuple[object, ...], np.ndarray] | None = None  # the latest selection's, unpacked
        self._memo: OrderedDict[tuple[object, ...], object] = OrderedDict()
        self._memo_lock = threading.Lock()
        self._pending: dict[tuple[object, ...], Future[object]] = {}
        self._journey = joined["journey"].to_numpy()
        self._journey_start = pd.to_datetime(keyed["start"]).to_numpy()
        self._start = joined["start"].to_numpy()
        self._end = joined["end"].to_numpy()
        self._open = (joined["next_stage"] == "open").to_numpy()

    def remember(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        """The result of `compute` for `key`, kept for the last MEMO_SIZE keys (a download after a view is free).

        Computed once: a filter change fires several callbacks at once (waitress serves them on
        several threads) that need the same quarters, so a thread that finds a key being computed
        waits for it. Keys depend on others without cycles, and whoever computes a key is running,
        so the waits end.
        """
        with self._memo_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]  # type: ignore[return-value]
            pending = self._pending.get(key)
            if pending is None:
                self._pending[key] = mine = Future[object]()
        if pending is not None:
            return pending.result()  # type: ignore[return-value]
        try:
            value = compute()  # outside the lock
        except BaseException as error:
            with self._memo_lock:
                del self._pending[key]
            mine.set_exception(error)
            raise
        with self._memo_lock:
            self._memo[key] = value
            del self._pending[key]
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
        mine.set_result(value)
        return value

    def remembers(self, key: tuple[object, ...]) -> bool:
        """Whether `key` is remembered now (to compute several missing results from one selection)."""
        with self._memo_lock:
            return key in self._memo

    @property
    def authorities(self) -> list[str]:
        return [str(a) for a in self.spells["authority"].cat.categories]

    def options(self) -> dict[str, list[str]]:
        """Values each filter can take in the loaded data."""
        return filter_options(self.attributes)

    def mask(self, selection: Selection) -> np.ndarray:
        """Which spells belong to journeys matching the selection (read-only).

        Remembered per selection, packed to a bit per spell: every page and period of one filter
        choice selects from it, and it costs several passes over the spells to make. The latest
        selection's is also kept unpacked: the callbacks of one change each ask for it.
        """
        key = ("mask", selection.key())
        last = self._last_mask
        if last is not None and last[0] == key:
            return last[1]
        made: list[np.ndarray] = []

        def pack() -> np.ndarray:
            made.append(self._mask(selection))
            return np.packbits(made[0])

        packed = self.remember(key, pack)
        unpacked = made[0] if made else np.unpackbits(packed, count=len(self.spells)).view(bool)
        unpacked.flags.writeable = False
        self._last_mask = (key, unpacked)  # one assignment: threads see the old pair or the new
        return unpacked

    def _mask(self, selection: Selection) -> np.ndarray:
        """Filters decided per journey (their attributes are the journey's), then spread to its spells once."""
        if not selection.authorities and not selection.filters and selection.through_stage is None:
            return np.ones(len(self.spells), dtype=bool)
        keep = np.ones(len(self.attributes), dtype=bool)
        if selection.authorities:
            keep &= self._journey_authority(selection.authorities)
        for column, values in selection.filters.items():
            keep &= _category_mask(self.attributes[column], values, self._codes(column))
        if selection.through_stage is not None:
            code = self._stage_codes.get(selection.through_stage)
            if code is None:
                return np.zeros(len(self.spells), dtype=bool)
            keep &= (self._passed & (np.uint64(1) << np.uint64(code))) != 0
        return keep[self._journey]

    def _codes(self, column: str) -> np.ndarray:
        """A journey attribute's category codes as an array, made once (pandas makes a new Series each time)."""
        return self.remember(("codes", column), lambda: self.attributes[column].cat.codes.to_numpy())

    def _journey_authority(self, authorities: Sequence[str]) -> np.ndarray:
        """Which journeys belong to these authorities (each journey's authority coded once, when first asked)."""
        if self._authority_codes is None:
            self._authority_codes = pd.Series(pd.Categorical(self.attributes["authority"], categories=self.authorities))
        return _category_mask(self._authority_codes, authorities)

    def _rows_in_time(self, overlapping: tuple[pd.Timestamp, pd.Timestamp] | None,
                      starting: tuple[pd.Timestamp, pd.Timestamp] | None, until: pd.Timestamp | None) -> np.ndarray | None:
        """Positions of the spells inside a time window (see select), or None when there is no window."""
        if overlapping is None and starting is None and until is None:
            return None
        keep = np.ones(len(self.spells), dtype=bool)
        if overlapping is not None:
            first, last = np.datetime64(overlapping[0], "us"), np.datetime64(overlapping[1], "us")
            keep &= (self._start <= last) & ((self._end >= first) | self._open)
        if starting is not None:
            first, last = np.datetime64(starting[0], "us"), np.datetime64(starting[1], "us")
            begins = (self._journey_start >= first) & (self._journey_start <= last)
            keep &= begins[self._journey]
        if until is not None:
            keep &= self._start <= np.datetime64(until, "us")
        return np.flatnonzero(keep)

    def children_before(self, selection: Selection, stages: Sequence[str], before: pd.Timestamp,
                        children_as_ids: bool = False) -> pd.DataFrame:
        """(authority, person_id) of the children with a matching spell in one of `stages` that starts before
        `before`, each once: what a year's figures need of the history before it (an earlier period of
        care), without copying that history. `children_as_ids`: person_id as in select."""
        rows = self._rows_in_stages(selection, stages, before)
        rows = rows[np.unique(self.spells["child"].to_numpy()[rows], return_index=True)[1]]
        person = self.spells["child"].to_numpy()[rows] if children_as_ids else self.spells["person_id"].take(rows)
        return pd.DataFrame({"authority": self.spells["authority"].take(rows).to_numpy(),
                             "person_id": np.asarray(person)})

    def has_spell(self, selection: Selection, stages: Sequence[str], before: pd.Timestamp) -> bool:
        """Whether any matching spell in one of `stages` starts before `before`."""
        return bool(self._rows_in_stages(selection, stages, before).size)

    def _rows_in_stages(self, selection: Selection, stages: Sequence[str], before: pd.Timestamp) -> np.ndarray:
        in_stages = self.remember(("in stages", tuple(stages)),
                                  lambda: self.spells["stage"].isin(list(stages)).to_numpy())
        return np.flatnonzero(self.mask(selection) & in_stages & (self._start < np.datetime64(before, "us")))

    def select(self, selection: Selection, columns: list[str] | None = None,
               overlapping: tuple[pd.Timestamp, pd.Timestamp] | None = None,
               starting: tuple[pd.Timestamp, pd.Timestamp] | None = None, until: pd.Timestamp | None = None,
               children_as_ids: bool = False) -> pd.DataFrame:
        """The spells of the matching journeys, cut down before anything is copied (callbacks stay fast).

        `overlapping`: only spells that touch [first, last]; `starting`: only journeys that start in it;
        `until`: only spells starting on or before it; `columns`: only these columns;
        `children_as_ids`: person_id replaced by the integer child number (unique across
        authorities), for counting children quickly.
        """
        rows = self.remember(("rows in time", overlapping, starting, until),
                             lambda: self._rows_in_time(overlapping, starting, until))
        if rows is None:
            rows = np.flatnonzero(self.mask(selection))
        else:
            rows = rows[self.mask(selection)[rows]]  # the time window's rows (remembered), then the filter's
        wanted = list(self.spells.columns) if columns is None else list(columns)
        if not children_as_ids:
            return self.spells[wanted].take(rows)
        frame = self.spells[[c for c in wanted if c != "person_id"]].take(rows)  # the text ids are not copied
        frame["person_id"] = self.spells["child"].to_numpy()[rows]
        return frame[wanted]


def _category_mask(column: pd.Series, values: Sequence[str], codes: np.ndarray | None = None) -> np.ndarray:
    """Which rows of a categorical column hold one of `values` (`codes`: its codes, if already at hand)."""
    categories = column.cat.categories
    allowed = np.zeros(len(categories) + 1, dtype=bool)  # the last slot catches code -1 (missing)
    found = categories.get_indexer(list(values))
    allowed[found[found >= 0]] = True
    return allowed[column.cat.codes.to_numpy() if codes is None else codes]
