"""Can these colours be told apart? Colour-vision-deficiency simulation, CIELAB, Delta E and WCAG contrast.

Pure functions over '#RRGGBB' strings, so the app can warn an analyst whose custom stage colours clash.
Sources:
- sRGB <-> linear and the sRGB -> XYZ (D65) matrix: IEC 61966-2-1:1999.
- Colour vision deficiency: Machado, Oliveira & Fernandes (2009), "A Physiologically-based Model for
  Simulation of Color Vision Deficiency", IEEE TVCG 15(6); the severity-1.0 matrices (protanopia,
  deuteranopia, tritanopia), applied to linear RGB.
- CIELAB (D65 white) and CIE76 Delta E: CIE 15:2004.
- CIEDE2000: Sharma, Wu & Dalal (2005), "The CIEDE2000 Color-Difference Formula: Implementation Notes,
  Supplementary Test Data, and Mathematical Observations", Color Res. Appl. 30(1); its test pairs are in
  tests/test_palette.py.
- Contrast ratio: WCAG 2.2, definitions of "relative luminance" and "contrast ratio".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

Vision = Literal["normal", "protanopia", "deuteranopia", "tritanopia"]
RGB = tuple[float, float, float]
Lab = tuple[float, float, float]
Matrix = tuple[RGB, RGB, RGB]

VISIONS: tuple[Vision, ...] = ("normal", "protanopia", "deuteranopia", "tritanopia")

#: Machado et al. (2009), severity 1.0, for linear RGB.
MACHADO: dict[Vision, Matrix] = {
    "normal": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602), (0.004733, 0.691367, 0.303900)),
}
SRGB_TO_XYZ: Matrix = ((0.4124564, 0.3575761, 0.1804375), (0.2126729, 0.7151522, 0.0721750),
                       (0.0193339, 0.1191920, 0.9503041))
D65_WHITE: RGB = (0.95047, 1.0, 1.08883)

#: Smallest CIEDE2000 difference we accept between colours drawn side by side (see tests/test_palette.py).
MIN_DELTA_E = 10.0


def hex_to_rgb(colour: str) -> RGB:
    """'#RRGGBB' as sRGB components from 0 to 1.

    >>> hex_to_rgb("#FF8000")
    (1.0, 0.5019607843137255, 0.0)
    """
    value = colour.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"a colour is written #RRGGBB, not {colour!r}")
    red, green, blue = (int(value[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return red, green, blue


def srgb_to_linear(component: float) -> float:
    """Undo the sRGB transfer curve: light is added and mixed in linear RGB."""
    return component / 12.92 if component <= 0.04045 else ((component + 0.055) / 1.055) ** 2.4


def linear_to_srgb(component: float) -> float:
    """The sRGB transfer curve (the inverse of srgb_to_linear), clipped to 0..1."""
    component = min(max(component, 0.0), 1.0)
    return component * 12.92 if component <= 0.0031308 else 1.055 * component ** (1 / 2.4) - 0.055


def _apply(matrix: Matrix, vector: RGB) -> RGB:
    x, y, z = (row[0] * vector[0] + row[1] * vector[1] + row[2] * vector[2] for row in matrix)
    return x, y, z


def simulate(colour: str, vision: Vision) -> RGB:
    """The linear RGB a person with this vision sees for `colour` (Machado 2009, clipped to the display's range)."""
    red, green, blue = (srgb_to_linear(c) for c in hex_to_rgb(colour))
    seen = _apply(MACHADO[vision], (red, green, blue))
    red, green, blue = (min(max(c, 0.0), 1.0) for c in seen)
    return red, green, blue


def rgb_to_hex(linear: RGB) -> str:
    """Linear RGB back to '#RRGGBB' (to show what a simulated colour looks like)."""
    return "#" + "".join(f"{round(linear_to_srgb(c) * 255):02X}" for c in linear)


def linear_to_lab(linear: RGB) -> Lab:
    """CIELAB (D65) of a linear RGB colour."""
    xyz = _apply(SRGB_TO_XYZ, linear)

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = (f(v / w) for v, w in zip(xyz, D65_WHITE))
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def to_lab(colour: str, vision: Vision = "normal") -> Lab:
    """CIELAB of '#RRGGBB' as seen with `vision`.

    >>> [round(v, 2) for v in to_lab("#FF0000")], [round(v, 2) for v in to_lab("#FF0000", "deuteranopia")]
    ([53.24, 80.09, 67.2], [59.75, -5.43, 63.84])
    """
    return linear_to_lab(simulate(colour, vision))


def delta_e_76(first: Lab, second: Lab) -> float:
    """CIE76 colour difference: the straight-line distance in CIELAB."""
    return math.dist(first, second)


def delta_e_2000(first: Lab, second: Lab) -> float:
    """CIEDE2000 colour difference (Sharma, Wu & Dalal 2005): about 1 is just noticeable side by side."""
    l1, a1, b1 = first
    l2, a2, b2 = second
    c_mean = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_mean ** 7 / (c_mean ** 7 + 25 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0
    dl, dc = l2 - l1, c2p - c1p
    dh = 0.0 if c1p * c2p == 0 else (h2p - h1p + 180) % 360 - 180
    dh_big = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    l_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_mean = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_mean = (h1p + h2p) / 2
    else:
        h_mean = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(h_mean - 30)) + 0.24 * math.cos(math.radians(2 * h_mean))
         + 0.32 * math.cos(math.radians(3 * h_mean + 6)) - 0.20 * math.cos(math.radians(4 * h_mean - 63)))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / math.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_t = (-2 * math.sqrt(cp_mean ** 7 / (cp_mean ** 7 + 25 ** 7))
           * math.sin(math.radians(60 * math.exp(-(((h_mean - 275) / 25) ** 2)))))
    return math.sqrt((dl / s_l) ** 2 + (dc / s_c) ** 2 + (dh_big / s_h) ** 2 + r_t * (dc / s_c) * (dh_big / s_h))


