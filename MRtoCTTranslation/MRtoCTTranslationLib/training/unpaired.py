"""Unpaired training data: MR volumes and CT volumes from any manifest rows, drawn independently.

A row may hold only an MR (``input_column``), only a CT (``target_column``) or both; a row with both
adds its MR to one pool and its CT to the other, and they are never drawn together unless by chance.
Each volume is put on the model grid of its own (isotropic, canonical orientation), so MR and CT
need not share a grid, a patient or a field of view.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.geometry import Grid
from SpineCoreLib.intensity import CTMapping, MRMapping
from SpineCoreLib.manifest import read_manifest, write_manifest
from SpineCoreLib.orientation import canonical, to_grid
from SpineCoreLib.resample import isotropic_grid


@dataclass
class Domains:
    """Network-value volumes of each domain, ready to be cut into patches."""

    mr: list[np.ndarray]
    ct: list[np.ndarray]
    mr_subjects: list[str]
    ct_subjects: list[str]


def _on_model_grid(path: str, spacing: float, default: float) -> np.ndarray:
    image = canonical(sitk.ReadImage(path))
    grid = isotropic_grid(Grid.from_image(image), spacing)
    return sitk.GetArrayFromImage(to_grid(image, grid, sitk.sitkLinear, default)).astype(np.float32)


def unpaired_rows(manifest: str, input_column: str, target_column: str, split: str) -> tuple[list[dict], list[dict]]:
    """(rows with an MR, rows with a CT) of ``split``; ValueError naming what is missing when either is empty."""
    rows = [r for r in read_manifest(manifest) if (r.get("split") or "train") == split]
    mr = [r for r in rows if r.get(input_column)]
    ct = [r for r in rows if r.get(target_column)]
    if split == "train" and (not mr or not ct):
        missing = [c for c, found in ((input_column, mr), (target_column, ct)) if not found]
        raise ValueError(f"{manifest}: unpaired training needs rows with {input_column!r} and rows with "
                         f"{target_column!r} in split 'train'; none has {' or '.join(repr(m) for m in missing)}")
    return mr, ct


def load_domains(manifest: str, input_column: str, target_column: str, split: str, spacing: float,
                 mr_map: MRMapping, ct_map: CTMapping) -> Domains:
    """Both pools of ``split``, mapped to network values (MR percentiles per volume, CT from HU)."""
    mr_rows, ct_rows = unpaired_rows(manifest, input_column, target_column, split)
    mrs = [mr_map.forward(_on_model_grid(r[input_column], spacing, 0.0)) for r in mr_rows]
    cts = [ct_map.forward(_on_model_grid(r[target_column], spacing, -1024.0)) for r in ct_rows]
    return Domains(mrs, cts, [r["subject"] for r in mr_rows], [r["subject"] for r in ct_rows])


def write_unpaired_manifest(manifest: str, out: str, input_column: str, target_column: str) -> str:
    """A copy of a paired manifest in which each training subject keeps only its MR or only its CT,
    alternately, so that no subject contributes both (the phantom experiment: MR and CT of different
    subjects). Other splits are kept paired for evaluation against the truth."""
    rows = read_manifest(manifest)
    train = [r for r in rows if (r.get("split") or "train") == "train"]
    for n, row in enumerate(train):
        row[target_column if n % 2 == 0 else input_column] = ""
    return str(write_manifest(Path(out), rows))
