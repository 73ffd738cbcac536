"""Headline figures the DfE publishes (looked after, starts, ceasings, children in need), counting children."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from journeys.columns import group_starts
from journeys.flows import year_label
from journeys.stages import OPEN, StageModel
from journeys.suppress import DEFAULT_THRESHOLD, SUPPRESSED, DisclosureError, suppress_series

CARE_GROUP = "in_care"
#: Front-door stages that are not child-in-need episodes in the CIN census sense.
FRONT_DOOR_ONLY = ("contact", "early_help")
#: Ceasing reason when care ends but the journey goes on (joined-up data) and the spells do not
#: say why care ended: the care outcome is not recorded on the spell, only the next stage.
CONTINUED_SUPPORT = "continued_support"
CONTINUED_SUPPORT_LABEL = "Stayed with children's services (reason for leaving care not in the data)"
_CIN_GROUPS = ("front_door", "child_in_need")
_CP_STAGE = "child_protection"
_RATED = ("looked_after_31_march", "started_in_year", "ceased_in_year", "looked_after_during_year",
          "children_in_need_31_march", "children_in_need_not_looked_after_31_march", "on_cp_plan_31_march")
_SHARES = {"re_entries_in_year": "started_in_year", "three_plus_placements": "looked_after_31_march"}
_POPULATION_COLUMNS = ("authority", "year", "population_0_17")


def year_bounds(year: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first and last day of the financial year ending 31 March `year`.

    >>> [d.date().isoformat() for d in year_bounds(2024)]
    ['2023-04-01', '2024-03-31']
    """
    return pd.Timestamp(year - 1, 4, 1), pd.Timestamp(year, 3, 31)


def available_years(spells: pd.DataFrame) -> list[int]:
    """The 31-March years whose financial year the data touch (first start to last end), newest last."""
    if spells.empty:
        return []
    first, last = pd.Timestamp(spells["start"].min()), pd.Timestamp(spells["end"].max())
    return list(range(first.year + (first.month >= 4), last.year + (last.month >= 4) + 1))


