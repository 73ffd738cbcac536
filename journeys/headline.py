"""Headline figures the DfE publishes (looked after, starts, ceasings, children in need), counting children."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from journeys.flows import year_label
from journeys.stages import OPEN, StageModel
from journeys.suppress import DEFAULT_THRESHOLD, SUPPRESSED, DisclosureError, safe_share, suppress_series

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
    care = _care_rows(spells, in_care, is_open, model, last).assign(key=lambda c: keys[c["row"].to_numpy()])
    during = care[care["end"] >= first]
    at_end = during[_covers(during, last)]
    starts = _starts(care, during, first)
    if earlier_care is not None and len(starts):
        at = starts["row"].to_numpy()
        mine = pd.MultiIndex.from_arrays([spells["authority"].to_numpy()[at], spells["person_id"].to_numpy()[at]])
        before = pd.MultiIndex.from_arrays([earlier_care["authority"].to_numpy(), earlier_care["person_id"].to_numpy()])
        starts = starts.assign(re_entry=starts["re_entry"].to_numpy() | mine.isin(before))
    ceased = _last_ceasings(during, spells, model, last)
    places = during["moves"].to_numpy(dtype=np.int64) + 1
    placements = pd.Series(places).groupby(during["child"].to_numpy()).sum()
    stable_ids = placements.index[placements.to_numpy() >= 3]
    fy = year_label(year)
    looked_after = _n(at_end)
    rows: list[tuple[str, str, tuple[int, int]]] = [
        ("looked_after_31_march", f"Children looked after on 31 March {year}", looked_after),
        ("started_in_year", f"Children who started to be looked after in {fy}", _n(starts)),
        ("re_entries_in_year", f"Children who started to be looked after in {fy} after an earlier period "
                               "of care (re-entry)", _n(starts[starts["re_entry"]])),
        ("ceased_in_year", f"Children who ceased to be looked after in {fy}", _n(ceased)),
    ]
    for reason in [*model.of_kind("outcome"), CONTINUED_SUPPORT]:
        if (ceased["reason"] == reason).any():
            name = CONTINUED_SUPPORT_LABEL if reason == CONTINUED_SUPPORT else model.get(reason).label
            rows.append((f"ceased_{reason}", f"Ceased to be looked after in {fy}: {name}",
                         _n(ceased[ceased["reason"] == reason])))
    rows += [
        ("looked_after_during_year", f"Children looked after at any time in {fy}", _n(during)),
        ("three_plus_placements", f"Children looked after on 31 March {year} with 3 or more placements in {fy}",
         _n(at_end[at_end["child"].isin(stable_ids)])),
    ]
    front_door = in_need_stages(model)
    if stage_in(front_door).any() if in_need_data is None else in_need_data:
        cin = stage_in([s for s in front_door if s not in FRONT_DOOR_ONLY])
        covered = cin & _covers(spells.assign(open=is_open), last).to_numpy()
        front = spells.loc[covered, ["authority", "person_id", "stage"]].assign(key=keys[covered])
        authority, person = pd.factorize(front["authority"])[0], pd.factorize(front["person_id"])[0]
        front = front.assign(child=authority.astype(np.int64) * (int(person.max(initial=0)) + 1) + person)
        in_need = _n(front)
        rows += [
            ("children_in_need_31_march", f"Children in need on 31 March {year} (including children looked after)",
             (in_need[0] + looked_after[0], in_need[1] + looked_after[1])),  # the two groups do not overlap
            ("children_in_need_not_looked_after_31_march",
             f"Children in need on 31 March {year} who were not looked after", in_need),
            ("on_cp_plan_31_march", f"Children on a child protection plan on 31 March {year}",
             _n(front[front["stage"] == _CP_STAGE])),
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
    counts = pd.Series(table["count"].to_numpy(), index=table["measure"].to_numpy())
    hidden = pd.Series((counts >= 1) & (counts <= threshold), index=counts.index)
    reasons = counts[counts.index.str.startswith("ceased_") & (counts.index != "ceased_in_year")]
    parts = counts.reindex(["looked_after_31_march", "children_in_need_not_looked_after_31_march"]).dropna()
    for part, total in ((reasons, "ceased_in_year"), (parts, "children_in_need_31_march")):
        if total in counts.index and len(part) > 0:
            controlled = suppress_series(part.astype(np.int64), threshold=threshold)
            hidden[part.index] |= controlled.hidden_mask().iloc[:, 0].to_numpy()
            hidden[total] |= controlled.grand_total is None
    if protect is not None:
        hidden = protect(counts, hidden)
    published = counts.astype("Int64").mask(hidden)
    pop = _population(population, list(spells["authority"].unique()) if authorities is None else authorities, year)
    rates = safe_share(published, pop, scale=10_000)
    rate_text = np.where(~counts.index.isin(_RATED) | (pop is None), "",
                         np.where(hidden, SUPPRESSED, rates.map(lambda v: f"{v:.1f}")))
    share_text = pd.Series("", index=counts.index, dtype="str")
    for num, den in _SHARES.items():
        if num in counts.index and den in counts.index:
            share = safe_share(published[[num]], published[den])[num]
            share_text[num] = SUPPRESSED if hidden[num] or hidden[den] else ("" if pd.isna(share) else f"{share:.0%}")
    return pd.DataFrame({
        "measure": table["measure"], "label": table["label"],
        "count": pd.array([SUPPRESSED if h else str(c) for c, h in zip(counts, hidden)], dtype="str"),
        "rate_per_10000": pd.array(rate_text, dtype="str"), "share": pd.array(share_text.to_numpy(), dtype="str"),
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


def _care_rows(spells: pd.DataFrame, in_care: np.ndarray, is_open: np.ndarray, model: StageModel,
               last: pd.Timestamp) -> pd.DataFrame:
    """In-care spells started by `last` as numbers: an int64 `child` per (authority, person_id), the
    spell's position `row` in spells, whether the next stage is care (`next_care`) or `open`."""
    care_ids = care_stages(model)
    keep = np.flatnonzero(in_care & (spells["start"] <= last).to_numpy())
    authority, _ = pd.factorize(spells["authority"].iloc[keep])
    person, people = pd.factorize(spells["person_id"].iloc[keep])
    frame = {"child": authority.astype(np.int64) * max(len(people), 1) + person, "row": keep}
    for column in ("journey_no", "step", "start", "end", "moves", "left_truncated"):
        frame[column] = spells[column].to_numpy()[keep]
    frame["next_care"] = spells["next_stage"].isin(care_ids).to_numpy()[keep]
    frame["open"] = is_open[keep]
    return pd.DataFrame(frame)


