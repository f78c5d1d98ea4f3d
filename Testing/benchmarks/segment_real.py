"""The built-in vertebra segmenter on every labelled real CT in ``../shared/data/real/`` and on phantom CTs:
binary Dice, per-vertebra Dice (strict and shift-tolerant), the levels found and named, and the time,
for the column method (the default without landmarks) and the body-core method it replaced, side by side.

Run from the repository root: ``python Testing/benchmarks/segment_real.py [--phantom-cases 2]``. The real
CTs are for development only; without that folder only the phantom cases are scored. On the real CT the
reference is TotalSegmentator's prediction (not a manual label); per-vertebra Dice is reported for every
level and the mean over the levels wholly inside the field of view. A crop of that CT to the slices of
L3-L5 (as a small lumbar field of view), at 3 mm and resampled to 1.5 mm (and 0.5 mm on request), checks the level count
without the sacrum; the same CT with every bone voxel 120 HU denser (bodies above 150 HU, as in a
younger patient) checks the path taken for dense bodies among ribs and pelvis.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.evaluation.dice import segmentation_metrics
from SpineCoreLib.segmentation import BuiltinOptions, segment_vertebrae

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
TOTALSEG_TO_VERSE = {26: 26, 27: 24, 28: 23, 29: 22, 30: 21, 31: 20, 32: 19, 33: 18}  # S1, L5 .. L1, T12, T11
REAL_CASES = {"totalseg_example_ct": ("totalseg_example_ct_vertebrae_predicted", ["L1", "L2", "L3", "L4", "L5", "S1"])}
METHODS = {"default": BuiltinOptions(), "body cores only (spine_first=False)": BuiltinOptions(spine_first=False)}


def reference_landmarks(image: sitk.Image, ref: np.ndarray, levels: list[str]) -> dict:
    """Body and spinous points as an annotator would place them, from the reference labels: the centroid
    of each vertebra's anterior 40 % and of its posterior 3 % (the tip of the spinous process)."""
    from SpineCoreLib.levels import LEVEL_IDS
    from SpineCoreLib.segmentation.volume import Volume

    vol, out = Volume.of(image), {}
    for level in levels:
        ras = vol.kji_to_ras(np.argwhere(ref == LEVEL_IDS[level]).astype(float))
        if len(ras):
            out[level] = {"body": ras[ras[:, 1] > np.percentile(ras[:, 1], 60)].mean(0),
                          "spinous": ras[ras[:, 1] < np.percentile(ras[:, 1], 3)].mean(0)}
    return out


def score(name: str, image: sitk.Image, ref: np.ndarray, full: list[str], caudal_level: str) -> None:
    runs = [(method, opts, None) for method, opts in METHODS.items()]
    lumbar = [lv for lv in ("L1", "L2", "L3", "L4", "L5") if lv in full]
    runs += [(f"landmarks {lumbar[0]}-{lumbar[-1]}, {method}", opts, reference_landmarks(image, ref, lumbar))
             for method, opts in METHODS.items()]
    for method, opts, landmarks in runs:
        t0 = time.perf_counter()
        pred = sitk.GetArrayFromImage(segment_vertebrae(image, "builtin", landmarks=landmarks,
                                                        caudal_level=caudal_level, options=opts))
        seconds = time.perf_counter() - t0
        m = segmentation_metrics(pred, ref)
        levels = m["levels"]
        inside = [levels[lv] for lv in (full if landmarks is None else list(landmarks)) if lv in levels]
        scored = full if landmarks is None else list(landmarks)
        print(f"{name} | {method} | {seconds:.1f} s | binary {m['binary_dice']:.3f} | mean over {scored[0]}-{scored[-1]} "
              f"strict {np.mean([d['strict'] for d in inside]):.3f}, shift-tolerant "
              f"{np.mean([d['shift_tolerant'] for d in inside]):.3f} | found {' '.join(m['predicted_levels']) or '-'}")
        print("    " + ", ".join(f"{lv} {d['strict']:.2f}/{d['shift_tolerant']:.2f}" for lv, d in levels.items()))


def crop_levels(ct: sitk.Image, ref: np.ndarray, levels: list[str], spacing: float) -> tuple[sitk.Image, np.ndarray]:
    """The slices holding ``levels`` (a small field of view, as a lumbar crop), resampled to ``spacing``."""
    from SpineCoreLib.levels import LEVEL_IDS

    z = np.argwhere(np.isin(ref, [LEVEL_IDS[lv] for lv in levels]))[:, 0]
    lo, hi = int(z.min()) - 1, int(z.max()) + 2
    size = [ct.GetSize()[0], ct.GetSize()[1], hi - lo]
    ref_img = sitk.GetImageFromArray(ref)
    ref_img.CopyInformation(ct)
    img, lab = (sitk.RegionOfInterest(x, size, [0, 0, lo]) for x in (ct, ref_img))
    if spacing != img.GetSpacing()[0]:
        grid = sitk.Image([int(round(n * img.GetSpacing()[0] / spacing)) for n in size], sitk.sitkFloat32)
        grid.SetSpacing([spacing] * 3)
        grid.SetOrigin(img.GetOrigin())
        grid.SetDirection(img.GetDirection())
        img = sitk.Resample(img, grid, sitk.Transform(), sitk.sitkBSpline, -1024.0, sitk.sitkFloat32)
        lab = sitk.Resample(lab, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt16)
    return img, sitk.GetArrayFromImage(lab)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phantom-cases", type=int, default=2)
    ap.add_argument("--crop-spacings", type=float, nargs="+", default=[3.0, 1.5],
                    help="spacings (mm) of the L3-L5 crop; 0.5 takes about a minute and several GB")
    args = ap.parse_args()
    print("case | method | time | binary Dice | per-vertebra Dice (strict, shift-tolerant) | levels found")
    if REAL.is_dir():
        for ct_name, (ref_name, full) in REAL_CASES.items():
            ct = sitk.ReadImage(str(REAL / f"{ct_name}.nii.gz"))
            ref = sitk.GetArrayFromImage(sitk.ReadImage(str(REAL / f"{ref_name}.nii.gz")))
            ref = np.vectorize(lambda v: TOTALSEG_TO_VERSE.get(int(v), 0), otypes=[np.uint16])(ref)
            score(ct_name, ct, ref, full, "L5")
            arr = sitk.GetArrayFromImage(ct).astype(np.float32)  # a younger skeleton: every bone voxel denser
            dense = sitk.GetImageFromArray(np.where(arr > 100, arr + 120, arr))
            dense.CopyInformation(ct)
            score(f"{ct_name}, bone +120 HU", dense, ref, full, "L5")
            for spacing in args.crop_spacings:  # a three-vertebra crop: no sacrum in view, levels from caudal_level
                img, lab = crop_levels(ct, ref, ["L3", "L4", "L5"], spacing)
                score(f"{ct_name} L3-L5 crop at {spacing:g} mm", img, lab, ["L3", "L4", "L5"], "L5")
    else:
        print(f"{REAL} is absent: phantom cases only")
    from SpineCoreLib.phantom import PhantomOptions, generate_case

    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.phantom_cases):
            case = generate_case(Path(tmp), f"s{n}", 900 + n, PhantomOptions())
            levels = PhantomOptions().levels
            for world in ("ct", "ct_mrworld"):
                ref = sitk.GetArrayFromImage(sitk.ReadImage(str(case[f"{world}_seg"])))
                score(f"phantom {n} {world}", sitk.ReadImage(str(case[world])), ref, levels, "L5")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
