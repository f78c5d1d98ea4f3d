"""The built-in segmenter without landmarks on held-out phantom cases: on each case's CT (in the MR's
world) and on the synthetic CT of its MR (default model, its card's steps), strict and shift-tolerant
Dice against the phantom's truth, side by side, per vertebra and on average.

Run from the repository root: ``python Testing/benchmarks/segment_synthetic.py [--cases 4] [--seed 900]``.
The cases are made with the test split's seeds, which no bundled model trained on; the caudal level is the
most caudal vertebra the image holds whole (L5, or S1 where the field of view takes in the whole
sacral body), as a user who reads the scan gives it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from MRtoCTTranslationLib.models.registry import default_model_name, resolve
from MRtoCTTranslationLib.options import TranslationOptions
from MRtoCTTranslationLib.precision import report
from MRtoCTTranslationLib.translator import load_model, translate_image
from SpineCoreLib.evaluation.dice import segmentation_metrics
from SpineCoreLib.levels import ID_LEVELS
from SpineCoreLib.phantom import PhantomOptions, generate_case
from SpineCoreLib.segmentation import segment_vertebrae


def caudal_level(truth: sitk.Image) -> str:
    """The most caudal level whose vertebral body the image holds whole: the anterior 40 % of its label
    (the body; the arch and processes lie behind it) touches no cranial or caudal face of the image.
    What a user who reads the scan gives as ``--caudal-level`` (see ``segmentation/ordering.py``)."""
    labels = sitk.GetArrayFromImage(sitk.DICOMOrient(truth, "LPS"))  # axis 0 runs up, axis 1 to posterior
    whole = []
    for v in (int(v) for v in np.unique(labels) if int(v) in ID_LEVELS):
        k, j, _ = np.nonzero(labels == v)
        body = j <= np.percentile(j, 40)
        if k[body].min() > 0 and k[body].max() < labels.shape[0] - 1:
            whole.append((float(k.mean()), v))
    return ID_LEVELS[min(whole)[1]]  # the lowest along the patient's axis


def score(image: sitk.Image, truth: sitk.Image) -> dict:
    labels = segment_vertebrae(image, "builtin", caudal_level=caudal_level(truth))
    return segmentation_metrics(sitk.GetArrayFromImage(labels), sitk.GetArrayFromImage(truth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=4)
    parser.add_argument("--seed", type=int, default=900)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    print("machine:", report())
    model = load_model(resolve(args.model or default_model_name()))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.cases):
            case = generate_case(Path(tmp), f"held{i}", args.seed + i, PhantomOptions())["truth"].parent
            mr = sitk.ReadImage(str(case / "mr_t2w.nii.gz"))
            t0 = time.perf_counter()
            sct = translate_image(model, mr, TranslationOptions()).image
            t_translate = time.perf_counter() - t0
            ct = score(sitk.ReadImage(str(case / "ct_mrworld.nii.gz")), sitk.ReadImage(str(case / "ct_mrworld_seg.nii.gz")))
            t0 = time.perf_counter()
            syn = score(sct, sitk.ReadImage(str(case / "mr_seg.nii.gz")))
            t_segment = time.perf_counter() - t0
            rows.append((ct, syn))
            per = " ".join(f"{lv} {d['strict']:.2f}" for lv, d in syn["levels"].items())
            print(f"seed {args.seed + i}: CT strict {ct['mean_dice_strict']:.3f}, synthetic CT strict "
                  f"{syn['mean_dice_strict']:.3f} (shift-tolerant {syn['mean_dice_shift_tolerant']:.3f}; {per}); "
                  f"translate {t_translate:.1f} s, segment {t_segment:.1f} s")
    ct_mean = float(np.mean([r[0]["mean_dice_strict"] for r in rows]))
    syn_mean = float(np.mean([r[1]["mean_dice_strict"] for r in rows]))
    print(f"mean strict Dice over {len(rows)} held-out cases without landmarks: CT {ct_mean:.3f}, synthetic CT "
          f"{syn_mean:.3f} (gap {ct_mean - syn_mean:+.3f})")


if __name__ == "__main__":
    main()
