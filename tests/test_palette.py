"""Colours a colour-blind reader can tell apart, and text that meets WCAG 2.2 AA contrast.

The bar: CIEDE2000 of at least 10 (journeys.palette.MIN_DELTA_E) between every two colours drawn
side by side, in normal vision and in simulated protanopia, deuteranopia and tritanopia (Machado et
al. 2009, severity 1.0, the strongest form of each). About 1 is just noticeable with the two patches
touching; Sankey nodes sit a few pixels apart and links are paler tints of them, so we ask for ten
times that. It is also what the well-known colour-blind-safe palettes keep, so it is reachable:
Okabe-Ito's 7 colours stay 10.9 apart and Paul Tol's muted 9 stay 11.5 apart (tested below), while
Tol's bright and vibrant sets, meant for lines with labels, fall to 8.6 under tritanopia.

What is drawn side by side (journeys.steps orders each column: stages, 'more moves', outcomes,
'still open'; the flows Sankey puts 'not known to services' and the stages on the left):
- stages: every stage of kind "stage", with 'more moves' and 'not known to services';
- endings: every outcome, with 'more moves' and 'still open';
- start: 'entered' and 'already known when data begins' (the first column of the journeys view).
Stages and outcomes are not compared with each other: outcomes always sit below all stages in a
column, every node carries its label, and every chart has a table view (WCAG 1.4.1).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from journeys.charts import stage_colour
from journeys.flows import NOT_KNOWN
from journeys.palette import (MIN_DELTA_E, VISIONS, clashes, colour_difference, contrast_ratio, delta_e_2000, delta_e_76,
                              hex_to_rgb, linear_to_srgb, rgb_to_hex, simulate, srgb_to_linear, to_lab)
from journeys.stages import BEFORE_DATA, ENTRY, OPEN, load_stage_model
from journeys.steps import MORE_MOVES_COLOUR

MODEL = load_stage_model()
CSS = Path(__file__).resolve().parents[1] / "assets" / "app.css"


def side_by_side() -> dict[str, dict[str, str]]:
    """Each group of colours that the charts draw next to one another (name -> colour)."""
    colours = {s.id: s.colour for s in MODEL.stages}
    return {
        "stages": {s: colours[s] for s in MODEL.of_kind("stage")}
                  | {"more_moves": MORE_MOVES_COLOUR, NOT_KNOWN: stage_colour(MODEL, NOT_KNOWN)},
        "endings": {s: colours[s] for s in MODEL.of_kind("outcome")} | {"more_moves": MORE_MOVES_COLOUR, OPEN: colours[OPEN]},
        "start": {ENTRY: colours[ENTRY], BEFORE_DATA: colours[BEFORE_DATA]},
    }


@pytest.mark.parametrize("group", ["stages", "endings", "start"])
def test_colours_drawn_side_by_side_stay_apart_in_every_kind_of_vision(group: str) -> None:
    colours = side_by_side()[group]
    assert len(set(colours.values())) == len(colours), "two names share one colour"
    assert [str(c) for c in clashes(colours)] == []


def test_the_groups_hold_every_stage_and_outcome() -> None:
    groups = side_by_side()
    assert len(groups["stages"]) == 17 and len(groups["endings"]) == 13
    assert set(MODEL.ids) - {OPEN, ENTRY, BEFORE_DATA} <= set(groups["stages"]) | set(groups["endings"])


def test_a_clash_names_the_pair_the_vision_and_how_far_apart() -> None:
    """The old front-door blues: Contact and Referral merge for a reader with protanopia."""
    found = clashes({"contact": "#BBCCEE", "referral": "#88CCEE"})
    assert [(c.first, c.second, c.vision) for c in found] == [("contact", "referral", "protanopia"),
                                                            ("contact", "referral", "deuteranopia")]
    assert str(found[0]) == "contact and referral: Delta E 1.7 with protanopia vision"
    assert clashes({"a": "#BBCCEE", "b": "#88CCEE"}, minimum=1.0) == []


@pytest.mark.parametrize(("name", "colours", "worst"), [
    ("Okabe-Ito", ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"], 10.9),
    ("Tol muted", ["#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255", "#44AA99", "#999933", "#AA4499"], 11.5),
    ("Tol bright", ["#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB"], 8.6),
])
def test_the_bar_is_what_published_colour_blind_safe_palettes_keep(name: str, colours: list[str], worst: float) -> None:
    smallest = min(colour_difference(a, b, v) for i, a in enumerate(colours) for b in colours[i + 1:] for v in VISIONS)
    assert round(smallest, 1) == worst, name
    assert (smallest >= MIN_DELTA_E) == (name != "Tol bright")


@pytest.mark.parametrize(("first", "second", "expected"), [  # Sharma, Wu & Dalal (2005), table 1, pairs 1, 7, 17, 18, 25
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (61.0, -5.0, 29.0), 22.8977),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
])
def test_ciede2000_matches_the_published_test_pairs(first: tuple[float, float, float], second: tuple[float, float, float],
                                                     expected: float) -> None:
    assert round(delta_e_2000(first, second), 4) == expected
    assert round(delta_e_2000(second, first), 4) == expected


def test_lab_and_cie76_of_known_colours() -> None:
    assert [round(v, 2) for v in to_lab("#FF0000")] == [53.24, 80.09, 67.2]  # CIE 15 / sRGB reference values
    assert [round(v, 2) for v in to_lab("#000000")] == [0.0, 0.0, 0.0]
    assert delta_e_76((50, 0, 0), (53, 4, 0)) == 5.0


def test_simulation_keeps_greys_and_merges_red_with_green() -> None:
    for vision in VISIONS:
        assert rgb_to_hex(simulate("#777777", vision)) == "#777777"  # each matrix row sums to 1: greys stay grey
    assert rgb_to_hex(simulate("#FF0000", "normal")) == "#FF0000"
    assert colour_difference("#FF0000", "#00FF00", "normal") > 80
    assert colour_difference("#FF0000", "#00FF00", "deuteranopia") < 20


def test_srgb_transfer_round_trips() -> None:
    assert all(round(linear_to_srgb(srgb_to_linear(v / 255)) * 255) == v for v in range(256))
    assert hex_to_rgb("#FFFFFF") == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="#RRGGBB"):
        hex_to_rgb("#FFF")


# Text on the page: the colour each CSS rule sets, against what it sits on (its own background if it sets one).
WHITE, PANEL, HEADER = "#ffffff", "var(--panel)", "#0b0c0c"
SITS_ON = {
    "body": [WHITE, PANEL],
    "a": [WHITE, PANEL],
    ".strapline": [HEADER],
    ".disclosure-note": [HEADER],
    ".how-to-read": [WHITE],
    ".hint": [WHITE, PANEL],
    ".table-details summary": [WHITE],
    ".footer": [WHITE],
    ".upload-choose": [WHITE],
}


def css_rules(text: str) -> dict[str, dict[str, str]]:
    """Selector -> declarations of a flat stylesheet (no @media), comments dropped."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return {selector.strip(): dict((k.strip(), v.strip()) for k, v in (d.split(":", 1) for d in body.split(";") if ":" in d))
            for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text)}


