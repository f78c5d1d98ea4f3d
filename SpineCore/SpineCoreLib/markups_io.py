"""Read and write named landmarks as Slicer markups JSON (``.mrk.json``) and plain CSV.

Positions are held in RAS inside the project. Slicer writes markups JSON in LPS (its
``coordinateSystem`` field says which); both systems are read, and LPS is written by default
so that files look like Slicer's own.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic_io import write_text
from .geometry import ras_to_lps

MARKUPS_SCHEMA = (
    "https://raw.githubusercontent.com/slicer/slicer/main/Modules/Loadable/Markups/Resources/Schema/"
    "markups-schema-v1.0.3.json#"
)


class MarkupsFormatError(ValueError):
    """A markups file that cannot be read; the message names the file and the problem."""


@dataclass
class Landmark:
    """One named point; ``position`` is RAS in mm, or None while the point is not placed."""

    label: str
    position: np.ndarray | None
    description: str = ""
    locked: bool = False

    @property
    def defined(self) -> bool:
        return self.position is not None


@dataclass
class LandmarkSet:
    """An ordered list of named landmarks (a Slicer point list)."""

    landmarks: list[Landmark] = field(default_factory=list)
    name: str = ""

    def labels(self) -> list[str]:
        return [lm.label for lm in self.landmarks]

    def defined(self) -> dict[str, np.ndarray]:
        """Placed points by label."""
        return {lm.label: lm.position for lm in self.landmarks if lm.position is not None}

    def __len__(self) -> int:
        return len(self.landmarks)


def _fail(source: str, msg: str) -> MarkupsFormatError:
    return MarkupsFormatError(f"{source}: {msg}")


def _position(cp: dict, system: str, source: str, index: int) -> np.ndarray | None:
    status = cp.get("positionStatus", "defined")
    if status not in ("defined", "preview", "undefined"):
        raise _fail(source, f"control point {index} has unknown positionStatus {status!r}")
    if status == "undefined":
        return None
    pos = cp.get("position")
    if not isinstance(pos, list | tuple) or len(pos) != 3:
        raise _fail(source, f"control point {index} has no 3-element 'position'")
    try:
        xyz = np.array([float(v) for v in pos], dtype=float)
    except (TypeError, ValueError) as exc:
        raise _fail(source, f"control point {index} has a non-numeric position {pos!r}") from exc
    if not np.all(np.isfinite(xyz)):
        raise _fail(source, f"control point {index} ({cp.get('label', '')!r}) has a NaN or infinite position")
    return ras_to_lps(xyz) if system == "LPS" else xyz


def parse_markups_json(text: str, source: str = "<markups>") -> LandmarkSet:
    """Parse Slicer markups JSON text (the first markup in the file) into RAS landmarks."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(source, f"not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("markups"), list) or not doc["markups"]:
        raise _fail(source, "no 'markups' list: is this a Slicer .mrk.json file?")
    mk = doc["markups"][0]
    if not isinstance(mk, dict):
        raise _fail(source, "the first markup is not an object")
    system = mk.get("coordinateSystem", "LPS")
    if system not in ("LPS", "RAS"):
        raise _fail(source, f"coordinateSystem {system!r} is neither 'LPS' nor 'RAS'")
    units = mk.get("coordinateUnits", "mm")
    if units != "mm":
        raise _fail(source, f"coordinateUnits {units!r} not supported: positions must be in mm")
    cps = mk.get("controlPoints", [])
    if not isinstance(cps, list):
        raise _fail(source, "'controlPoints' is not a list")
    out = LandmarkSet(name=str(mk.get("name", "")))
    for i, cp in enumerate(cps):
        if not isinstance(cp, dict):
            raise _fail(source, f"control point {i} is not an object")
        label = cp.get("label", "")
        if not isinstance(label, str):
            raise _fail(source, f"control point {i} has a non-text label {label!r}")
        out.landmarks.append(
            Landmark(
                label=label,
                position=_position(cp, system, source, i),
                description=str(cp.get("description", "")),
                locked=bool(cp.get("locked", False)),
            )
        )
    return out


