"""Step-aligned journeys: exact links, folding, periods and disclosure control on hand-built spells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeys.stages import load_stage_model
from journeys.steps import MORE_MOVES, journey_paths, step_counts, step_flows, step_table
from journeys.suppress import suppress_table

MODEL = load_stage_model()
START, END = pd.Timestamp("2020-04-01"), pd.Timestamp("2020-06-30")  # 2020Q2
IN_PERIOD = "2020-05-04"


def journey(person: str, stages: list[str], end: str, start: str = IN_PERIOD, no: int = 1,
            truncated: bool = False, days: int | list[int] = 7) -> list[dict]:
    """One journey's spells: stage k lasts days (or days[k]); the last goes to end (an outcome or open)."""
    lengths = [days] * len(stages) if isinstance(days, int) else days
    t = pd.Timestamp(start)
    rows = []
    for k, (stage, length) in enumerate(zip(stages, lengths)):
        nxt = stages[k + 1] if k + 1 < len(stages) else end
        rows.append({"person_id": person, "authority": "a", "journey_no": no, "step": k + 1, "stage": stage,
                     "start": t, "end": t + pd.Timedelta(days=length), "next_stage": nxt,
                     "left_truncated": truncated})
        t += pd.Timedelta(days=length)
    return rows


def frame(*journeys: list[dict]) -> pd.DataFrame:
    rows = [row for j in journeys for row in j]
    out = pd.DataFrame(rows, columns=["person_id", "authority", "journey_no", "step", "stage", "start", "end",
                                      "next_stage", "left_truncated"])
    return out.astype({"person_id": "str", "authority": "str", "journey_no": "int32", "step": "int32",
                       "stage": "str", "start": "datetime64[us]", "end": "datetime64[us]", "next_stage": "str",
                       "left_truncated": bool})


def many(prefix: str, n: int, stages: list[str], end: str, **kw: object) -> list[list[dict]]:
    """n journeys of the same shape, one child each."""
    return [journey(f"{prefix}{i}", stages, end, **kw) for i in range(n)]  # type: ignore[arg-type]


def links(paths: pd.DataFrame) -> list[tuple[int, str, str]]:
    return list(paths[["step", "source_stage", "target_stage"]].itertuples(index=False, name=None))


def test_paths_of_a_front_door_journey() -> None:
    spells = frame(journey("1", ["referral", "assessment"], "no_further_action"))
    paths = journey_paths(spells, START, END)
    assert links(paths) == [(0, "entry", "referral"), (1, "referral", "assessment"),
                            (2, "assessment", "no_further_action")]
    assert list(paths.columns) == ["step", "source_stage", "target_stage", "authority", "person_id", "journey_no"]
    assert set(paths["person_id"]) == {"1"} and set(paths["journey_no"]) == {1}


def test_open_journey_ends_at_open() -> None:
    spells = frame(journey("1", ["referral", "child_in_need"], "open"))
    assert links(journey_paths(spells, START, END)) == [(0, "entry", "referral"), (1, "referral", "child_in_need"),
                                                        (2, "child_in_need", "open")]


def test_left_truncated_journey_only_on_request_and_from_before_data() -> None:
    spells = frame(journey("1", ["foster_other"], "returned_home", truncated=True),
                   journey("2", ["referral"], "no_further_action"))
    assert links(journey_paths(spells, START, END)) == [(0, "entry", "referral"), (1, "referral", "no_further_action")]
    both = journey_paths(spells, START, END, include_truncated=True)
    assert links(both) == [(0, "before_data", "foster_other"), (1, "foster_other", "returned_home"),
                           (0, "entry", "referral"), (1, "referral", "no_further_action")]


def test_folding_beyond_depth() -> None:
    four = journey("1", ["foster_other", "residential", "foster_other", "supported_living"], "independent_living")
    spells = frame(four, journey("2", ["foster_kinship", "foster_other"], "adopted"))
    assert links(journey_paths(spells, START, END, depth=2)) == [
        (0, "entry", "foster_other"), (1, "foster_other", "residential"), (2, "residential", MORE_MOVES),
        (3, MORE_MOVES, "independent_living"),
        (0, "entry", "foster_kinship"), (1, "foster_kinship", "foster_other"), (2, "foster_other", "adopted")]
    assert links(journey_paths(frame(four), START, END, depth=4))[-1] == (4, "supported_living", "independent_living")
    assert links(journey_paths(frame(four), START, END, depth=3))[-2:] == [(3, "foster_other", MORE_MOVES),
                                                                          (4, MORE_MOVES, "independent_living")]
    with pytest.raises(ValueError, match="at least 1"):
        journey_paths(spells, START, END, depth=0)