def resolve(value: str, variables: dict[str, str]) -> str:
    """A CSS colour as #rrggbb: var(--name) looked up, #rgb widened."""
    match = re.fullmatch(r"var\((--[\w-]+)\)", value)
    value = variables[match.group(1)] if match else value
    return "#" + "".join(c * 2 for c in value[1:]) if re.fullmatch(r"#[0-9a-fA-F]{3}", value) else value


def text_pairs(text: str) -> list[tuple[str, str, str]]:
    """(selector, text colour, background) for every rule that sets a text colour."""
    rules = css_rules(text)
    variables = rules[":root"]
    pairs = []
    for selector, declarations in rules.items():
        if "color" not in declarations:
            continue
        if "background" not in declarations and selector not in SITS_ON:
            pytest.fail(f"{selector} sets a text colour: say in SITS_ON which backgrounds it sits on")
        backgrounds = [declarations["background"]] if "background" in declarations else SITS_ON[selector]
        pairs += [(selector, resolve(declarations["color"], variables), resolve(b, variables)) for b in backgrounds]
    return pairs


def test_every_text_colour_in_the_stylesheet_meets_aa_contrast() -> None:
    pairs = text_pairs(CSS.read_text(encoding="utf-8"))
    assert len(pairs) >= 16
    failing = [(s, fg, bg, round(contrast_ratio(fg, bg), 2)) for s, fg, bg in pairs if contrast_ratio(fg, bg) < 4.5]
    assert failing == []


def test_a_pale_hint_would_fail() -> None:
    pairs = text_pairs(":root { --muted: #949494; --panel: #f3f2f1; } .hint { color: var(--muted); }")
    assert [(s, fg, bg, round(contrast_ratio(fg, bg), 2)) for s, fg, bg in pairs] == [
        (".hint", "#949494", "#ffffff", 3.03), (".hint", "#949494", "#f3f2f1", 2.71)]
