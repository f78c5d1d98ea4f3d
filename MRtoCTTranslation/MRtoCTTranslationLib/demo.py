"""The headless demo: a phantom case through registration and translation, with metrics and a
figure (``mrtoct demo``, what ``make demo`` runs).

Steps: make a phantom case; register its CT onto its MR from the landmarks (piecewise); translate
the MR with the bundled 3D model; compare the synthetic CT with the phantom's CT in the MR world
(the ideal registered pair) and with the landmark-registered CT; write volumes, metrics.json and a
figure (MR | synthetic CT | CT | error).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from SpineLandmarkRegistrationLib.atomic_io import atomic_output, write_image, write_json
from SpineLandmarkRegistrationLib.geometry import Grid
from SpineLandmarkRegistrationLib.markups_io import read_markups_json
from SpineLandmarkRegistrationLib.register import register
from SpineLandmarkRegistrationLib.resample import resample

from .metrics import image_metrics
from .models.registry import default_model_name, resolve
from .phantom import PhantomOptions, generate_case
from .translator import load_model, translate_image

log = logging.getLogger(__name__)


def run_demo(out: str | Path, seed: int = 7, steps: int = 20, model: str | None = None,
             progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Run the demo into ``out``; return the metrics written to ``metrics.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    timings = {}

    def tick(name: str, start: float) -> None:
        timings[name] = round(time.perf_counter() - start, 2)

    s = time.perf_counter()
    case = generate_case(out, "phantom", seed, PhantomOptions())["truth"].parent
    tick("phantom_s", s)

    s = time.perf_counter()
    mr_lm, ct_lm = read_markups_json(case / "mr_landmarks.mrk.json"), read_markups_json(case / "ct_landmarks.mrk.json")
    reg = register(mr_lm, ct_lm, "piecewise")
    ct_mrworld = sitk.ReadImage(str(case / "ct_mrworld.nii.gz"))
    grid = Grid.from_image(ct_mrworld)
    registered = resample(sitk.ReadImage(str(case / "ct.nii.gz")), grid, reg.transform.to_sitk(grid), "linear", -1024.0)
    write_image(registered, out / "ct_registered.nii.gz")
    tick("registration_s", s)

    s = time.perf_counter()
    loaded = load_model(resolve(model or default_model_name()), "auto")
    mr = sitk.ReadImage(str(case / "mr_t2w.nii.gz"))
    res = translate_image(loaded, mr, steps=steps, eta=0.0, seed=0,
                          progress=(lambda d, n: progress("translate", d, n)) if progress else None)
    write_image(res.sct, out / "sct.nii.gz")
    write_image(res.sct_iso, out / "sct_iso.nii.gz")
    tick("translation_s", s)

    pred = sitk.GetArrayFromImage(sitk.Resample(res.sct_iso, ct_mrworld, sitk.Transform(), sitk.sitkLinear, -1024.0,
                                                sitk.sitkFloat32))
    ref = sitk.GetArrayFromImage(ct_mrworld).astype(np.float32)
    metrics = {
        "model": loaded.card["name"],
        "steps": steps,
        "registration": {"mode": "piecewise", "rms_mm": reg.report.rms_mm, "warnings": reg.report.warnings},
        "sct_vs_ideal_ct": image_metrics(pred, ref),
        "sct_vs_registered_ct": image_metrics(pred, sitk.GetArrayFromImage(registered).astype(np.float32)),
        "registered_ct_vs_ideal_ct": image_metrics(sitk.GetArrayFromImage(registered).astype(np.float32), ref),
        "timings": {**timings, "total_s": round(time.perf_counter() - t0, 2)},
    }
    write_json(out / "metrics.json", metrics)
    figure(sitk.Resample(mr, ct_mrworld, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32), pred, ref,
           out / "demo_figure.png", metrics)
    return metrics


def figure(mr: sitk.Image, pred: np.ndarray, ref: np.ndarray, png: Path, metrics: dict) -> Path:
    """Mid-sagittal MR | synthetic CT | CT | absolute error, on the CT-in-MR-world grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .phantom.figure import sagittal_slice

    centre = np.array(mr.TransformContinuousIndexToPhysicalPoint([(s - 1) / 2 for s in mr.GetSize()])) * [-1, -1, 1]
    panels = []
    for arr in (sitk.GetArrayFromImage(mr), pred, ref, np.abs(pred - ref)):
        img = sitk.GetImageFromArray(arr.astype(np.float32))
        img.CopyInformation(mr)
        panels.append(sagittal_slice(img, centre))
    m = metrics["sct_vs_ideal_ct"]
    titles = ["MR T2w (input)", f"synthetic CT ({metrics['model']})", "CT (phantom, MR world)",
              f"|error|: MAE body {m['mae_body_hu']:.0f} HU"]
    fig, axs = plt.subplots(1, 4, figsize=(16, 5.2), dpi=90)
    for ax, (sl, grid, _, axes), title, k in zip(axs, panels, titles, range(4), strict=True):
        lo, hi = (np.percentile(sl, [1, 99.5]) if k == 0 else (0, 300) if k == 3 else (-250, 1250))
        ax.imshow(sl, cmap="magma" if k == 3 else "gray", vmin=lo, vmax=hi,
                  aspect=grid.spacing[axes[0]] / grid.spacing[axes[1]])
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.suptitle(f"SpineMRtoCT demo: PSNR {m['psnr_body_db']:.1f} dB, SSIM {m['ssim_body']:.3f} inside the body "
                 f"({metrics['steps']} DDIM steps)", fontsize=10)
    fig.tight_layout()
    with atomic_output(png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return png
