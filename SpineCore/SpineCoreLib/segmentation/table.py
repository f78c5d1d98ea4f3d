"""Segment names and colours of the VerSe/TPTBox label IDs, so every view of a segmentation agrees.

Colours are fixed by each level's position in the spine (golden-ratio hue steps), so neighbouring
vertebrae always contrast and a level keeps its colour from case to case and session to session.
"""

from __future__ import annotations

import colorsys

from SpineCoreLib.levels import ID_LEVELS, LEVEL_IDS, ordered_levels

_GOLDEN = 0.6180339887498949

Colour = tuple[float, float, float]


def level_color(level: str) -> Colour:
    """The colour (RGB, each 0 to 1) of ``level``: a hue stepped by the golden ratio along the spine."""
    index = ordered_levels(include_variants=True).index(level)
    r, g, b = colorsys.hsv_to_rgb((0.08 + index * _GOLDEN) % 1.0, 0.6, 0.92)
    return (round(r, 4), round(g, 4), round(b, 4))


def segment_table(levels: list[str] | None = None) -> dict[int, tuple[str, Colour]]:
    """``{VerSe label ID: (level name, RGB colour)}`` for ``levels`` (default: every level, variants
    included), cranial to caudal."""
    order = ordered_levels(include_variants=True)
    chosen = order if levels is None else sorted(set(levels), key=order.index)
    return {LEVEL_IDS[lv]: (lv, level_color(lv)) for lv in chosen}


def segment_name(label: int) -> str:
    """The level name of a VerSe label ID; ValueError for an ID that is no vertebra."""
    if label not in ID_LEVELS:
        raise ValueError(f"label {label} is not a vertebra label ID (C1-C7 = 1-7, T1-T12 = 8-19, "
                         "L1-L5 = 20-24, L6 = 25, S1 = 26, T13 = 28)")
    return ID_LEVELS[label]