def test_only_journeys_whose_first_spell_starts_in_the_period() -> None:
    spells = frame(
        journey("before", ["referral"], "case_closed", start="2020-03-31"),
        journey("first_day", ["referral"], "case_closed", start="2020-04-01"),
        journey("last_day", ["assessment"], "case_closed", start="2020-06-30"),
        journey("after", ["referral"], "case_closed", start="2020-07-01"),
        # started before the period, so its later steps inside the period do not count
        journey("long", ["referral", "assessment", "child_in_need"], "case_closed", start="2020-03-01", days=30),
    )
    assert step_counts(journey_paths(spells, START, END)).to_dict("list") == {
        "step": [0, 0, 1, 1], "source_stage": ["entry", "entry", "assessment", "referral"],
        "target_stage": ["assessment", "referral", "case_closed", "case_closed"], "count": [1, 1, 1, 1]}


def test_counts_journeys_so_a_child_with_two_journeys_counts_twice() -> None:
    spells = frame(journey("1", ["referral"], "no_further_action", start="2020-04-06"),
                   journey("1", ["referral", "assessment"], "case_closed", start="2020-05-11", no=2),
                   journey("1", ["referral"], "no_further_action", start="2020-09-01", no=3),
                   journey("2", ["referral"], "no_further_action", start="2020-06-01"))
    counts = step_counts(journey_paths(spells, START, END))
    assert counts.to_dict("list") == {
        "step": [0, 1, 1, 2], "source_stage": ["entry", "referral", "referral", "assessment"],
        "target_stage": ["referral", "assessment", "no_further_action", "case_closed"], "count": [3, 1, 2, 1]}


def test_row_order_does_not_matter() -> None:
    spells = frame(*many("x", 6, ["referral", "assessment", "child_in_need"], "case_closed"),
                   *many("y", 7, ["referral", "section_47"], "open"),
                   journey("x0", ["referral"], "no_further_action", start="2020-06-01", no=2))
    shuffled = spells.sample(frac=1, random_state=3).reset_index(drop=True)
    expected = step_counts(journey_paths(spells, START, END))
    pd.testing.assert_frame_equal(step_counts(journey_paths(shuffled, START, END)), expected)
    assert expected["count"].tolist() == [14, 6, 1, 7, 6, 7, 6]
    a, b = step_flows(spells, MODEL, START, END), step_flows(shuffled, MODEL, START, END)
    pd.testing.assert_frame_equal(a.nodes, b.nodes)
    pd.testing.assert_frame_equal(a.links, b.links)


def test_nodes_labels_colours_and_order_within_a_column() -> None:
    spells = frame(*many("a", 6, ["foster_other", "residential", "foster_other"], "adopted"),
                   *many("b", 6, ["referral", "assessment"], "no_further_action"),
                   *many("c", 6, ["referral", "foster_kinship"], "open"),
                   *many("d", 6, ["foster_other"], "returned_home"))
    flows = step_flows(spells, MODEL, START, END, depth=2)
    nodes = flows.nodes.set_index("node")
    assert list(flows.nodes["node"]) == [
        "0:entry", "1:referral", "1:foster_other", "2:assessment", "2:foster_kinship", "2:residential",
        "2:returned_home", "3:more_moves", "3:no_further_action", "3:open", "4:adopted"]
    assert nodes.loc["3:more_moves", ["stage", "label", "colour"]].tolist() == [MORE_MOVES, "More moves", "#999999"]
    assert nodes.loc["0:entry", ["label", "colour"]].tolist() == ["Entered", "#BBBBBB"]
    assert nodes.loc["1:foster_other", ["step", "label", "colour"]].tolist() == [1, "Foster care: other carers",
                                                                                 "#882255"]
    assert nodes["total"].tolist() == [24, 12, 12, 6, 6, 6, 6, 6, 6, 6, 6] and flows.journeys == 24
    assert nodes["total_display"].tolist() == ["24", "12", "12", "6", "6", "6", "6", "6", "6", "6", "6"]
    assert flows.depth == 2 and not flows.links["suppressed"].any()


