"""An earlier build's output tables with the children built again spliced in, in the build's order.

Joined in Arrow with one take; children are found and ordered by their pseudonyms' own numbers.
The tables are written as a build of every row writes them (journeys.incremental checks the bytes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from journeys.attributes import joined_attributes, journey_attributes
from journeys.partitioned import _in_child_order, child_order
from journeys.pipeline import BuildResult
from journeys.pseudonymise import pseudonym_order

OUTPUTS = ("episodes", "spells", "transitions")


def spliced_table(path: Path, touched: np.ndarray, rebuilt: pd.DataFrame, files: dict[str, int] | None) -> pd.DataFrame:
    """An output table of the earlier build without the children built again, with their new rows, in the
    build's order. Joined in Arrow, with one take (in pandas, putting 10^6 episodes in order cost three
    times as much), children found and ordered by their pseudonyms' numbers (strings cost more)."""
    earlier = pq.read_table(path)
    rebuilt = _blanks_typed(rebuilt, earlier.schema.empty_table().to_pandas())
    added = pa.Table.from_pandas(rebuilt, preserve_index=False)
    child = pseudonym_order(earlier.column("person_id"))
    alive = ~member(child, touched)
    if _types(added.schema) != _types(earlier.schema) and added.num_rows and alive.any():
        # a column typed by its values (one side has none): joined as pandas joins them
        return _in_child_order([_as_built(earlier.filter(pa.array(alive)).to_pandas(), earlier.schema), rebuilt],
                               files)
    both = pa.concat_tables([earlier, added.cast(earlier.schema) if added.num_rows else earlier.schema.empty_table()])
    child = np.concatenate([child, pseudonym_order(added.column("person_id"))])
    alive = np.concatenate([alive, np.ones(added.num_rows, dtype=bool)])
    keys = [c for c in ("source", "row_ref") if c in both.column_names] if files is not None else []
    order = child_order(both.select(keys).to_pandas(), files, child)
    return _as_built(both.take(pa.array(order[alive[order]])).to_pandas(), both.schema)


def spliced_attributes(earlier: pd.DataFrame, touched: np.ndarray, rebuilt: BuildResult) -> pd.DataFrame:
    """Each journey's attributes: the earlier build's, with the children built again worked out afresh, in
    child order; the filters whose values depend on the data (legal status, need) take the values present."""
    parts = [earlier[~member(pseudonym_order(earlier["person_id"]), touched)]]
    if len(rebuilt.spells):
        parts.append(journey_attributes(rebuilt.episodes, rebuilt.spells))
    return joined_attributes(parts)


def member(values: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Which `values` are among `chosen` (a hash lookup: numpy's isin sorts 10^7 values)."""
    return pd.Index(chosen).get_indexer(values) >= 0 if len(chosen) else np.zeros(len(values), dtype=bool)


def _types(schema: pa.Schema) -> list[tuple[str, str]]:
    """Each column's name and type, text as text however long its offsets (pandas makes either)."""
    return [(f.name, str(f.type).replace("large_string", "string")) for f in schema]


def _as_built(frame: pd.DataFrame, schema: pa.Schema) -> pd.DataFrame:
    """Text columns the build held untyped (object, by the file's pandas metadata) as such, not as str, so
    that a table spliced from them is written as the build of every row writes it."""
    untyped = [c["name"] for c in (schema.pandas_metadata or {}).get("columns", [])
               if c.get("numpy_type") == "object" and c["name"] in frame and frame[c["name"]].dtype != object]
    return frame.astype({column: object for column in untyped}) if untyped else frame


def read_as_built(path: Path) -> pd.DataFrame:
    """An output table as the build held it (`_as_built`)."""
    return _as_built(pd.read_parquet(path), pq.read_schema(path))


def _blanks_typed(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """`frame` with a column of blanks only (untyped: object) typed as in `like`: the children built again
    may have none of a value (no header row, say) that the build of every child types."""
    blank = {column: like[column].dtype for column in frame if column in like and frame[column].dtype == object
             and like[column].dtype != object and frame[column].isna().all()}
    return frame.astype(blank) if blank else frame
