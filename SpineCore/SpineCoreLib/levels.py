"""Vertebral levels, their VerSe/TPTBox label IDs and per-level landmark names.

Label IDs follow VerSe and TPTBox so that their tools interoperate: C1-C7 = 1-7,
T1-T12 = 8-19, L1-L5 = 20-24, L6 = 25, S1 = 26, T13 = 28. An intervertebral disc gets
100 + the ID of the vertebra above it.
"""

from __future__ import annotations

import re

STANDARD_LEVELS: tuple[str, ...] = (
    *(f"C{i}" for i in range(1, 8)),
    *(f"T{i}" for i in range(1, 13)),
    *(f"L{i}" for i in range(1, 6)),
    "S1",
)
VARIANT_LEVELS: tuple[str, ...] = ("T13", "L6")

LEVEL_IDS: dict[str, int] = {
    **{f"C{i}": i for i in range(1, 8)},
    **{f"T{i}": 7 + i for i in range(1, 13)},
    **{f"L{i}": 19 + i for i in range(1, 6)},
    "L6": 25,
    "S1": 26,
    "T13": 28,
}
ID_LEVELS: dict[int, str] = {v: k for k, v in LEVEL_IDS.items()}

DISC_OFFSET = 100
CORD_LABEL = 60
CANAL_LABEL = 61

LANDMARK_KINDS: tuple[str, ...] = ("body", "spinous")
HELD_OUT_KINDS: tuple[str, ...] = ("pedicle-left", "pedicle-right")

_NAME_RE = re.compile(r"^(C[1-7]|T1[0-3]|T[1-9]|L[1-6]|S1)-(body|spinous|pedicle-left|pedicle-right)$")


def region(level: str) -> str:
    """'cervical', 'thoracic', 'lumbar' or 'sacral' for a level name."""
    check_level(level)
    return {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "sacral"}[level[0]]


def check_level(level: str) -> str:
    """Return ``level`` if it is a known level name, else raise ValueError naming the valid ones."""
    if level not in LEVEL_IDS:
        raise ValueError(
            f"unknown vertebral level {level!r}: use C1-C7, T1-T12, L1-L5, S1 or the variants T13, L6"
        )
    return level


def ordered_levels(include_variants: bool = False) -> list[str]:
    """All levels from cranial to caudal, optionally with the variants T13 and L6 in place."""
    out: list[str] = []
    for lvl in STANDARD_LEVELS:
        out.append(lvl)
        if include_variants and lvl == "T12":
            out.append("T13")
        if include_variants and lvl == "L5":
            out.append("L6")
    return out


def parse_level_range(text: str) -> list[str]:
    """Levels named by ``"T12-L5"``, ``"L3"`` or ``"T11,T12,T13,L1"``, cranial to caudal.

    A range includes a variant level (T13, L6) only when it is one of its ends.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty level range: give e.g. 'L1-L5' or 'T12,L1,L2'")
    if "," in text:
        levels = [check_level(p.strip()) for p in text.split(",")]
        order = ordered_levels(include_variants=True)
        if len(set(levels)) != len(levels):
            raise ValueError(f"level list {text!r} names a level twice")
        return sorted(levels, key=order.index)
    parts = text.split("-")
    if len(parts) == 1:
        return [check_level(parts[0])]
    if len(parts) != 2:
        raise ValueError(f"cannot read level range {text!r}: write it as FIRST-LAST, e.g. 'L1-L5'")
    first, last = check_level(parts[0].strip()), check_level(parts[1].strip())
    order = ordered_levels(include_variants=first in VARIANT_LEVELS or last in VARIANT_LEVELS)
    a, b = order.index(first), order.index(last)
    if a > b:
        raise ValueError(f"level range {text!r} runs caudal to cranial: write it cranial first, e.g. 'L1-L5'")
    return order[a : b + 1]


def landmark_name(level: str, kind: str) -> str:
    """``"L3-body"``-style name of one landmark."""
    check_level(level)
    if kind not in LANDMARK_KINDS + HELD_OUT_KINDS:
        raise ValueError(f"unknown landmark kind {kind!r}: use one of {LANDMARK_KINDS + HELD_OUT_KINDS}")
    return f"{level}-{kind}"


def landmark_names(levels: list[str], kinds: tuple[str, ...] = LANDMARK_KINDS) -> list[str]:
    """Names of all landmarks for ``levels``, level by level in the order the annotator places them."""
    return [landmark_name(lvl, k) for lvl in levels for k in kinds]


def parse_landmark_name(name: str) -> tuple[str, str]:
    """(level, kind) of a landmark name, or ValueError saying how names are written."""
    m = _NAME_RE.match(name.strip())
    if not m or m.group(1) not in LEVEL_IDS:
        raise ValueError(
            f"landmark name {name!r} is not of the form '<level>-body' or '<level>-spinous' (e.g. 'L3-body')"
        )
    return m.group(1), m.group(2)
