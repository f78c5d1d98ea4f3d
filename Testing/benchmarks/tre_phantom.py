"""Target registration error of landmark registration on phantom cohorts.

Run: ``python Testing/benchmarks/tre_phantom.py [--cases N] [--noise MM] [--seed S]``.
For each case the CT landmarks are registered onto the MR landmarks (both perturbed by
Gaussian noise of ``--noise`` mm per axis) with the rigid and the piecewise mode, and the error
is measured on the held-out pedicle points (never used by the fit), with and without a
curvature change between the two worlds.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from SpineCoreLib.markups_io import Landmark, LandmarkSet, read_markups_json
from SpineCoreLib.phantom import PhantomOptions, generate_case
from SpineLandmarkRegistrationLib.register import register


def noisy(ls: LandmarkSet, rng: np.random.Generator, sd: float) -> LandmarkSet:
    return LandmarkSet([Landmark(lm.label, lm.position + rng.normal(0, sd, 3)) for lm in ls.landmarks])


def tre_for_case(case: Path, rng: np.random.Generator, sd: float, modes: tuple[str, ...]) -> dict[str, float]:
    truth = json.loads((case / "truth.json").read_text())
    mr = noisy(read_markups_json(case / "mr_landmarks.mrk.json"), rng, sd)
    ct = noisy(read_markups_json(case / "ct_landmarks.mrk.json"), rng, sd)
    names = list(truth["held_out"]["ct"])
    p_ct = np.array([truth["held_out"]["ct"][n] for n in names])
    p_mr = np.array([truth["held_out"]["mr"][n] for n in names])
    out = {}
    for mode in modes:
        reg = register(mr, ct, mode, with_loo=False)
        out[mode] = float(np.sqrt((np.linalg.norm(reg.transform.moving_to_fixed(p_ct) - p_mr, axis=1) ** 2).mean()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=8)
    ap.add_argument("--noise", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--levels", default="L1,L2,L3,L4,L5")
    args = ap.parse_args()
    modes = ("rigid", "piecewise")
    rng = np.random.default_rng(args.seed)
    print(f"held-out pedicle TRE (RMS, mm), landmark noise {args.noise} mm per axis, {args.cases} cases, "
          f"levels {args.levels}")
    with tempfile.TemporaryDirectory() as tmp:
        for change in (False, True):
            rows = []
            for i in range(args.cases):
                opts = PhantomOptions(levels=args.levels.split(","), curvature_change=change, images=False)
                case = generate_case(Path(tmp) / f"{change}", f"c{i}", 1000 + i, opts)["truth"].parent
                rows.append(tre_for_case(case, rng, args.noise, modes))
            mean = {m: np.mean([r[m] for r in rows]) for m in modes}
            wins = sum(r["piecewise"] < r["rigid"] for r in rows)
            label = "with curvature change" if change else "rigid motion only    "
            print(f"{label}: rigid {mean['rigid']:.2f}  piecewise {mean['piecewise']:.2f}  "
                  f"(piecewise lower in {wins}/{len(rows)} cases)")


if __name__ == "__main__":
    main()
