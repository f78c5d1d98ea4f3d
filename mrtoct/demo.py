"""The headless demo: a phantom case through registration and translation, with metrics and a
figure (``mrtoct demo``, what ``make demo`` runs).

Steps: make a phantom case; register its CT onto its MR from the landmarks (piecewise); translate
the MR with the bundled 3D model; compare the synthetic CT with the phantom's CT in the MR world
(the ideal registered pair) and with the landmark-registered CT; segment the vertebrae of the
synthetic CT and of the phantom's CT (built-in segmenter, seeded by the MR landmarks) and score both
against the phantom's labels; write volumes, metrics.json and a figure (MR | synthetic CT | CT |
error | vertebrae).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from MRtoCTTranslationLib.models.registry import default_model_name, resolve
from MRtoCTTranslationLib.options import TranslationOptions
from MRtoCTTranslationLib.translator import load_model, translate_image
from SpineCoreLib.atomic_io import atomic_output, write_image, write_json
from SpineCoreLib.evaluation.dice import segmentation_metrics
from SpineCoreLib.geometry import Grid
from SpineCoreLib.markups_io import read_markups_json
from SpineCoreLib.metrics import image_metrics
from SpineCoreLib.phantom import PhantomOptions, generate_case
from SpineCoreLib.resample import resample
from SpineCoreLib.segmentation import segment_table, segment_vertebrae
from SpineLandmarkRegistrationLib.register import register

log = logging.getLogger(__name__)


def run_demo(out: str | Path, seed: int = 7, steps: int | None = None, model: str | None = None,
             progress: Callable[[str, int, int], None] | None = None, precision: str = "auto") -> dict:
    """Run the demo into ``out``; return the metrics written to ``metrics.json``. Steps default to the
    model card's, precision to auto."""
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
    options = TranslationOptions(steps=steps, precision=precision)
    res = translate_image(loaded, mr, options, (lambda d, n: progress("translate", d, n)) if progress else None)
    write_image(res.image, out / "sct.nii.gz")
    write_image(res.image_iso, out / "sct_iso.nii.gz")
    tick("translation_s", s)

    pred = sitk.GetArrayFromImage(sitk.Resample(res.image_iso, ct_mrworld, sitk.Transform(), sitk.sitkLinear, -1024.0,
                                                sitk.sitkFloat32))
    ref = sitk.GetArrayFromImage(ct_mrworld).astype(np.float32)

    s = time.perf_counter()
    sct_seg, segmentation = segment_and_score(pred, ct_mrworld, case)
    write_image(sct_seg, out / "sct_seg.nii.gz")
    tick("segmentation_s", s)

    metrics = {
        "model": loaded.name,
        "steps": res.steps,
        "precision": res.precision,
        "registration": {"mode": "piecewise", "rms_mm": reg.report.rms_mm, "warnings": reg.report.warnings},
        "sct_vs_ideal_ct": image_metrics(pred, ref),
        "sct_vs_registered_ct": image_metrics(pred, sitk.GetArrayFromImage(registered).astype(np.float32)),
        "registered_ct_vs_ideal_ct": image_metrics(sitk.GetArrayFromImage(registered).astype(np.float32), ref),
        "segmentation": segmentation,
        "timings": {**timings, "total_s": round(time.perf_counter() - t0, 2)},
    }
    write_json(out / "metrics.json", metrics)
    figure(sitk.Resample(mr, ct_mrworld, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32), pred, ref,
           out / "demo_figure.png", metrics, sitk.GetArrayFromImage(sct_seg))
    return metrics