def colour_difference(first: str, second: str, vision: Vision = "normal") -> float:
    """CIEDE2000 between two '#RRGGBB' colours as seen with `vision`."""
    return delta_e_2000(to_lab(first, vision), to_lab(second, vision))


@dataclass(frozen=True)
class Clash:
    """Two colours of one group that look too alike to someone with `vision`."""

    first: str
    second: str
    vision: Vision
    delta_e: float

    def __str__(self) -> str:
        return f"{self.first} and {self.second}: Delta E {self.delta_e:.1f} with {self.vision} vision"


def clashes(colours: Mapping[str, str], minimum: float = MIN_DELTA_E,
            visions: Sequence[Vision] = VISIONS) -> list[Clash]:
    """Every pair of named colours (name -> '#RRGGBB') closer than `minimum` CIEDE2000 under any of `visions`.

    >>> [str(c) for c in clashes({"red": "#D55E00", "green": "#009E73"})]
    []
    >>> [c.vision for c in clashes({"red": "#FF0000", "green": "#00FF00"}, minimum=25)]
    ['deuteranopia']
    """
    found = []
    for (name_a, colour_a), (name_b, colour_b) in combinations(colours.items(), 2):
        for vision in visions:
            difference = colour_difference(colour_a, colour_b, vision)
            if difference < minimum:
                found.append(Clash(name_a, name_b, vision, difference))
    return found


def relative_luminance(colour: str) -> float:
    """WCAG 2.2 relative luminance of '#RRGGBB' (0 for black, 1 for white)."""
    red, green, blue = (srgb_to_linear(c) for c in hex_to_rgb(colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2.2 contrast ratio, from 1 to 21; normal text needs 4.5, large text and graphics 3.

    >>> round(contrast_ratio("#000000", "#FFFFFF"), 1), round(contrast_ratio("#777777", "#FFFFFF"), 2)
    (21.0, 4.48)
    """
    lighter, darker = sorted((relative_luminance(foreground), relative_luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
