"""Landmarks for seeding: the named points of each level, from a dict, a point list or a markups file.

Points are RAS millimetres, the project's convention (a ``.mrk.json`` file is converted on
reading whatever its coordinate system). Names follow ``<level>-<kind>`` (``"L3-body"``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from SpineCoreLib.levels import check_level, parse_landmark_name
from SpineCoreLib.markups_io import LandmarkSet, MarkupsFormatError, read_markups_json

from .errors import SegmentationError

LevelPoints = dict[str, dict[str, np.ndarray]]
LandmarkSource = Mapping | LandmarkSet | str | os.PathLike


def points_by_level(source: LandmarkSource) -> LevelPoints:
    """``{level: {kind: RAS point}}`` from ``{level: {kind: point}}``, ``{"L3-body": point}``,
    a LandmarkSet or a ``.mrk.json`` path. Unplaced points are skipped."""
    if isinstance(source, str | os.PathLike):
        try:
            source = read_markups_json(Path(source))
        except MarkupsFormatError as exc:
            raise SegmentationError(str(exc)) from exc
    if isinstance(source, LandmarkSet):
        source = source.defined()
    out: LevelPoints = {}
    for key, value in dict(source).items():
        if isinstance(value, Mapping):
            try:
                level = check_level(str(key))
            except ValueError as exc:
                raise SegmentationError(str(exc)) from exc
            pairs = [(level, str(kind), p) for kind, p in value.items()]
        else:
            try:
                level, kind = parse_landmark_name(str(key))
            except ValueError as exc:
                raise SegmentationError(str(exc)) from exc
            pairs = [(level, kind, value)]
        for level, kind, p in pairs:
            if p is None:
                continue
            xyz = np.asarray(p, dtype=float).reshape(-1)
            if xyz.shape != (3,) or not np.all(np.isfinite(xyz)):
                raise SegmentationError(f"landmark {level}-{kind} is not a finite 3D point: {p!r}")
            out.setdefault(level, {})[kind] = xyz
    if not out:
        raise SegmentationError("no placed landmarks: place at least one '<level>-body' point "
                                "(e.g. 'L3-body')")
    return out
