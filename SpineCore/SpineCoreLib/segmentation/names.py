"""Vertebra class names of other tools mapped to VerSe/TPTBox label IDs.

Networks name their classes differently (TotalSegmentator ``vertebrae_L3``, MONAI bundles
``vertebrae_L3`` or ``L3``, some ``sacrum``); mapping by name, not by index, keeps working
when a tool renumbers its classes between versions.
"""

from __future__ import annotations

import re

import numpy as np

from SpineCoreLib.levels import LEVEL_IDS

_LEVEL = r"(C[1-7]|T1[0-3]|T[1-9]|L[1-6]|S1)"
_NAME_RE = re.compile(rf"^(?:vertebra(?:e)?[ _-]?)?{_LEVEL}$", re.IGNORECASE)
SACRUM_NAMES = ("sacrum", "os_sacrum")


def level_of_class(name: str) -> str | None:
    """The level a class name stands for (``vertebrae_L3`` -> ``L3``, ``sacrum`` -> ``S1``), else None."""
    n = name.strip()
    if n.lower() in SACRUM_NAMES:
        return "S1"
    m = _NAME_RE.match(n)
    return m.group(1).upper() if m and m.group(1).upper() in LEVEL_IDS else None


def verse_mapping(class_names: dict[int, str]) -> dict[int, int]:
    """``{tool label: VerSe ID}`` for the vertebra classes among ``{tool label: class name}``.

    A named vertebra wins over ``sacrum`` when both map to S1 (TotalSegmentator has both).
    """
    out: dict[int, int] = {}
    for label, name in sorted(class_names.items(), key=lambda kv: kv[1].lower() in SACRUM_NAMES):
        level = level_of_class(name)
        if level is not None:
            out[int(label)] = LEVEL_IDS[level]
    return out


def relabel(labels: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """``labels`` with each mapped tool label replaced by its VerSe ID and everything else 0."""
    lut = np.zeros(max([int(labels.max()) if labels.size else 0, *mapping]) + 1, np.uint16)
    for src, dst in mapping.items():
        lut[src] = dst
    return lut[np.clip(labels, 0, None).astype(np.int64)]