def headline_counts(spells: pd.DataFrame, model: StageModel, year: int, secret: str | None = None,
                    earlier_care: pd.DataFrame | None = None, in_need_data: bool | None = None) -> pd.DataFrame:
    """Exact (unsuppressed) headline counts of children for the year ending 31 March `year`.

    Columns measure, label, count; with a viewer's `secret`, also each figure's `cell_key` (the
    sum of its children's record keys, journeys.perturb), so the same children get the same noise.

    `spells` must hold every spell touching the year; earlier ones only matter for re-entries, so a
    caller may pass just the year's spells and, as `earlier_care`, the (authority, person_id) of the
    children with a care spell starting before the year (JourneyData.children_before), and as
    `in_need_data` whether the spells up to 31 March hold front-door or child-in-need stages (which
    decides whether those rows appear): the app then copies a year of spells, not the whole history.

    Children are (authority, person_id) pairs, each counted once per figure. Definitions:
    - looked_after_31_march: in an in-care stage on 31 March (a spell ending that day has left).
    - started_in_year: entered an in-care stage in the year from anything but care: a journey's
      first step (not left-truncated), or a step after a non-care stage (joined-up data). A journey
      already in care when the data begins (`before_data`) is not a start.
    - re_entries_in_year: starters with any start in the year after an earlier care spell of theirs
      (the `re_entry` flag is not used: in joined-up data it marks any new journey, e.g. after a
      contact, and misses care periods within one journey).
    - ceased_in_year and ceased_<reason>: left care in the year (an in-care spell followed by an
      outcome or a non-care stage), by the reason of their LAST ceasing in the year: the outcome;
      where the journey went on in a non-care stage, the outcome named by `exit_detail` (id or
      label: joined-up builds keep there how the period of care ended, `journeys.joined`), else
      `continued_support` (how care ended is not in the data).
    - looked_after_during_year: in care on any day of the year (includes ceasing on 1 April).
    - three_plus_placements (DfE placement stability): children looked after on 31 March with 3 or
      more placements in the year. Approximation: placements = in-care spells overlapping the year
      plus all their `moves`; moves are not dated, so moves before 1 April in those spells count.
    - children_in_need_31_march (DfE CIN headline, includes children looked after): the looked
      after plus children_in_need_not_looked_after_31_march (in referral, assessment, child in
      need, section 47 or child protection on 31 March; contact and early help are not CIN
      episodes). on_cp_plan_31_march: in child_protection on 31 March; a child in care with a plan
      counts as in care (precedence), so this is below the DfE count where both apply. These rows
      appear only when the data hold front-door or child-in-need stages.
    """
    first, last = year_bounds(year)
    stage_in = _stage_lookup(spells)
    is_open = spells["next_stage"].eq(OPEN).to_numpy()
    in_care = stage_in(care_stages(model))
    keys = np.zeros(len(spells), dtype=np.int64)
    if secret is not None:
        from journeys.perturb import record_keys

        keys = record_keys(spells["person_id"], None, secret)  # children, not journeys, are counted here
    child, earlier = _child_ids(spells, earlier_care)
    start, end = spells["start"].to_numpy(), spells["end"].to_numpy()
    care = _rows(np.flatnonzero(in_care & (start <= np.datetime64(last))), child=child, key=keys, start=start,
                 end=end, open=is_open, journey_no=spells["journey_no"].to_numpy(), step=spells["step"].to_numpy(),
                 moves=spells["moves"].to_numpy(dtype=np.int64), left_truncated=spells["left_truncated"].to_numpy(bool),
                 next_care=spells["next_stage"].isin(care_stages(model)).to_numpy())
    during = _where(care, care["end"] >= np.datetime64(first))
    at_end = _where(during, _covers(during, last))
    starts = _starts(care, during, first)
    if earlier is not None and len(starts["row"]):
        starts["re_entry"] = starts["re_entry"] | np.isin(starts["child"], earlier)
    ceased = _last_ceasings(during, spells, model, last)
    children, placed = np.unique(during["child"], return_inverse=True)
    stable_ids = children[np.bincount(placed, weights=during["moves"] + 1, minlength=children.size) >= 3]
    fy = year_label(year)
    looked_after = _n(at_end)
    rows: list[tuple[str, str, tuple[int, int]]] = [
        ("looked_after_31_march", f"Children looked after on 31 March {year}", looked_after),
        ("started_in_year", f"Children who started to be looked after in {fy}", _n(starts)),
        ("re_entries_in_year", f"Children who started to be looked after in {fy} after an earlier period "
                               "of care (re-entry)", _n(_where(starts, starts["re_entry"]))),
        ("ceased_in_year", f"Children who ceased to be looked after in {fy}", _n(ceased)),
    ]
    for reason in [*model.of_kind("outcome"), CONTINUED_SUPPORT]:
        if (ceased["reason"] == reason).any():
            name = CONTINUED_SUPPORT_LABEL if reason == CONTINUED_SUPPORT else model.get(reason).label
            rows.append((f"ceased_{reason}", f"Ceased to be looked after in {fy}: {name}",
                         _n(_where(ceased, ceased["reason"] == reason))))
    rows += [
        ("looked_after_during_year", f"Children looked after at any time in {fy}", _n(during)),
        ("three_plus_placements", f"Children looked after on 31 March {year} with 3 or more placements in {fy}",
         _n(_where(at_end, np.isin(at_end["child"], stable_ids)))),
    ]
    front_door = in_need_stages(model)
    if stage_in(front_door).any() if in_need_data is None else in_need_data:
        cin = stage_in([s for s in front_door if s not in FRONT_DOOR_ONLY])
        every = {"start": start, "end": end, "open": is_open}
        front = _rows(np.flatnonzero(cin & _covers(every, last)), child=child, key=keys,
                      protection=stage_in([_CP_STAGE]))
        in_need = _n(front)
        rows += [
            ("children_in_need_31_march", f"Children in need on 31 March {year} (including children looked after)",
             (in_need[0] + looked_after[0], in_need[1] + looked_after[1])),  # the two groups do not overlap
            ("children_in_need_not_looked_after_31_march",
             f"Children in need on 31 March {year} who were not looked after", in_need),
            ("on_cp_plan_31_march", f"Children on a child protection plan on 31 March {year}",
             _n(_where(front, front["protection"]))),
        ]
    out = pd.DataFrame({"measure": pd.array([r[0] for r in rows], dtype="str"),
                        "label": pd.array([r[1] for r in rows], dtype="str"),
                        "count": np.array([r[2][0] for r in rows], dtype=np.int64)})
    if secret is not None:
        from journeys.perturb import RECORD_KEY_BASE

        out["cell_key"] = np.array([r[2][1] for r in rows], dtype=np.int64) % RECORD_KEY_BASE
    return out


