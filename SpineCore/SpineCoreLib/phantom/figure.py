"""Mid-sagittal montage of a phantom case (T1w, T2w, CT, CT in the MR world) with landmarks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.atomic_io import atomic_output
from SpineCoreLib.geometry import Grid
from SpineCoreLib.markups_io import read_markups_json


def sagittal_slice(image: sitk.Image, centre_ras: np.ndarray) -> tuple[np.ndarray, Grid, int, tuple[int, int]]:
    """The slice of ``image`` through ``centre_ras`` normal to the left-right axis.

    Returns the 2D array oriented for display (superior up, anterior left), the grid, the
    index axis cut through, and the (row, column) index axes of the display.
    """
    arr = sitk.GetArrayFromImage(image)  # [k, j, i]
    grid = Grid.from_image(image)
    d = np.abs(grid.direction_matrix)
    lr_axis = int(np.argmax(d[0]))  # index axis most aligned with R-L
    si_axis = int(np.argmax(d[2]))
    ap_axis = 3 - lr_axis - si_axis
    idx = np.clip(np.rint(grid.ras_to_index(centre_ras)).astype(int), 0, np.array(grid.size) - 1)
    sl = np.take(arr, idx[lr_axis], axis=2 - lr_axis)  # remaining numpy axes keep [k, j, i] order
    rem = [a for a in (2, 1, 0) if a != lr_axis]  # index axes of the remaining numpy axes
    if rem[0] != si_axis:
        sl = sl.T
        rem = rem[::-1]
    if grid.direction_matrix[2, si_axis] > 0:  # rows must run inferior
        sl = sl[::-1]
    if grid.direction_matrix[1, ap_axis] > 0:  # columns must run posterior
        sl = sl[:, ::-1]
    return sl, grid, lr_axis, (si_axis, ap_axis)


def _display_coords(grid: Grid, axes: tuple[int, int], ras: np.ndarray) -> tuple[float, float]:
    si, ap = axes
    ijk = grid.ras_to_index(ras)
    row = ijk[si] if grid.direction_matrix[2, si] < 0 else grid.size[si] - 1 - ijk[si]
    col = ijk[ap] if grid.direction_matrix[1, ap] < 0 else grid.size[ap] - 1 - ijk[ap]
    return float(row), float(col)


def montage(case_dir: str | os.PathLike, png: str | os.PathLike) -> Path:
    """Write a PNG montage of one case's mid-sagittal slices with its landmarks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    case = Path(case_dir)
    mr_lm = read_markups_json(case / "mr_landmarks.mrk.json").defined()
    ct_lm = read_markups_json(case / "ct_landmarks.mrk.json").defined()
    panels = [
        ("MR T1w", "mr_t1w.nii.gz", mr_lm, None),
        ("MR T2w", "mr_t2w.nii.gz", mr_lm, None),
        ("CT (own position)", "ct.nii.gz", ct_lm, (-250, 1250)),
        ("CT in the MR world", "ct_mrworld.nii.gz", mr_lm, (-250, 1250)),
    ]
    fig, axs = plt.subplots(1, len(panels), figsize=(4 * len(panels), 5.2), dpi=90)
    for ax, (title, fname, lms, window) in zip(axs, panels, strict=True):
        img = sitk.ReadImage(str(case / fname))
        centre = np.mean([p for k, p in lms.items() if k.endswith("-body")], axis=0)
        sl, grid, _, axes = sagittal_slice(img, centre)
        sp = grid.spacing
        lo, hi = window if window else np.percentile(sl, [1, 99.5])
        ax.imshow(sl, cmap="gray", vmin=lo, vmax=hi, aspect=sp[axes[0]] / sp[axes[1]], interpolation="bilinear")
        for name, p in lms.items():
            r, c = _display_coords(grid, axes, p)
            marker = "o" if name.endswith("-body") else "^"
            ax.plot(c, r, marker, ms=5, mfc="none", mec="#ff4040" if marker == "o" else "#40c0ff", mew=1.5)
            if name.endswith("-body"):
                ax.text(c + 4, r, name.split("-")[0], color="yellow", fontsize=7, va="center")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.suptitle(f"{case.name}: mid-sagittal slices; o body centroid, ^ spinous process", fontsize=10)
    fig.tight_layout()
    with atomic_output(png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(png)
