"""Quarterly flows: stage at the quarter's start -> stage or outcome at its end, exact on a hand-built case."""

from __future__ import annotations

import pandas as pd
import pytest

from journeys.cli import main
from journeys.flows import Period, flows_long, quarter_flows, suppressed_flows
from tests.conftest import ROOT, write_episodes

ROWS = [
    ("1", "01/01/2019", "S", "C2", "U4", "", ""),                 # in foster care throughout
    ("2", "01/01/2019", "S", "C2", "U4", "01/05/2019", "X1"),     # moves to a children's home
    ("2", "01/05/2019", "P", "C2", "K2", "", ""),
    ("3", "01/05/2019", "S", "C2", "U4", "", ""),                 # enters care in the quarter
    ("4", "01/01/2019", "S", "C2", "U4", "15/05/2019", "E4A"),    # goes home in the quarter
    ("5", "01/07/2019", "S", "C2", "U4", "", ""),                 # after the quarter
    ("6", "01/01/2019", "S", "C2", "U4", "31/03/2019", "E4A"),    # left before it
]


def test_period_keys_and_labels() -> None:
    p = Period.parse("2019q2")
    assert (p.key, p.label, p.start.isoformat(), p.end.isoformat()) == ("2019Q2", "2019-20 Q1", "2019-04-01",
                                                                       "2019-06-30")
    assert Period.parse("2020Q1").label == "2019-20 Q4" and Period.parse("2019Q4").end.isoformat() == "2019-12-31"
    with pytest.raises(ValueError, match="write it as 2023Q2"):
        Period.parse("2019-Q2")


def test_quarter_flows_exact(build_903) -> None:
    r = build_903(ROWS)
    table = quarter_flows(r.spells, Period.parse("2019Q2"), r.stage_model)
    assert table.to_dict("index") == {
        "not_known": {"not_known": 0, "foster_other": 1, "residential": 0, "returned_home": 0},
        "foster_other": {"not_known": 0, "foster_other": 1, "residential": 1, "returned_home": 1},
    }  # 'not known' has its row and column wherever anyone is counted, zeros too
    published = flows_long(suppressed_flows(r.spells, Period.parse("2019Q2"), r.stage_model), Period.parse("2019Q2"))
    assert set(published["count"]) <= {"c", "0"}  # every 1 is hidden; nothing else is there to show
    assert list(published.columns) == ["period", "period_label", "from_stage", "to_stage", "count"]


