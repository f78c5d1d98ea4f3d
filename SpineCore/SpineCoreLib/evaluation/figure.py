"""The evaluation figure: where the synthetic CT errs (mid-sagittal signed error) and how its HU
distribution compares with the reference's (histograms inside the body)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.atomic_io import atomic_output

from ..metrics import body_mask

ERROR_RANGE_HU = 500.0
HIST_RANGE_HU = (-1024.0, 2000.0)


def mid_sagittal(image: sitk.Image) -> tuple[np.ndarray, float]:
    """The sagittal slice through the image centre, for display, and its pixel aspect ratio."""
    from ..phantom.figure import sagittal_slice

    centre = image.TransformContinuousIndexToPhysicalPoint([(s - 1) / 2 for s in image.GetSize()])
    sl, grid, _, axes = sagittal_slice(image, np.array(centre) * [-1, -1, 1])  # LPS -> RAS
    return sl, grid.spacing[axes[0]] / grid.spacing[axes[1]]


def evaluation_figure(pred: sitk.Image, ref: sitk.Image, png: str | os.PathLike, title: str = "") -> Path:
    """Write the PNG (atomically); ``pred`` must lie on ``ref``'s grid (see ``evaluate.on_grid``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = sitk.GetArrayFromImage(pred).astype(np.float32)
    r = sitk.GetArrayFromImage(ref).astype(np.float32)
    err = sitk.GetImageFromArray(p - r)
    err.CopyInformation(ref)
    sl, aspect = mid_sagittal(err)
    body = body_mask(r)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.8), dpi=90)
    im = ax0.imshow(sl, cmap="coolwarm", vmin=-ERROR_RANGE_HU, vmax=ERROR_RANGE_HU, aspect=aspect)
    ax0.set_title("synthetic - reference CT (HU), mid-sagittal", fontsize=10)
    ax0.axis("off")
    fig.colorbar(im, ax=ax0, fraction=0.046, pad=0.04)
    bins = np.linspace(*HIST_RANGE_HU, 152)
    for values, label, color in ((r[body], "reference CT", "k"), (p[body], "synthetic CT", "tab:red")):
        ax1.hist(np.clip(values, *HIST_RANGE_HU), bins=bins, histtype="step", label=label, color=color)
    ax1.set_yscale("log")
    ax1.set_xlabel("HU inside the body")
    ax1.set_ylabel("voxels")
    ax1.legend(fontsize=9)
    ax1.set_title("HU histograms", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_output(png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(png)
