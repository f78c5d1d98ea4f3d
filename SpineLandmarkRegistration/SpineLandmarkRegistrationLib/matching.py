"""Pair fixed and moving landmarks by their names (never by their order)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from SpineCoreLib.levels import parse_landmark_name
from SpineCoreLib.markups_io import LandmarkSet


class LandmarkError(ValueError):
    """Landmarks that cannot be registered; the message says what to fix."""


@dataclass
class MatchedLandmarks:
    """Landmarks present and placed in both sets, in a canonical (cranial-to-caudal) order."""

    labels: list[str]
    fixed: np.ndarray  # (n, 3) RAS
    moving: np.ndarray  # (n, 3) RAS
    unmatched_fixed: list[str] = field(default_factory=list)
    unmatched_moving: list[str] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)

    @property
    def levels(self) -> list[str]:
        """Level of each matched pair."""
        return [parse_landmark_name(lbl)[0] for lbl in self.labels]

    def subset(self, keep: np.ndarray) -> MatchedLandmarks:
        idx = np.flatnonzero(keep) if keep.dtype == bool else keep
        return MatchedLandmarks([self.labels[i] for i in idx], self.fixed[idx], self.moving[idx])


def _check_names(ls: LandmarkSet, role: str) -> None:
    dup = [k for k, n in Counter(ls.labels()).items() if n > 1]
    if dup:
        raise LandmarkError(f"{role} landmarks name {', '.join(sorted(dup))} more than once: rename or delete the duplicates")
    bad = []
    for lbl in ls.labels():
        try:
            parse_landmark_name(lbl)
        except ValueError:
            bad.append(lbl)
    if bad:
        raise LandmarkError(
            f"{role} landmarks have names that are not '<level>-body' or '<level>-spinous': "
            f"{', '.join(repr(b) for b in bad)}; rename them (e.g. 'L3-body')"
        )


def _sort_key(label: str) -> tuple[int, int]:
    from SpineCoreLib.levels import LANDMARK_KINDS, ordered_levels

    level, kind = parse_landmark_name(label)
    kinds = (*LANDMARK_KINDS, "pedicle-left", "pedicle-right")
    return ordered_levels(include_variants=True).index(level), kinds.index(kind)


def match_landmarks(fixed: LandmarkSet, moving: LandmarkSet) -> MatchedLandmarks:
    """Pair placed landmarks with the same name; report the rest.

    Raises LandmarkError for duplicate or unknown names and for non-finite positions; points
    not yet placed are skipped and listed in ``unplaced``.
    """
    _check_names(fixed, "fixed")
    _check_names(moving, "moving")
    for role, ls in (("fixed", fixed), ("moving", moving)):
        for lm in ls.landmarks:
            if lm.position is not None and not np.all(np.isfinite(lm.position)):
                raise LandmarkError(f"{role} landmark {lm.label!r} has a NaN or infinite position: place it again")
    f, m = fixed.defined(), moving.defined()
    unplaced = sorted({lm.label for lm in fixed.landmarks + moving.landmarks if lm.position is None}, key=_sort_key)
    both = sorted(set(f) & set(m), key=_sort_key)
    return MatchedLandmarks(
        labels=both,
        fixed=np.array([f[k] for k in both], dtype=float).reshape(-1, 3),
        moving=np.array([m[k] for k in both], dtype=float).reshape(-1, 3),
        unmatched_fixed=sorted(set(f) - set(m), key=_sort_key),
        unmatched_moving=sorted(set(m) - set(f), key=_sort_key),
        unplaced=unplaced,
    )
