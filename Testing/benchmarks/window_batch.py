"""Batched sliding windows side by side: the demo case (a phantom T2w MR, five lumbar levels at 2 mm)
translated with 1, 2 and 4 windows per network call, in fp32 and in the precision ``auto`` takes.

Run from the repository root: ``python Testing/benchmarks/window_batch.py [--steps 8] [--repeats 2]``.
Prints the CPU, the best time of the repeats for each setting, its ratio to one window a call, and the
largest difference from it in HU (float rounding only).
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
from MRtoCTTranslationLib.translator import load_model, translate_image
from SpineCoreLib.phantom import PhantomOptions, generate_case


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    print(f"CPU: {CPUFeatures.detect().describe()}; {torch.get_num_threads()} threads; model {default_model_name()}")
    model = load_model(resolve(default_model_name()), "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        mr = sitk.ReadImage(str(generate_case(Path(tmp), "bench", 7, PhantomOptions())["mr_t2w"]))
        for precision in ("fp32", "auto"):
            base = None
            for batch in (1, 2, 4):
                opts = TranslationOptions(steps=args.steps, seed=0, precision=precision, window_batch=batch)
                times = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    res = translate_image(model, mr, opts)
                    times.append(time.perf_counter() - t0)
                out = sitk.GetArrayFromImage(res.image)
                if base is None:
                    base = (min(times), out)
                diff = float(np.abs(out - base[1]).max())
                print(f"{res.precision:5s} {batch} window(s) a call, {args.steps} steps: {min(times):5.1f} s, "
                      f"{base[0] / min(times):.2f}x one a call, max difference {diff:.2f} HU", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
