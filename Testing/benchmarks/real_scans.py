"""Phantom-trained models on real scans: what a synthetic CT of a real spine MR looks like where it
matters, and what the built-in segmenter finds on a real CT.

Uses the public scans in ``../shared/data/real/`` (licences in its README); prints a note and exits 0
when that folder is absent (it is for development; users and CI do not have it). Run from the
repository root: ``python Testing/benchmarks/real_scans.py [--steps N] [--model NAME]``.

MR (``sct_t2_lumbar.nii.gz``, sagittal T2w, 1 mm): the synthetic CT's median HU inside each vertebral
body against the discs above and below it. The centres of six consecutive discs (levels not named) were
placed by hand on the mid-sagittal slice (i = 19), looking at the MR (the centre of each disc's
bright or, when degenerated, grey band; ``DISCS``); the bodies are the midpoints between neighbouring
discs. A body is sampled in a box of 11 x 9 x 5 voxels (k, j, i) around its centre, a disc in 3 x 9
x 5. A body should read as bone (a few hundred HU), a disc as soft tissue (about 50-100 HU). Bone
should not appear outside the spine: the volume above 200 HU more than 30 mm in front of the line
through the disc centres (the bodies reach about 18 mm in front of it) or 90 mm behind it. Then
the built-in segmenter on the synthetic CT: how many of those bodies fall inside a labelled vertebra.

CT (``totalseg_example_ct.nii.gz``): the built-in segmenter against TotalSegmentator's predicted
vertebrae (not a manual reference): binary Dice and per-level Dice.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
DISCS = [(187, 89), (162, 93), (132, 98), (102, 102), (69, 106), (36, 113)]  # (k, j) by hand, cranial to caudal
SLAB_I = slice(17, 22)  # the middle five sagittal slices
TOTALSEG_TO_VERSE = {26: 26, 27: 24, 28: 23, 29: 22, 30: 21, 31: 20, 32: 19, 33: 18}  # S1, L5 .. L1, T12, T11


def bodies_between(discs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(k, j) of the body centres: midway between neighbouring disc centres."""
    return [((k1 + k2) // 2, (j1 + j2) // 2) for (k1, j1), (k2, j2) in zip(discs[:-1], discs[1:], strict=True)]


def box_median(values: np.ndarray, k: int, j: int, half_k: int, half_j: int = 4) -> float:
    """Median of the [k, j, i] values in a box around (k, j) on the middle sagittal slices."""
    return float(np.median(values[k - half_k:k + half_k + 1, j - half_j:j + half_j + 1, SLAB_I]))


OUTSIDE_HU = 200.0
ANTERIOR_MM, POSTERIOR_MM = 30.0, 90.0  # bodies reach about 18 mm in front of the disc centres, processes 70 mm behind


def bone_outside_spine(sct: np.ndarray) -> float:
    """mL of bone-like synthetic CT where no vertebra is: in front of the bodies (abdomen, vessels) or
    behind the spinous processes, on the 1 mm grid of the real MR (j grows anteriorly)."""
    ks = np.arange(DISCS[-1][0], DISCS[0][0] + 1)
    line = np.interp(ks, [k for k, _ in DISCS[::-1]], [j for _, j in DISCS[::-1]])
    j = np.arange(sct.shape[1])[None, :]
    away = (j - line[:, None] > ANTERIOR_MM) | (line[:, None] - j > POSTERIOR_MM)  # (k, j)
    return float(((sct[ks] > OUTSIDE_HU) & away[:, :, None]).sum()) / 1000.0


def mr_case(model: str, steps: int | None, bias_correction: bool) -> None:
    from MRtoCTTranslationLib.models.registry import resolve
    from MRtoCTTranslationLib.options import TranslationOptions
    from MRtoCTTranslationLib.translator import load_model, translate_image
    from SpineCoreLib.segmentation import segment_vertebrae

    mr = sitk.ReadImage(str(REAL / "sct_t2_lumbar.nii.gz"))
    loaded = load_model(resolve(model), "cpu")
    t0 = time.perf_counter()
    res = translate_image(loaded, mr, TranslationOptions(steps=steps, seed=0, bias_correction=bias_correction))
    sct = sitk.GetArrayFromImage(res.image).astype(np.float32)
    print(f"MR sct_t2_lumbar: {model}, {res.steps} steps, {res.precision}, N4 {'on' if bias_correction else 'off'}, "
          f"{time.perf_counter() - t0:.1f} s")
    bodies = bodies_between(DISCS)
    body_hu = [box_median(sct, k, j, 5) for k, j in bodies]  # the middle of the body, not its endplates
    disc_hu = [box_median(sct, k, j, 1) for k, j in DISCS]  # the disc's middle slab
    print("  body medians (HU): " + ", ".join(f"{v:.0f}" for v in body_hu))
    print("  disc medians (HU): " + ", ".join(f"{v:.0f}" for v in disc_hu))
    above = sum(b > max(d1, d2) for b, d1, d2 in zip(body_hu, disc_hu[:-1], disc_hu[1:], strict=True))
    print(f"  bodies brighter than both neighbouring discs: {above} of {len(body_hu)}; median body "
          f"{np.median(body_hu):.0f} HU, median disc {np.median(disc_hu):.0f} HU")
    outside = bone_outside_spine(sct)
    print(f"  bone-like (> {OUTSIDE_HU:.0f} HU) outside the spine: {outside:.1f} mL (more than {ANTERIOR_MM:.0f} mm in "
          f"front of the disc centres' line or {POSTERIOR_MM:.0f} mm behind it, between the top and bottom discs)")
    labels = sitk.GetArrayFromImage(segment_vertebrae(res.image, "builtin", caudal_level="L5"))
    found = [int(labels[k, j, 19]) for k, j in bodies]
    print(f"  built-in segmenter on the synthetic CT: {sum(v > 0 for v in found)} of {len(found)} bodies inside a "
          f"labelled vertebra, {len({v for v in found if v > 0})} distinct labels (labels {found}; each body "
          "should have its own)")


def ct_case() -> None:
    from SpineCoreLib.evaluation.dice import segmentation_metrics
    from SpineCoreLib.segmentation import segment_vertebrae

    ct = sitk.ReadImage(str(REAL / "totalseg_example_ct.nii.gz"))
    ref = sitk.GetArrayFromImage(sitk.ReadImage(str(REAL / "totalseg_example_ct_vertebrae_predicted.nii.gz")))
    ref = np.vectorize(lambda v: TOTALSEG_TO_VERSE.get(int(v), 0), otypes=[np.uint16])(ref)
    t0 = time.perf_counter()
    pred = sitk.GetArrayFromImage(segment_vertebrae(ct, "builtin", caudal_level="L5"))
    m = segmentation_metrics(pred, ref)
    print(f"CT totalseg_example_ct: built-in segmenter {time.perf_counter() - t0:.1f} s; binary Dice "
          f"{m['binary_dice']:.3f} against TotalSegmentator's prediction; mean strict {m['mean_dice_strict']:.3f}, "
          f"shift-tolerant {m['mean_dice_shift_tolerant']:.3f}")
    for level, d in m["levels"].items():
        print(f"  {level}: strict {d['strict']:.2f}, shift-tolerant {d['shift_tolerant']:.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="ddim3d-default")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--no-bias-correction", action="store_true", help="translate without N4 (as before it existed)")
    ap.add_argument("--mr-only", action="store_true", help="skip the CT segmenter case")
    args = ap.parse_args()
    if not REAL.is_dir():
        print(f"{REAL} is absent: nothing to measure (the real scans are for development only)")
        return 0
    mr_case(args.model, args.steps, not args.no_bias_correction)
    if not args.mr_only:
        ct_case()
    return 0


if __name__ == "__main__":
    sys.exit(main())