def test_cli_flows_prints_suppressed_csv(tmp_path, capsys) -> None:
    path = write_episodes(tmp_path / "episodes.csv", ROWS)
    code = main(["flows", "--quiet", "--config", str(ROOT / "pathway_configs" / "ssda903.yaml"), str(path),
                 "--extract-date", "2020-03-31", "--period", "2019Q2"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "period,period_label,from_stage,to_stage,count"
    assert "2019Q2,2019-20 Q1,foster_other,residential,c" in out
    assert not any(line.endswith(",1") for line in out), "a small count was printed"
    with pytest.raises(SystemExit) as exit_:
        main(["flows", "--config", "x.yaml", str(path), "--period", "Q2"])
    assert exit_.value.code == 2


def test_same_pseudonym_in_two_authorities_is_two_children(build_903) -> None:
    r = build_903(ROWS)
    both = pd.concat([r.spells, r.spells.assign(authority="other")], ignore_index=True)
    one = quarter_flows(r.spells, Period.parse("2019Q2"), r.stage_model)
    assert quarter_flows(both, Period.parse("2019Q2"), r.stage_model).equals(one * 2)


def test_viewer_counts_are_perturbed_consistently(build_903) -> None:
    """Cell-key noise: the same children always get the same noise; small values never 1 or 2."""
    from journeys.flows import perturbed_flows
    rows = [(f"C{i}", "01/01/2019", "S", "C2", "U4", "", "") for i in range(40)]
    rows += [(f"H{i}", "01/01/2019", "S", "C2", "U4", "15/05/2019", "E4A") for i in range(12)]
    r = build_903(rows)
    exact = quarter_flows(r.spells, Period.parse("2019Q2"), r.stage_model)
    noisy = perturbed_flows(r.spells, Period.parse("2019Q2"), r.stage_model, secret="0123456789abcdef")
    again = perturbed_flows(r.spells.sample(frac=1, random_state=3), Period.parse("2019Q2"), r.stage_model,
                            secret="0123456789abcdef")
    assert noisy.equals(again)  # row order does not matter: the set of children does
    assert (abs(noisy - exact) <= 2).all().all()
    assert not set(noisy.to_numpy().ravel()) & {1, 2}
    other = perturbed_flows(r.spells, Period.parse("2019Q2"), r.stage_model, secret="fedcba9876543210")
    assert exact.loc["foster_other", "foster_other"] == 40 and exact.loc["foster_other", "returned_home"] == 12
    assert not (noisy.equals(exact) and other.equals(exact))


def test_a_start_or_end_on_the_first_day_counts_in_that_quarter(build_903) -> None:
    """The quarter starts where the last one ended (the day before), so nothing dated 1 April is lost."""
    rows = [("1", "01/01/2019", "S", "C2", "U4", "01/04/2019", "E4A"),   # goes home on 1 April
            ("2", "01/04/2019", "S", "C2", "U4", "", "")]                # comes into care on 1 April
    r = build_903(rows)
    q1, q2 = quarter_flows(r.spells, Period.parse("2019Q1"), r.stage_model), \
        quarter_flows(r.spells, Period.parse("2019Q2"), r.stage_model)
    assert q1.to_dict("index") == {"not_known": {"not_known": 0, "foster_other": 1}}  # child 1 in care on 31 March
    assert q2.to_dict("index") == {"not_known": {"not_known": 0, "foster_other": 1, "returned_home": 0},
                                   "foster_other": {"not_known": 0, "foster_other": 0, "returned_home": 1}}


def test_counting_on_codes_matches_the_child_by_child_rules() -> None:
    """quarter_flows (integer codes) gives exactly the crosstab of quarter_places, quarter by quarter, on a sample."""
    from journeys.config import load_config
    from journeys.flows import quarter_places
    from journeys.pipeline import run_pipeline
    from tests.conftest import KEY

    files = sorted(p for p in (ROOT / "data_samples" / "riverside").iterdir() if p.suffix == ".csv")
    r = run_pipeline(files, load_config(ROOT / "pathway_configs" / "riverside.yaml"), key=KEY)
    spells = pd.concat([r.spells, r.spells.assign(authority="other")], ignore_index=True)
    checked = 0
    for key in [f"{y}Q{q}" for y in range(2016, 2026) for q in (1, 2, 3, 4)]:
        period = Period.parse(key)
        places = quarter_places(spells, period, r.stage_model)
        expected = pd.crosstab(places["from_stage"], places["to_stage"])
        if len(expected):  # 'not known' has its row and column wherever anyone is counted, zeros too
            expected = expected.reindex(index=expected.index.union(["not_known"]),
                                        columns=expected.columns.union(["not_known"]), fill_value=0)
        got = quarter_flows(spells, period, r.stage_model)
        assert got.sum().sum() == len(places), key
        assert (set(got.index), set(got.columns)) == (set(expected.index), set(expected.columns)), key
        pd.testing.assert_frame_equal(got, expected.reindex(index=got.index, columns=got.columns).astype("int64"),
                                      check_names=False)
        checked += got.size > 0
    assert checked >= 30


def test_a_filter_counted_from_the_whole_coding_matches_counting_its_own_spells() -> None:
    """The app counts a filter's quarter from every spell coded once and a mask (views.exact_counts); it must
    give exactly what quarter_flows (and quarter_stage_counts) give on the filter's own spells, for any filter
    and quarter."""
    import random

    from journeys.attributes import journey_attributes
    from journeys.config import load_config
    from journeys.pipeline import run_pipeline
    from journeys.selection import JourneyData, Selection
    from journeys.quarter_stats import quarter_stage_counts, stage_counts_for
    from journeys.views import SPELL_CORE, coded_quarter, exact_counts
    from tests.conftest import KEY

    files = sorted(p for p in (ROOT / "data_samples" / "riverside").iterdir() if p.suffix == ".csv")
    r = run_pipeline(files, load_config(ROOT / "pathway_configs" / "riverside.yaml"), key=KEY)
    spells = pd.concat([r.spells, r.spells.assign(authority="other")], ignore_index=True)
    episodes = pd.concat([r.episodes, r.episodes.assign(authority="other")], ignore_index=True)
    data = JourneyData(spells, journey_attributes(episodes, spells))
    options, rng, compared = data.options(), random.Random(7), 0
    for _ in range(12):
        filters = {c: rng.sample(v, k=1) for c, v in options.items() if v and rng.random() < 0.4}
        selection = Selection.from_values(rng.choice([[], ["other"], ["riverside", "other"]]), filters,
                                          rng.choice([None, "child_in_need", "foster_other"]))
        mask = data.mask(selection)
        for key in rng.sample([f"{y}Q{q}" for y in range(2017, 2025) for q in (1, 2, 3, 4)], k=4):
            period = Period.parse(key)
            own = data.select(selection, columns=["person_id", "stage", "start", "end", "next_stage", "authority"],
                              children_as_ids=True)
            expected = quarter_flows(own, period, r.stage_model)
            got = exact_counts(data, mask, period, r.stage_model)
            pd.testing.assert_frame_equal(got, expected)
            compared += int(expected.to_numpy().sum() > 0)
            # the per-stage table's counts come the same way
            own = data.select(selection, columns=SPELL_CORE, children_as_ids=True,
                              overlapping=(pd.Timestamp(period.start), pd.Timestamp(period.end)))
            coded, rows = coded_quarter(data, period, r.stage_model)
            expected = quarter_stage_counts(own, period, r.stage_model)
            got = stage_counts_for(coded, rows, mask[rows.rows], r.stage_model)
            if expected.empty:  # no stages: an empty table either way (pandas types its empty index otherwise)
                assert got.empty and list(got.columns) == list(expected.columns)
            else:
                pd.testing.assert_frame_equal(got, expected)
    assert compared >= 20