def segment_and_score(pred: np.ndarray, ct_mrworld: sitk.Image, case: Path) -> tuple[sitk.Image, dict]:
    """Vertebrae of the synthetic CT (on the CT-in-MR-world grid) and of the phantom's CT there, both
    seeded by the MR landmarks, each scored against the phantom's labels over the case's levels."""
    sct = sitk.GetImageFromArray(pred)
    sct.CopyInformation(ct_mrworld)
    landmarks = read_markups_json(case / "mr_landmarks.mrk.json")
    ref = sitk.GetArrayFromImage(sitk.ReadImage(str(case / "ct_mrworld_seg.nii.gz")))
    levels = json.loads((case / "truth.json").read_text(encoding="utf-8"))["levels"]
    sct_seg = segment_vertebrae(sct, "builtin", landmarks=landmarks)
    ct_seg = segment_vertebrae(ct_mrworld, "builtin", landmarks=landmarks)
    scores = {"method": "builtin (MR landmarks)", "levels": levels}
    for name, seg in (("sct", sct_seg), ("phantom_ct", ct_seg)):
        m = segmentation_metrics(sitk.GetArrayFromImage(seg), ref, levels)
        scores[name] = {
            "dice_strict": {lv: d["strict"] for lv, d in m["levels"].items()},
            "dice_shift_tolerant": {lv: d["shift_tolerant"] for lv, d in m["levels"].items()},
            **{k: m[k] for k in ("mean_dice_strict", "mean_dice_shift_tolerant", "binary_dice")},
        }
    return sct_seg, scores


def figure(mr: sitk.Image, pred: np.ndarray, ref: np.ndarray, png: Path, metrics: dict,
           seg: np.ndarray | None = None) -> Path:
    """Mid-sagittal MR | synthetic CT | CT | absolute error (| vertebrae over the synthetic CT when
    ``seg`` is given), on the CT-in-MR-world grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from SpineCoreLib.phantom.figure import sagittal_slice

    centre = np.array(mr.TransformContinuousIndexToPhysicalPoint([(s - 1) / 2 for s in mr.GetSize()])) * [-1, -1, 1]
    arrays = [sitk.GetArrayFromImage(mr), pred, ref, np.abs(pred - ref)]
    arrays += [pred, seg] if seg is not None else []
    panels = []
    for arr in arrays:
        img = sitk.GetImageFromArray(arr.astype(np.float32))
        img.CopyInformation(mr)
        panels.append(sagittal_slice(img, centre))
    m = metrics["sct_vs_ideal_ct"]
    titles = ["MR T2w (input)", f"synthetic CT ({metrics['model']})", "CT (phantom, MR world)",
              f"|error|: MAE body {m['mae_body_hu']:.0f} HU"]
    if seg is not None:
        sct, ct = metrics["segmentation"]["sct"], metrics["segmentation"]["phantom_ct"]
        titles.append(f"vertebrae: Dice {sct['mean_dice_strict']:.2f} (CT {ct['mean_dice_strict']:.2f})")
    n = len(titles)
    fig, axs = plt.subplots(1, n, figsize=(4 * n, 5.2), dpi=90)
    for k, (ax, title) in enumerate(zip(axs, titles, strict=True)):
        sl, grid, _, axes = panels[k]
        aspect = grid.spacing[axes[0]] / grid.spacing[axes[1]]
        lo, hi = (np.percentile(sl, [1, 99.5]) if k == 0 else (0, 300) if k == 3 else (-250, 1250))
        ax.imshow(sl, cmap="magma" if k == 3 else "gray", vmin=lo, vmax=hi, aspect=aspect)
        if k == 4:
            ax.imshow(label_overlay(panels[5][0]), aspect=aspect, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.suptitle(f"SpineMRtoCT demo: PSNR {m['psnr_body_db']:.1f} dB, SSIM {m['ssim_body']:.3f} inside the body "
                 f"({metrics['steps']} DDIM steps, {metrics['precision']})", fontsize=10)
    fig.tight_layout()
    with atomic_output(png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return png


def label_overlay(labels: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """RGBA image of a 2D label slice in the segment table's colours (transparent background)."""
    rgba = np.zeros((*labels.shape, 4), np.float32)
    for label, (_, colour) in segment_table().items():
        rgba[np.rint(labels) == label] = (*colour, alpha)
    return rgba