def test_small_link_hidden_with_its_partners() -> None:
    spells = frame(*many("a", 20, ["referral", "assessment"], "no_further_action"),
                   *many("b", 3, ["referral", "assessment"], "case_closed"),
                   *many("c", 15, ["referral", "section_47"], "no_further_action"),
                   *many("d", 12, ["referral", "section_47"], "case_closed"))
    flows = step_flows(spells, MODEL, START, END)
    shown = flows.links.set_index(["source", "target"])
    # a 2 x 2 table with published margins: hiding the 3 means hiding all four cells
    assert shown.loc[("2:assessment", "3:case_closed"), ["display", "suppressed"]].tolist() == ["c", True]
    assert shown.loc[("2:assessment", "3:no_further_action"), "display"] == "c"  # 20: secondary
    assert shown["display"].tolist() == ["50", "23", "27", "c", "c", "c", "c"]
    assert shown["count"].isna().tolist() == [False, False, False, True, True, True, True]
    totals = flows.nodes.set_index("node")["total_display"].to_dict()
    assert totals == {"0:entry": "50", "1:referral": "50", "2:assessment": "23", "2:section_47": "27",
                      "3:no_further_action": "35", "3:case_closed": "15"}
    assert flows.journeys == 50


def test_node_total_hidden_in_one_table_is_hidden_in_both() -> None:
    spells = frame(*many("a", 20, ["referral", "assessment"], "no_further_action"),
                   *many("b", 3, ["referral", "section_47"], "no_further_action"),
                   *many("c", 30, ["referral", "section_47"], "case_closed"))
    counts = step_counts(journey_paths(spells, START, END))
    table = {k: part.pivot(index="source_stage", columns="target_stage", values="count").fillna(0).astype(int)
             for k, part in counts.groupby("step")}
    # table 1 (referral -> column 2) publishes 2:assessment = 20; table 2 hides it as a row total
    assert suppress_table(table[1]).column_totals["assessment"] == 20
    assert pd.isna(suppress_table(table[2].loc[["assessment", "section_47"]]).row_totals["assessment"])
    flows = step_flows(spells, MODEL, START, END)
    nodes = flows.nodes.set_index("node")
    assert pd.isna(nodes.loc["2:assessment", "total"]) and nodes.loc["2:assessment", "total_display"] == "c"
    assert nodes.loc["1:referral", "total"] == 53
    # and the one link into it, which would give it away, is hidden by the joint audit
    shown = flows.links.set_index(["source", "target"])["display"]
    assert shown[("1:referral", "2:assessment")] == "c"


def test_median_weeks_only_for_nodes_of_ten_or_more() -> None:
    spells = frame(*many("a", 6, ["referral", "assessment"], "case_closed", days=[7, 30]),
                   *many("b", 6, ["referral", "section_47"], "case_closed", days=[21, 30]))
    nodes = step_flows(spells, MODEL, START, END).nodes.set_index("node")
    assert nodes.loc["1:referral", "total"] == 12
    assert nodes.loc["1:referral", "median_weeks"] == 2.0  # median 14 days
    assert np.isnan(nodes.loc["2:assessment", "median_weeks"])  # 6 spells
    assert nodes[["median_weeks"]].drop(index="1:referral")["median_weeks"].isna().all()


def chain() -> pd.DataFrame:
    """Section 47 -> case closed is 2; its partner section 47 -> child protection (10) goes on to open."""
    return frame(*many("a", 9, ["referral", "assessment", "child_in_need"], "case_closed"),
                 *many("b", 7, ["referral", "assessment"], "no_further_action"),
                 *many("c", 2, ["referral", "section_47"], "case_closed"),
                 *many("f", 10, ["referral", "section_47", "child_protection"], "open"),
                 *many("d", 11, ["referral"], "no_further_action"),
                 *many("e", 8, ["foster_other", "residential"], "returned_home"))


