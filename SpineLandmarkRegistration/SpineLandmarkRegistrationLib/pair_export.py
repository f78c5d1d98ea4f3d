"""Export a registered MR/CT pair for training: both images on one grid, cropped to their shared
field of view, written atomically, and listed in a ``manifest.csv``.

The paper's protocol (Graf et al. 2023): fixed = MR, moving = CT resampled onto the MR grid,
masks by nearest neighbour, both cropped to the shared field of view; optionally both on an
isotropic grid for 3D models.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.atomic_io import atomic_output, write_image, write_json
from SpineCoreLib.geometry import Grid
from SpineCoreLib.manifest import append_rows
from SpineCoreLib.resample import crop_grid, isotropic_grid, resample, shared_box, valid_mask

from .transforms import RegistrationTransform


@dataclass
class PairSpec:
    """What to export: the fixed images (all on the fixed grid) and the moving images to register.

    Keys are manifest column names, e.g. fixed ``{"mr_t2w": img, "mr_seg": seg}`` and moving
    ``{"ct_mrworld": ct, "ct_mrworld_seg": ct_seg}``; ``labels`` names the keys that are label maps.
    """

    fixed: dict[str, sitk.Image]
    moving: dict[str, sitk.Image]
    labels: set[str] = field(default_factory=set)
    moving_default: dict[str, float] = field(default_factory=dict)


def write_transform(transform: RegistrationTransform | sitk.Transform, path: str | os.PathLike,
                    domain: Grid | None = None) -> Path:
    """Write the ITK transform file (fixed LPS -> moving LPS, as Slicer reads it) atomically."""
    itk = transform if isinstance(transform, sitk.Transform) else transform.to_sitk(domain)
    with atomic_output(path) as tmp:
        sitk.WriteTransform(itk, str(tmp))
    return Path(path)


def export_pair(spec: PairSpec, transform: RegistrationTransform, out_dir: str | os.PathLike, subject: str,
                spacing: float | None = None, interpolation: str = "linear", split: str = "train",
                manifest: str | os.PathLike | None = None, extra: dict[str, object] | None = None) -> dict[str, Path]:
    """Resample, crop and write one pair into ``out_dir/subject``; append it to ``manifest``.

    Returns the written files by manifest column. Input images are never modified.
    """
    first = next(iter(spec.fixed.values()))
    fixed_grid = Grid.from_image(first)
    target = isotropic_grid(fixed_grid, spacing) if spacing else fixed_grid
    t = transform.to_sitk(target)
    mask = np.ones(target.array_shape, bool)
    for img in spec.moving.values():
        mask &= valid_mask(img, target, t)
    box = shared_box(mask)
    out_grid = crop_grid(target, box)
    case = Path(out_dir) / subject
    case.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    identity = sitk.Transform(3, sitk.sitkIdentity)
    for key, img in spec.fixed.items():
        how = "nearest" if key in spec.labels else interpolation
        res = resample(img, out_grid, identity, how, crop=True)
        written[key] = write_image(res, case / f"{key}.nii.gz")
    for key, img in spec.moving.items():
        how = "nearest" if key in spec.labels else interpolation
        default = spec.moving_default.get(key, 0.0)
        res = resample(img, out_grid, t, how, default)
        written[key] = write_image(res, case / f"{key}.nii.gz")
    written["transform"] = write_transform(t, case / "transform.h5")
    if extra:
        written["registration"] = write_json(case / "registration.json", extra)
    if manifest is not None:
        row = {"subject": subject, "split": split, **{k: str(v) for k, v in written.items()
                                                       if k not in ("transform", "registration")}}
        append_rows(manifest, [row])
    return written
