"""Benchmark: time to write one five-level lumbar phantom case, at two resolutions.

Run: ``python Testing/benchmarks/bench_phantom.py [--repeats N]``. Prints the median wall time
of ``generate_case`` (render, acquire and write every file) and the process's peak memory.
The issue's goal: at most 10 s at 2 mm CT and 1x1x3 mm MR on the 2-core machine.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from SpineCoreLib.phantom import PhantomOptions, generate_case

SETTINGS = {
    "2 mm CT, 1x1x3 mm MR": PhantomOptions(ct_spacing=2.0, mr_spacing=(1.0, 1.0, 3.0)),
    "1 mm CT, 0.5x0.5x3 mm MR": PhantomOptions(ct_spacing=1.0, mr_spacing=(0.5, 0.5, 3.0)),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"{'setting':28s} {'median s':>9s} {'min s':>7s}  goal")
    results = {}
    for name, opts in SETTINGS.items():
        times = []
        for r in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                generate_case(Path(tmp), "sub-bench", 100 + r, opts)
                times.append(time.perf_counter() - t0)
        results[name] = statistics.median(times)
        goal = "<= 10 s: " + ("met" if results[name] <= 10 else "NOT met") if name.startswith("2 mm") else "(reported)"
        print(f"{name:28s} {results[name]:9.2f} {min(times):7.2f}  {goal}", flush=True)
    a, b = results.values()
    print(f"ratio 1 mm / 2 mm: {b / a:.2f}x")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
