"""Phantom-trained models on real scans: what a synthetic CT of a real spine MR looks like where it
matters, and what the built-in segmenter finds on a real CT.

Uses the public scans in ``../shared/data/real/`` (licences in its README); prints a note and exits 0
when that folder is absent (it is for development; users and CI do not have it). Run from the
repository root: ``python Testing/Benchmarks/real_scans.py [--steps N] [--model NAME]``.

MR (``sct_t2_lumbar.nii.gz``, sagittal T2w, 1 mm): the synthetic CT's median HU inside each vertebral
body against the discs. The discs are found in the MR itself, as the bright T2 peaks along a line
through the vertebral bodies that was placed by hand on the mid-sagittal slice (i = 17..21,
j = 95..101: the middle of the bodies, looked up on the MR); the bodies are the midpoints between
neighbouring discs. A body should read as bone (a few hundred HU), a disc as soft tissue (about
50-100 HU). Then the built-in segmenter on the synthetic CT: how many of those bodies fall inside a
labelled vertebra.

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
COLUMN_I, COLUMN_J = (17, 22), (95, 102)  # the hand-placed line through the bodies of sct_t2_lumbar (slices)
TOTALSEG_TO_VERSE = {26: 26, 27: 24, 28: 23, 29: 22, 30: 21, 31: 20, 32: 19, 33: 18}  # S1, L5 .. L1, T12, T11


def column_profile(values: np.ndarray) -> np.ndarray:
    """Mean along k of the [k, j, i] values inside the column line."""
    return values[:, slice(*COLUMN_J), slice(*COLUMN_I)].mean(axis=(1, 2))


def discs_and_bodies(mr: np.ndarray) -> tuple[list[int], list[int]]:
    """k of the discs (T2 peaks along the column line) and of the bodies between them."""
    from scipy.signal import find_peaks

    discs, _ = find_peaks(column_profile(mr), distance=22, prominence=25)  # discs are 25-35 mm apart
    discs = [int(k) for k in discs if k > 5]
    return discs, [(a + b) // 2 for a, b in zip(discs[:-1], discs[1:], strict=True)]


def mr_case(model: str, steps: int | None) -> None:
    from MRtoCTTranslationLib.models.registry import resolve
    from MRtoCTTranslationLib.options import TranslationOptions
    from MRtoCTTranslationLib.translator import load_model, translate_image
    from SpineCoreLib.segmentation import segment_vertebrae

    mr = sitk.ReadImage(str(REAL / "sct_t2_lumbar.nii.gz"))
    loaded = load_model(resolve(model), "cpu")
    t0 = time.perf_counter()
    res = translate_image(loaded, mr, TranslationOptions(steps=steps, seed=0))
    sct = sitk.GetArrayFromImage(res.image).astype(np.float32)
    print(f"MR sct_t2_lumbar: {model}, {res.steps} steps, {res.precision}, {time.perf_counter() - t0:.1f} s")
    disc_k, body_k = discs_and_bodies(sitk.GetArrayFromImage(mr).astype(np.float32))
    line = sct[:, slice(*COLUMN_J), slice(*COLUMN_I)]
    body_hu = [float(np.median(line[k - 5:k + 6])) for k in body_k]  # the middle of the body, not its endplates
    disc_hu = [float(np.median(line[k - 1:k + 2])) for k in disc_k]  # the disc's middle slab
    print(f"  discs (MR T2 peaks) at k = {disc_k}; bodies between at k = {body_k}")
    print("  body medians (HU): " + ", ".join(f"{v:.0f}" for v in body_hu))
    print("  disc medians (HU): " + ", ".join(f"{v:.0f}" for v in disc_hu))
    above = sum(b > max(d1, d2) for b, d1, d2 in zip(body_hu, disc_hu[:-1], disc_hu[1:], strict=True))
    print(f"  bodies brighter than both neighbouring discs: {above} of {len(body_hu)}; median body "
          f"{np.median(body_hu):.0f} HU, median disc {np.median(disc_hu):.0f} HU")
    labels = sitk.GetArrayFromImage(segment_vertebrae(res.image, "builtin", caudal_level="L5"))
    mid_i, mid_j = sum(COLUMN_I) // 2, sum(COLUMN_J) // 2
    found = [int(labels[k, mid_j, mid_i]) for k in body_k]
    print(f"  built-in segmenter on the synthetic CT: {sum(v > 0 for v in found)} of {len(found)} bodies inside a "
          f"labelled vertebra (labels {found})")


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
    args = ap.parse_args()
    if not REAL.is_dir():
        print(f"{REAL} is absent: nothing to measure (the real scans are for development only)")
        return 0
    mr_case(args.model, args.steps)
    ct_case()
    return 0


if __name__ == "__main__":
    sys.exit(main())