def read_markups_json(path: str | os.PathLike) -> LandmarkSet:
    """Read a ``.mrk.json`` file into RAS landmarks."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise MarkupsFormatError(f"{p}: cannot read ({exc.strerror})") from exc
    return parse_markups_json(text, source=str(p))


def markups_json_text(landmarks: LandmarkSet, coordinate_system: str = "LPS") -> str:
    """Slicer markups JSON text of a landmark set (a point list), positions in LPS or RAS."""
    if coordinate_system not in ("LPS", "RAS"):
        raise ValueError("coordinate_system must be 'LPS' or 'RAS'")
    cps = []
    for i, lm in enumerate(landmarks.landmarks):
        cp = {
            "id": str(i + 1),
            "label": lm.label,
            "description": lm.description,
            "associatedNodeID": "",
            "position": [0.0, 0.0, 0.0],
            "orientation": [-1.0, -0.0, -0.0, -0.0, -1.0, -0.0, 0.0, 0.0, 1.0],
            "selected": True,
            "locked": lm.locked,
            "visibility": True,
            "positionStatus": "undefined",
        }
        if lm.position is not None:
            pos = ras_to_lps(lm.position) if coordinate_system == "LPS" else np.asarray(lm.position, float)
            if not np.all(np.isfinite(pos)):
                raise ValueError(f"landmark {lm.label!r} has a NaN or infinite position")
            cp["position"] = [float(v) for v in pos]
            cp["positionStatus"] = "defined"
        cps.append(cp)
    doc = {
        "@schema": MARKUPS_SCHEMA,
        "markups": [
            {
                "type": "Fiducial",
                "coordinateSystem": coordinate_system,
                "coordinateUnits": "mm",
                "locked": False,
                "fixedNumberOfControlPoints": False,
                "labelFormat": "%N-%d",
                "lastUsedControlPointNumber": len(cps),
                "controlPoints": cps,
                "measurements": [],
            }
        ],
    }
    return json.dumps(doc, indent=4) + "\n"


def write_markups_json(path: str | os.PathLike, landmarks: LandmarkSet, coordinate_system: str = "LPS") -> Path:
    """Write a ``.mrk.json`` file atomically."""
    return write_text(path, markups_json_text(landmarks, coordinate_system))


CSV_COLUMNS = ("label", "r", "a", "s", "defined", "locked", "description")


def landmarks_csv_text(landmarks: LandmarkSet) -> str:
    """Plain CSV (label, r, a, s, defined, locked, description), RAS in mm."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for lm in landmarks.landmarks:
        pos = lm.position if lm.position is not None else [math.nan] * 3
        w.writerow([lm.label, *(f"{float(v):.6f}" for v in pos), int(lm.defined), int(lm.locked), lm.description])
    return buf.getvalue()


def parse_landmarks_csv(text: str, source: str = "<csv>") -> LandmarkSet:
    """Parse the CSV written by :func:`landmarks_csv_text`."""
    rows = list(csv.DictReader(io.StringIO(text)))
    out = LandmarkSet()
    for n, row in enumerate(rows, start=2):
        missing = [c for c in ("label", "r", "a", "s") if c not in row or row[c] is None]
        if missing:
            raise _fail(source, f"line {n} lacks columns {missing}; expected {', '.join(CSV_COLUMNS)}")
        defined = row.get("defined", "1") not in ("0", "false", "False", "")
        pos = None
        if defined:
            try:
                pos = np.array([float(row["r"]), float(row["a"]), float(row["s"])])
            except ValueError as exc:
                raise _fail(source, f"line {n} has a non-numeric position") from exc
            if not np.all(np.isfinite(pos)):
                raise _fail(source, f"line {n} ({row['label']!r}) has a NaN or infinite position")
        out.landmarks.append(
            Landmark(row["label"], pos, row.get("description") or "", row.get("locked", "0") in ("1", "true", "True"))
        )
    return out
