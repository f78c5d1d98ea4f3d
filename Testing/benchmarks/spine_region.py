"""Sampling only around the spine, side by side: the whole field of view, the body's box, and the box of
the MR landmarks with 40 mm around them (``TranslationOptions.crop_to_spine``, ``region``), on the demo
case (a phantom T2w MR, five lumbar levels), on a whole-spine phantom (C1-S1) and, when
``../shared/data/real/`` is there, on its public T2w lumbar MR (1 mm sagittal, a 257 mm AP field of
view of which the spine takes about 90 mm), each translated with the default model at its card's steps.

Run from the repository root: ``python Testing/benchmarks/spine_region.py [--repeats 2] [--no-whole-spine]``.
Prints the CPU, the share of the model grid sampled, the best time of the repeats and its ratio to the
whole field of view, and the MAE (HU) against the phantom's CT in the MR's world inside the body and
inside the vertebrae, so that a saving that costs accuracy shows. The real MR has no CT: its line gives
the mean difference from the whole field of view's result inside the box, 10 mm in from its faces,
and inside the MR's foreground.
Its landmarks are placed by hand on the mid-sagittal slice: bodies midway between the disc centres
of ``real_scans.py``, spinous tips at the back of the posterior elements (j = 52, about 50 mm behind).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from MRtoCTTranslationLib.models.registry import default_model_name, resolve
from MRtoCTTranslationLib.options import TranslationOptions
from MRtoCTTranslationLib.precision import CPUFeatures
from MRtoCTTranslationLib.region import body_mask
from MRtoCTTranslationLib.translator import load_model, translate_image
from SpineCoreLib.markups_io import read_markups_json
from SpineCoreLib.phantom import WHOLE_SPINE, PhantomOptions, generate_case


def on_grid(image: sitk.Image, like: sitk.Image, nearest: bool = False) -> np.ndarray:
    interp = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
    return sitk.GetArrayFromImage(sitk.Resample(image, like, sitk.Transform(), interp, -1024.0 if not nearest else 0))


def best_of(model, mr: sitk.Image, crop: bool, landmarks: np.ndarray | None, repeats: int) -> tuple[float, object]:
    """The best time of ``repeats`` translations at the card's steps, and the last result."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = translate_image(model, mr, TranslationOptions(seed=0, crop_to_spine=crop), landmarks=landmarks)
        times.append(time.perf_counter() - t0)
    return min(times), res


def run_case(name: str, case: dict, model, repeats: int) -> None:
    mr = sitk.ReadImage(str(case["mr_t2w"]))
    ct = on_grid(sitk.ReadImage(str(case["ct_mrworld"])), mr)
    bone = on_grid(sitk.ReadImage(str(case["ct_mrworld_seg"])), mr, nearest=True) > 0
    body = body_mask(sitk.GetArrayFromImage(mr))
    points = np.array(list(read_markups_json(Path(case["mr_landmarks"])).defined().values()))
    base = None
    for label, crop, lms in (("whole field of view", False, None), ("body's box", True, None),
                             ("landmarks' box (40 mm)", True, points)):
        seconds, res = best_of(model, mr, crop, lms, repeats)
        sct = sitk.GetArrayFromImage(res.image).astype(np.float32)
        base = base or seconds
        print(f"{name} {tuple(mr.GetSize())} | {label:24s} | {100 * res.sampled:3.0f} % sampled | {seconds:6.1f} s, {base / seconds:.2f}x | "
              f"MAE body {np.abs(sct - ct)[body].mean():6.1f} HU, vertebrae {np.abs(sct - ct)[bone].mean():6.1f} HU",
              flush=True)


REAL_MR = Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "sct_t2_lumbar.nii.gz"
REAL_DISCS = [(187, 89), (162, 93), (132, 98), (102, 102), (69, 106), (36, 113)]  # (k, j), as real_scans.py
REAL_SPINOUS_J, REAL_MID_I = 52, 19


def real_landmarks(mr: sitk.Image) -> np.ndarray:
    """RAS body and spinous points of the real MR's five lumbar levels (index order i, j, k)."""
    out = []
    for (k0, j0), (k1, j1) in zip(REAL_DISCS[:-1], REAL_DISCS[1:], strict=True):
        k, j = (k0 + k1) / 2, (j0 + j1) / 2
        for jj in (j, REAL_SPINOUS_J):
            out.append(mr.TransformContinuousIndexToPhysicalPoint((REAL_MID_I, jj, k)))
    return np.array(out) * np.array([-1.0, -1.0, 1.0])


def run_real(model, repeats: int) -> None:
    mr = sitk.ReadImage(str(REAL_MR))
    points = real_landmarks(mr)
    results = {}
    for label, crop, lms in (("whole field of view", False, None), ("landmarks' box (40 mm)", True, points)):
        results[label] = best_of(model, mr, crop, lms, repeats)
    (t_whole, whole), (t_box, box) = results.values()
    inner = np.zeros(sitk.GetArrayViewFromImage(mr).shape, bool)
    inner[_inner_box(mr, points, 40.0 - 10.0)] = True
    inner &= body_mask(sitk.GetArrayFromImage(mr))  # the air around the back is air in one, tissue in the other
    diff = np.abs(sitk.GetArrayFromImage(whole.image).astype(float) - sitk.GetArrayFromImage(box.image))[inner]
    print(f"real lumbar MR {tuple(mr.GetSize())} | whole field of view | {t_whole:6.1f} s | landmarks' box "
          f"| {100 * box.sampled:3.0f} % sampled | {t_box:6.1f} s, {t_whole / t_box:.2f}x | mean difference "
          f"inside the box and the body {diff.mean():.1f} HU", flush=True)


def _inner_box(mr: sitk.Image, points_ras: np.ndarray, margin_mm: float) -> tuple[slice, ...]:
    """Numpy slices of the landmarks' box with ``margin_mm`` around them, on ``mr``'s grid."""
    lps = points_ras * np.array([-1.0, -1.0, 1.0])
    kji = np.array([mr.TransformPhysicalPointToContinuousIndex(tuple(p))[::-1] for p in lps])
    pad = margin_mm / np.array(mr.GetSpacing()[::-1])
    lo = np.clip(np.floor(kji.min(0) - pad).astype(int), 0, None)
    hi = np.ceil(kji.max(0) + pad).astype(int) + 1
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-whole-spine", action="store_true")
    args = ap.parse_args()
    print(f"CPU: {CPUFeatures.detect().describe()}; {torch.get_num_threads()} threads; model {default_model_name()}")
    model = load_model(resolve(default_model_name()), "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        run_case("demo case", generate_case(Path(tmp), "demo", 7, PhantomOptions()), model, args.repeats)
        if not args.no_whole_spine:
            case = generate_case(Path(tmp), "spine", 7, PhantomOptions(levels=WHOLE_SPINE))
            run_case("whole spine", case, model, args.repeats)
    if REAL_MR.is_file():
        run_real(model, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