def year_end_stocks(model: StageModel) -> dict[str, list[str]]:
    """The 31 March figures that add up stage stocks, with their stages (the flows tables show those stocks)."""
    cin = [s for s in in_need_stages(model) if s not in FRONT_DOOR_ONLY]
    return {"looked_after_31_march": care_stages(model), "children_in_need_not_looked_after_31_march": cin,
            "on_cp_plan_31_march": [s for s in model.of_kind("stage") if s == _CP_STAGE]}


def headline_figures(spells: pd.DataFrame, model: StageModel, year: int, population: pd.DataFrame | None = None,
                     threshold: int = DEFAULT_THRESHOLD,
                     protect: Callable[[pd.Series, pd.Series], pd.Series] | None = None,
                     secret: str | None = None, earlier_care: pd.DataFrame | None = None,
                     in_need_data: bool | None = None, authorities: Sequence[str] | None = None) -> pd.DataFrame:
    """The publishable headline table: counts as text ("c" where hidden), rates per 10,000 and shares.

    Counts from 1 to threshold are hidden. The ceasing reasons with their total (ceased_in_year)
    and the children in need with their two parts (looked after, not looked after) are one-way
    tables, suppressed with secondary suppression so no hidden count can be worked out from them.
    Rates (per 10,000 children aged 0-17 in `population`, columns authority, year, population_0_17)
    and shares (re-entries of starters; placement stability of the looked after on 31 March, in whole
    percent) are shown only where their counts are; "" where they do not apply or cannot be worked out.
    `protect(counts, hidden)` may hide more, for tables published beside these (year_end).
    `secret` switches on viewer mode: each figure gets cell-key noise first (spells must carry the
    pseudonyms); totals are then noisy figures of their own, so parts need not add up to them.
    `earlier_care` and `in_need_data` as in headline_counts; `authorities`: those the rates cover (default: the spells').
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)) or threshold < 1:
        raise DisclosureError(f"threshold must be a whole number of at least 1, got {threshold!r}.")
    table = headline_counts(spells, model, year, secret, earlier_care, in_need_data)
    if secret is not None:
        from journeys.perturb import perturb_counts

        table["count"] = perturb_counts(table["count"].to_numpy(), table["cell_key"].to_numpy())
    # a table of about fifteen figures, worked out in numpy and Python: as Series, each figure looked up cost
    # pandas' overhead (about 25 ms a call)
    measures = table["measure"].to_numpy(dtype=object)
    values = table["count"].to_numpy(dtype=np.int64)
    at = {m: i for i, m in enumerate(measures)}
    hidden = (values >= 1) & (values <= threshold)
    reasons = [i for i, m in enumerate(measures) if m.startswith("ceased_") and m != "ceased_in_year"]
    parts = [at[m] for m in ("looked_after_31_march", "children_in_need_not_looked_after_31_march") if m in at]
    for part, total in ((reasons, "ceased_in_year"), (parts, "children_in_need_31_march")):
        if total in at and part:
            controlled = suppress_series(pd.Series(values[part], index=measures[part]), threshold=threshold)
            hidden[part] |= controlled.hidden_mask().iloc[:, 0].to_numpy()
            hidden[at[total]] |= controlled.grand_total is None
    if protect is not None:
        index = pd.Index(measures)
        hidden = protect(pd.Series(values, index=index), pd.Series(hidden, index=index)).reindex(index) \
            .to_numpy(dtype=bool)
    pop = _population(population, list(spells["authority"].unique()) if authorities is None else authorities, year)
    rate_text = ["" if m not in _RATED or pop is None else SUPPRESSED if h else f"{v / pop * 10_000:.1f}"
                 for m, v, h in zip(measures, values, hidden)]
    share_text = [""] * len(measures)
    for num, den in _SHARES.items():
        if num in at and den in at:
            i, j = at[num], at[den]
            share_text[i] = SUPPRESSED if hidden[i] or hidden[j] else \
                "" if values[j] == 0 else f"{values[i] / values[j]:.0%}"
    return pd.DataFrame({
        "measure": table["measure"], "label": table["label"],
        "count": pd.array([SUPPRESSED if h else str(c) for c, h in zip(values, hidden)], dtype="str"),
        "rate_per_10000": pd.array(rate_text, dtype="str"), "share": pd.array(share_text, dtype="str"),
    })


def care_stages(model: StageModel) -> list[str]:
    """The stages of being looked after."""
    return [s for s in model.of_kind("stage") if model.get(s).group == CARE_GROUP]


def in_need_stages(model: StageModel) -> list[str]:
    """The front-door and child-in-need stages (their presence decides whether the in-need rows appear)."""
    return [s for s in model.of_kind("stage") if model.get(s).group in _CIN_GROUPS]


def _stage_lookup(spells: pd.DataFrame) -> Callable[[list[str]], np.ndarray]:
    """A function giving the rows whose stage is among some ids (stages coded once: a million spells stay fast)."""
    codes, uniques = pd.factorize(spells["stage"], use_na_sentinel=True)
    names = np.asarray(uniques, dtype=object)
    return lambda ids: np.append(np.isin(names, ids), False)[codes]


#: Rows of spells as numpy columns: the headline counts make a few dozen selections of a year's spells, and
#: as DataFrames their fixed cost (about 40 ms a call even for no spells) was most of the Overview's time.
_Rows = dict[str, np.ndarray]


def _rows(at: np.ndarray, **columns: np.ndarray) -> _Rows:
    """The spells at positions `at` (kept as `row`), with the given whole-table columns taken there."""
    return {"row": at} | {name: values[at] for name, values in columns.items()}


def _where(rows: _Rows, mask: np.ndarray) -> _Rows:
    return {name: values[mask] for name, values in rows.items()}


def _child_ids(spells: pd.DataFrame, earlier: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray | None]:
    """One int64 per child (authority, person_id) for every spell, and for the children of `earlier` (columns
    authority, person_id) in the same numbering (None without it)."""
    frames = [spells] if earlier is None else [spells, earlier]
    authority, _ = _codes_together([f["authority"] for f in frames])
    person, people = _codes_together([f["person_id"] for f in frames])
    child = authority.astype(np.int64) * max(people, 1) + person
    return child[: len(spells)], None if earlier is None else child[len(spells):]


def _codes_together(columns: list[pd.Series]) -> tuple[np.ndarray, int]:
    """The columns' values coded in one numbering (one array for them all) and how many distinct values there
    are. Columns of different dtypes (the app's categorical authority beside text) are coded apart and their
    distinct values matched: stacked, the categorical became text row by row (30 ms a call at 10^6)."""
    if len({str(c.dtype) for c in columns}) == 1:
        codes, distinct = pd.factorize(pd.concat(columns, ignore_index=True))
        return codes, len(distinct)
    coded = [pd.factorize(c) for c in columns]
    distinct = pd.Index(np.concatenate([np.asarray(values, dtype=object) for _, values in coded])).unique()
    return np.concatenate([np.append(distinct.get_indexer(np.asarray(values, dtype=object)), -1)[codes]
                           for codes, values in coded]), len(distinct)


def _covers(rows: Mapping[str, np.ndarray], day: pd.Timestamp) -> np.ndarray:
    """Spells the child is in at the end of `day`: started by then, and left after it or still open."""
    when = np.datetime64(day)
    return (rows["start"] <= when) & ((rows["end"] > when) | (rows["open"] & (rows["end"] >= when)))


def _n(rows: _Rows) -> tuple[int, int]:
    """Distinct children among the rows, and the sum of their record keys (zeros unless a viewer's)."""
    children, first = np.unique(rows["child"], return_index=True)
    return children.size, int(rows["key"][first].sum())


def _starts(care: _Rows, during: _Rows, first: pd.Timestamp) -> _Rows:
    """In-care spells starting a period of care in the year, with `re_entry` (an earlier care spell).

    A care spell just before one starting in the year ends in the year, so `during` holds it.
    """
    # a spell follows care where the child's same journey has a care spell one step before it
    order = np.lexsort((during["step"], during["journey_no"], during["child"]))
    child, journey, step = during["child"][order], during["journey_no"][order], during["step"][order]
    follows = np.zeros(order.size, dtype=bool)
    follows[1:] = (child[1:] == child[:-1]) & (journey[1:] == journey[:-1]) & (step[1:] == step[:-1] + 1)
    after_care = np.empty(order.size, dtype=bool)
    after_care[order] = follows
    from_outside = np.where(during["step"] == 1, ~during["left_truncated"], ~after_care)
    cand = _where(during, (during["start"] >= np.datetime64(first)) & from_outside)
    # re-entry: the child has a care spell starting before this one (the earliest start per child)
    by_child = np.lexsort((care["start"], care["child"]))
    ordered = care["child"][by_child]
    heads = group_starts(ordered)
    earliest = care["start"][by_child][heads]
    at = np.searchsorted(ordered[heads], cand["child"])  # every candidate's child is among care's
    cand["re_entry"] = earliest[at] < cand["start"] if at.size else np.zeros(0, dtype=bool)
    return cand


def _last_ceasings(during: _Rows, spells: pd.DataFrame, model: StageModel, last: pd.Timestamp) -> _Rows:
    """Each child's last ceasing in the year (latest end; on a tie, the later spell), with the `reason` it
    ended with."""
    leaving = _where(during, ~during["next_care"] & ~during["open"] & (during["end"] <= np.datetime64(last)))
    order = np.lexsort((leaving["row"], leaving["end"], leaving["child"]))
    ordered = leaving["child"][order]
    starts = group_starts(ordered)
    leaving = _where(leaving, order[np.append(starts[1:], ordered.size)[: starts.size] - 1])  # each child's last
    outcomes = model.of_kind("outcome")
    care_outcomes = [o for o in outcomes if model.get(o).group != "front_door_outcome"]
    named = {o: o for o in care_outcomes} | {model.get(o).label.lower(): o for o in care_outcomes}
    next_stage = _text_at(spells["next_stage"], leaving["row"], lambda v: v)
    detail = _text_at(spells["exit_detail"], leaving["row"], lambda v: named.get(v.strip().lower(), CONTINUED_SUPPORT),
                      CONTINUED_SUPPORT)
    leaving["reason"] = np.where(np.isin(next_stage, outcomes), next_stage, detail)
    return leaving


def _text_at(values: pd.Series, rows: np.ndarray, name: Callable[[str], str], missing: str = "") -> np.ndarray:
    """`name` of each value at `rows` as text (`missing` where there is none), worked out per distinct value."""
    codes, distinct = pd.factorize(values.iloc[rows])
    named = np.array([name(str(v)) for v in distinct] + [missing], dtype=object)
    return named[codes]  # a missing value's code, -1, takes the last


def _population(population: pd.DataFrame | None, authorities: Sequence[str], year: int) -> float | None:
    """Children aged 0-17 in these authorities in `year`; None if any is missing (no rates)."""
    if population is None:
        return None
    missing = [c for c in _POPULATION_COLUMNS if c not in population.columns]
    if missing:
        raise ValueError(f"the population table lacks column(s) {', '.join(missing)}: it needs authority, "
                         "year (the 31 March year, e.g. 2024) and population_0_17")
    rows = population[population["year"] == year]
    rows = rows[rows["authority"].isin(list(authorities))]
    if rows["authority"].duplicated().any():
        raise ValueError(f"the population table has more than one row for an authority in {year}: keep one")
    total = float(rows["population_0_17"].sum())
    return total if rows["authority"].nunique() == len(set(authorities)) and total > 0 else None
