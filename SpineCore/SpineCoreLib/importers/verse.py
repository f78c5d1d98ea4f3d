"""VerSe (CT with vertebra masks and centroids), as a manifest plus point lists of the centroids.

Layout of the restructured VerSe'19 and VerSe'20 release (Sekuboyina et al., "VerSe: a vertebrae
labelling and segmentation benchmark for multi-detector CT images", Med. Image Anal. 73, 2021;
Löffler et al., Radiol. Artif. Intell. 2, 2020; github.com/anjany/verse, "Data"):
``rawdata/sub-<id>/sub-<id>[_<entities>]_ct.nii.gz`` with ``derivatives/sub-<id>/`` holding
``..._seg-vert_msk.nii.gz`` (vertebra labels 1-7 C1-C7, 8-19 T1-T12, 20-25 L1-L6, 28 T13: the VerSe IDs
this project uses) and ``..._seg-subreg_ctd.json`` (a list whose first entry is ``{"direction": axis
codes}`` and the others ``{"label", "X", "Y", "Z"}``: voxel coordinates along those axis codes).
Each vertebra centroid becomes the ``<level>-body`` landmark of a point list written next to the
manifest (the centroid of the whole vertebra, so it sits at the back of the body: review before use).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..geometry import lps_to_ras
from ..levels import ID_LEVELS
from ..markups_io import Landmark, LandmarkSet, write_markups_json
from ..validation import InputError

OPPOSITE = {"R": "L", "L": "R", "A": "P", "P": "A", "S": "I", "I": "S"}


def axis_codes(image: sitk.Image) -> tuple[str, str, str]:
    """The direction each voxel axis points to, as RAS letters (nibabel's axis codes)."""
    ras = np.diag([-1.0, -1.0, 1.0]) @ np.array(image.GetDirection()).reshape(3, 3)
    codes = []
    for axis in range(3):
        column = ras[:, axis]
        world = int(np.argmax(np.abs(column)))
        codes.append(("R", "A", "S")[world] if column[world] > 0 else ("L", "P", "I")[world])
    return tuple(codes)  # type: ignore[return-value]


def centroids_ras(ctd: list[dict], image: sitk.Image, source: str) -> dict[int, np.ndarray]:
    """Label -> RAS position of the centroids, after carrying their voxel coordinates from their axis
    codes to the image's (an axis pointing the other way counts from the far end of the image)."""
    if not ctd or "direction" not in ctd[0]:
        raise InputError(source, "the first entry must give the axis codes, e.g. {\"direction\": [\"P\", \"I\", \"R\"]}")
    theirs, mine, size = [str(c).upper() for c in ctd[0]["direction"]], axis_codes(image), image.GetSize()
    out = {}
    for entry in ctd[1:]:
        if not all(k in entry for k in ("label", "X", "Y", "Z")) or not all(
                np.isfinite(float(entry[k])) for k in ("X", "Y", "Z")):
            continue  # VerSe marks missing centroids with NaN
        index = [0.0, 0.0, 0.0]
        for axis, code, value in zip(range(3), theirs, (entry["X"], entry["Y"], entry["Z"]), strict=True):
            if code in mine:
                index[mine.index(code)] = float(value)
            elif OPPOSITE.get(code) in mine:
                target = mine.index(OPPOSITE[code])
                index[target] = size[target] - float(value)
            else:
                raise InputError(source, f"axis code {code!r} of axis {axis} is not one of R, L, A, P, S, I")
        out[int(entry["label"])] = lps_to_ras(np.array(image.TransformContinuousIndexToPhysicalPoint(index)))
    return out


def import_verse(src: str | Path, out: Path | None = None) -> list[dict[str, str]]:
    """Manifest rows (subject, ct, ct_seg, ct_landmarks) of every VerSe CT; the centroids are written as
    ``<out>/<subject>/ct_landmarks.mrk.json`` (only when ``out`` is given). InputError saying what was
    expected when ``src`` holds no VerSe CT."""
    src = Path(src)
    cts = sorted(src.glob("rawdata/sub-*/sub-*_ct.nii.gz"))
    if not cts:
        raise InputError("SRC", f"{src} holds no VerSe CT: expected rawdata/sub-<id>/sub-<id>[_<entities>]_ct.nii.gz "
                                "and derivatives/sub-<id>/..._seg-vert_msk.nii.gz, ..._seg-subreg_ctd.json")
    rows = []
    for ct in cts:
        stem, subject = ct.name[: -len("_ct.nii.gz")], ct.parent.name
        deriv = src / "derivatives" / subject
        row = {"subject": stem, "ct": str(ct)}
        seg = deriv / f"{stem}_seg-vert_msk.nii.gz"
        if seg.is_file():
            row["ct_seg"] = str(seg)
        ctd = deriv / f"{stem}_seg-subreg_ctd.json"
        if ctd.is_file() and out is not None:
            try:
                entries = json.loads(ctd.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise InputError("SRC", f"{ctd} is not valid JSON ({exc.msg})") from exc
            image = sitk.ReadImage(str(ct))  # its geometry places the voxel coordinates
            points = centroids_ras(entries, image, str(ctd))
            landmarks = LandmarkSet([Landmark(f"{ID_LEVELS[label]}-body", pos, description="VerSe vertebra centroid")
                                     for label, pos in sorted(points.items()) if label in ID_LEVELS], name=stem)
            (out / stem).mkdir(parents=True, exist_ok=True)
            row["ct_landmarks"] = str(write_markups_json(out / stem / "ct_landmarks.mrk.json", landmarks))
        rows.append(row)
    return rows