def _covers(spells: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
    """Spells the child is in at the end of `day`: started by then, and left after it or still open."""
    return (spells["start"] <= day) & ((spells["end"] > day) | (spells["open"] & (spells["end"] >= day)))


def _n(rows: pd.DataFrame) -> tuple[int, int]:
    """Distinct children among the rows, and the sum of their record keys (zeros unless a viewer's)."""
    children, first = np.unique(rows["child"].to_numpy(), return_index=True)
    return children.size, int(rows["key"].to_numpy()[first].sum())


def _starts(care: pd.DataFrame, during: pd.DataFrame, first: pd.Timestamp) -> pd.DataFrame:
    """In-care spells starting a period of care in the year, with `re_entry` (an earlier care spell).

    A care spell just before one starting in the year ends in the year, so `during` holds it.
    """
    cand = during[during["start"] >= first]
    keys = ["child", "journey_no", "step"]
    cand = cand.merge(during[keys].assign(step=during["step"] + 1, _care_before=True), how="left", on=keys)
    from_outside = np.where(cand["step"] == 1, ~cand["left_truncated"].astype(bool), cand["_care_before"].isna())
    cand = cand[from_outside]
    earliest = care.groupby("child")["start"].min()
    return cand.assign(re_entry=earliest.reindex(cand["child"]).to_numpy() < cand["start"].to_numpy())


def _last_ceasings(during: pd.DataFrame, spells: pd.DataFrame, model: StageModel, last: pd.Timestamp) -> pd.DataFrame:
    """Each child's last ceasing in the year, with the `reason` it ended with."""
    leaving = during[~during["next_care"] & ~during["open"] & (during["end"] <= last)]
    leaving = leaving.sort_values("end", kind="stable").drop_duplicates("child", keep="last")
    outcomes = model.of_kind("outcome")
    care_outcomes = [o for o in outcomes if model.get(o).group != "front_door_outcome"]
    named = {o: o for o in care_outcomes} | {model.get(o).label.lower(): o for o in care_outcomes}
    next_stage = spells["next_stage"].iloc[leaving["row"]].astype("str").reset_index(drop=True)
    detail = spells["exit_detail"].iloc[leaving["row"]].astype("str").str.strip().str.lower().map(named)
    reason = next_stage.where(next_stage.isin(outcomes), detail.reset_index(drop=True).fillna(CONTINUED_SUPPORT))
    return leaving.assign(reason=reason.astype("str").to_numpy())


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
