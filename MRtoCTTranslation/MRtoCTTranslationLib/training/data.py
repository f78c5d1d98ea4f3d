"""Paired volumes for training: read from a manifest, put on the model grid, cut into patches."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.geometry import Grid
from SpineCoreLib.intensity import CTMapping, MRMapping
from SpineCoreLib.orientation import canonical, to_grid
from SpineCoreLib.resample import isotropic_grid

from .contrast import random_contrast
from .realism import MRRealism, map_with_random_fov, rescale_together, vary_acquisition


@dataclass
class Pair:
    """One subject on the model grid (canonical orientation, isotropic): MR inputs, CT in HU."""

    subject: str
    mrs: list[np.ndarray]  # raw MR intensities, one per fixed contrast column
    ct: np.ndarray
    tissues: np.ndarray | None
    grid: Grid
    mapped: dict[int, np.ndarray] = field(default_factory=dict, repr=False)  # fixed contrasts, mapped once
    mapped_ct: np.ndarray | None = field(default=None, repr=False)


def load_pair(row: dict[str, str], input_columns: list[str], target_column: str, spacing: float,
              with_tissues: bool) -> Pair:
    """Read a manifest row: the target defines the grid, the MR is resampled onto it."""
    for col in [*input_columns, target_column] + (["mr_tissues"] if with_tissues else []):
        if not row.get(col):
            raise ValueError(f"manifest row {row.get('subject')!r} has no {col!r} file")
    target = canonical(sitk.ReadImage(row[target_column]))
    grid = Grid.from_image(target)
    if not np.allclose(grid.spacing, spacing, atol=1e-3):
        grid = isotropic_grid(grid, spacing)
        target = to_grid(target, grid, sitk.sitkLinear, -1024.0)
    ct = sitk.GetArrayFromImage(target).astype(np.float32)
    mrs = [sitk.GetArrayFromImage(to_grid(sitk.ReadImage(row[c]), grid)).astype(np.float32) for c in input_columns]
    tissues = None
    if with_tissues:
        t = to_grid(sitk.ReadImage(row["mr_tissues"]), grid, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
        tissues = sitk.GetArrayFromImage(t)
    return Pair(row["subject"], mrs, ct, tissues, grid)


def network_inputs(pair: Pair, contrast: str, rng: np.random.Generator, mr_map: MRMapping, ct_map: CTMapping,
                   realism: MRRealism | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(MR values, CT values) of a whole volume, with the MR contrast chosen as configured; with
    ``realism``, a fixed contrast is re-acquired by a random scanner that often (``realism.probability``)."""
    use_random = contrast == "random" or (contrast == "mixed" and rng.uniform() < 0.5)
    if pair.mapped_ct is None:
        pair.mapped_ct = ct_map.forward(pair.ct)
    if not use_random and realism is not None and realism.enabled and rng.uniform() < realism.probability:
        raw = vary_acquisition(pair.mrs[int(rng.integers(len(pair.mrs)))], realism, rng)
        mr, ct = rescale_together([map_with_random_fov(raw, mr_map, realism, rng), pair.mapped_ct], realism, rng)
        return mr, ct
    if use_random:
        if pair.tissues is None:
            raise ValueError("random contrasts need the manifest's mr_tissues column")
        mr = mr_map.forward(random_contrast(pair.tissues, rng))
    else:  # the fixed contrasts' mappings never change: compute them once (percentiles sort the volume)
        k = int(rng.integers(len(pair.mrs)))
        if k not in pair.mapped:
            pair.mapped[k] = mr_map.forward(pair.mrs[k])
        mr = pair.mapped[k]
    return mr, pair.mapped_ct


def random_patch(arrays: list[np.ndarray], size: list[int], rng: np.random.Generator,
                 pad_values: list[float]) -> list[np.ndarray]:
    """The same random window of each array, padding arrays smaller than the window."""
    shape = arrays[0].shape
    out_slices, pads = [], []
    for n, s in zip(shape, size, strict=True):
        if n >= s:
            a = int(rng.integers(0, n - s + 1))
            out_slices.append(slice(a, a + s))
            pads.append((0, 0))
        else:
            out_slices.append(slice(0, n))
            before = int(rng.integers(0, s - n + 1))
            pads.append((before, s - n - before))
    return [np.pad(a[tuple(out_slices)], pads, constant_values=v) for a, v in zip(arrays, pad_values, strict=True)]
