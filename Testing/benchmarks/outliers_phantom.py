"""How often the quality report catches a misplaced landmark, and how often it cries wolf.

Run: ``python Testing/benchmarks/outliers_phantom.py [--cases N]``. On phantom cases with and
without a curvature change (landmark noise 1 mm per axis), every landmark in turn is moved by
10, 15 and 25 mm in a random direction; a detection counts when the report's first suggestion
names that landmark.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from SpineCoreLib.markups_io import Landmark, LandmarkSet, read_markups_json
from SpineCoreLib.phantom import PhantomOptions, generate_case
from SpineLandmarkRegistrationLib.register import register


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=6)
    args = ap.parse_args()
    rng = np.random.default_rng(5)

    def noisy(ls: LandmarkSet) -> LandmarkSet:
        return LandmarkSet([Landmark(lm.label, lm.position + rng.normal(0, 1, 3)) for lm in ls.landmarks])

    with tempfile.TemporaryDirectory() as tmp:
        for change in (False, True):
            false_alarms, found, blamed_other, tried = 0, {10: 0, 15: 0, 25: 0}, 0, 0
            for i in range(args.cases):
                opts = PhantomOptions(curvature_change=change, images=False)
                case = generate_case(Path(tmp) / str(change), f"c{i}", 1000 + i, opts)["truth"].parent
                mr = noisy(read_markups_json(case / "mr_landmarks.mrk.json"))
                ct = noisy(read_markups_json(case / "ct_landmarks.mrk.json"))
                false_alarms += bool(register(mr, ct, "rigid").report.suggestions)
                for size in found:
                    for lm in ct.landmarks:
                        d = rng.normal(size=3)
                        d *= size / np.linalg.norm(d)
                        moved = LandmarkSet([Landmark(x.label, x.position + (d if x.label == lm.label else 0))
                                             for x in ct.landmarks])
                        sug = register(mr, moved, "rigid").report.suggestions
                        tried += size == 10
                        if sug and sug[0]["labels"] == [lm.label]:
                            found[size] += 1
                        elif sug:
                            blamed_other += 1
            n = tried
            name = "with curvature change" if change else "rigid motion only"
            print(f"{name:22s} false alarms {false_alarms}/{args.cases} clean cases; detected: "
                  + ", ".join(f"{s} mm {found[s]}/{n}" for s in found) + f"; another point blamed {blamed_other}")


if __name__ == "__main__":
    main()