def test_step_tables_are_audited_together() -> None:
    counts = step_counts(journey_paths(chain(), START, END))
    table = {k: part.pivot(index="source_stage", columns="target_stage", values="count").fillna(0).astype(int)
             for k, part in counts.groupby("step")}
    two, three = suppress_table(table[2]), suppress_table(table[3])
    # alone, each table is safe, but together: section 47 (12) - child protection -> open (10) = 2
    assert two.row_totals["section_47"] == 12 and pd.isna(two.cells.loc["section_47", "case_closed"])
    assert three.cells.loc["child_protection", "open"] == 10
    flows = step_flows(chain(), MODEL, START, END)
    shown = flows.links.set_index(["source", "target"])["display"]
    assert shown[("3:child_protection", "4:open")] == "c"
    assert shown[("2:section_47", "3:case_closed")] == "c" and shown[("2:section_47", "3:child_protection")] == "c"
    totals = flows.nodes.set_index("node")["total_display"]
    assert totals[["2:section_47", "3:child_protection", "3:case_closed", "4:open"]].tolist() == ["12", "c", "c", "c"]
    assert (shown == "c").sum() == 3 and flows.journeys == 47


def test_step_table_counts_add_up_to_published_node_totals() -> None:
    flows = step_flows(chain(), MODEL, START, END)
    table = step_table(flows)
    assert list(table.columns) == ["step", "from_stage", "from_label", "to_stage", "to_label", "count"]
    assert table.iloc[0].tolist() == [0, "entry", "Entered", "referral", "Referral", "39"]
    assert table[["step", "from_stage", "to_stage"]].head(5).to_numpy().tolist() == [
        [0, "entry", "referral"], [0, "entry", "foster_other"], [1, "referral", "assessment"],
        [1, "referral", "section_47"], [1, "referral", "no_further_action"]]
    assert table["step"].is_monotonic_increasing
    totals = flows.nodes.set_index(["step", "stage"])["total"]
    checked = 0
    for (step, stage), links_out in table.groupby(["step", "from_stage"]):
        total = totals[(step, stage)]
        if not pd.isna(total) and (links_out["count"] != "c").all():
            assert links_out["count"].astype(int).sum() == total
            checked += 1
    for (step, stage), links_in in table.groupby(["step", "to_stage"]):
        total = totals[(step + 1, stage)]
        if not pd.isna(total) and (links_in["count"] != "c").all():
            assert links_in["count"].astype(int).sum() == total
            checked += 1
    assert checked == 16 and (table["count"] == "c").sum() == 3


def test_no_journeys_in_the_period() -> None:
    flows = step_flows(frame(journey("1", ["referral"], "case_closed", start="2019-01-01")), MODEL, START, END)
    assert flows.journeys == 0 and flows.nodes.empty and flows.links.empty
    assert list(flows.links.columns) == ["source", "target", "count", "display", "suppressed"]
    assert step_table(flows).empty


def test_viewer_mode_adds_the_same_noise_to_the_same_journeys() -> None:
    """Cell-key noise on each link (viewer mode): at most 2 either way, and a link keeps its noise in any filter."""
    from journeys.perturb import PTable, record_keys

    secret = "0123456789abcdef"
    # 40 referral -> assessment -> CIN journeys, 30 referral -> no further action, 12 in care: stage counts over 5
    spells = frame(*[journey(f"r{i}", ["referral", "assessment", "child_in_need"], "case_closed") for i in range(40)],
                   *[journey(f"n{i}", ["referral"], "no_further_action") for i in range(30)],
                   *[journey(f"c{i}", ["foster_other"], "open") for i in range(12)])
    exact = step_flows(spells, MODEL, START, END, depth=4)
    noisy = step_flows(spells, MODEL, START, END, depth=4, secret=secret)
    merged = exact.links.merge(noisy.links, on=["source", "target"], suffixes=("_exact", "_noisy"))
    assert len(merged) == len(exact.links) == 7
    change = merged["count_noisy"].astype(int) - merged["count_exact"].astype(int)
    assert change.abs().max() <= 2 and change.abs().sum() > 0  # some link moved, none by more than the p-table's 2
    # the noise of a link comes from its journeys' keys, as the p-table says
    keys = record_keys(pd.Series([f"n{i}" for i in range(30)]), pd.Series([1] * 30), secret)
    expected = 30 + int(PTable.default().table[30, int(keys.sum()) % 256])
    assert noisy.links.set_index("target").loc["2:no_further_action", "count"] == expected
    # the same journeys in a narrower view: the same noisy count
    alone = step_flows(spells[spells["person_id"].str.startswith("n")], MODEL, START, END, depth=4, secret=secret)
    assert alone.links.set_index("target").loc["2:no_further_action", "count"] == expected
    assert step_flows(spells, MODEL, START, END, depth=4, secret=secret).links.equals(noisy.links)
