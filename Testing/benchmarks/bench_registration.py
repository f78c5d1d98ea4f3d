"""Benchmark: landmark fits, the live MRML preview, and resampling a full CT onto MR grids.

Run: ``python Testing/benchmarks/bench_registration.py [--quick]``. Prints

(a) the time to fit 50 landmark pairs (25 levels, body + spinous), rigid and piecewise, with and
    without leave-one-out errors (median of repeats);
(b) the live-update time of the MRML preview: from a control point position change to the
    updated transform node (and residual table), median over many moves, on a 25-level (50-point)
    and a 5-level landmark set, in a real headless MRML scene;
(c) the time to resample a 512x512x400 int16 CT onto a sagittal 1x1x3 mm MR grid (400x400x15)
    and a 1 mm isotropic 300^3 grid through a rigid transform, linear and B-spline:
    ``resample.resample`` (which crops the CT to the target's footprint first) against a plain
    ``sitk.Resample`` of the whole CT, with the ratio.

Landmarks and CT are synthetic; timings depend on the machine (this project's target: 2 cores).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import SimpleITK as sitk

REPO = Path(__file__).resolve().parents[2]
for sub in ("Testing/harness", "SpineCore", "SpineLandmarkRegistration", "MRtoCTTranslation"):
    if str(REPO / sub) not in sys.path:
        sys.path.insert(0, str(REPO / sub))

from mrtoct.bench import median_time as _median_time  # noqa: E402
from SpineCoreLib.geometry import Grid  # noqa: E402
from SpineCoreLib.levels import STANDARD_LEVELS, landmark_names  # noqa: E402
from SpineCoreLib.markups_io import Landmark, LandmarkSet  # noqa: E402
from SpineCoreLib.resample import reference_image, resample  # noqa: E402
from SpineLandmarkRegistrationLib.register import register  # noqa: E402
from SpineLandmarkRegistrationLib.transforms import LinearTransform  # noqa: E402


def rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return z @ y @ x


def synthetic_spine(n_levels: int, seed: int = 0) -> tuple[LandmarkSet, LandmarkSet]:
    """Fixed and moving body/spinous points of ``n_levels`` levels (lumbar end of the spine).

    Moving = a global rigid motion of a spine whose curvature differs a little, plus 1 mm noise.
    """
    rng = np.random.default_rng(seed)
    levels = list(STANDARD_LEVELS[-n_levels:])
    s = np.arange(n_levels) * -28.0
    fixed_pts, moving_pts = [], []
    g_rot, g_shift = rotation(0.1, -0.05, 0.2), np.array([12.0, -30.0, 40.0])
    for n, z in enumerate(s):
        bend = 0.004 * (z - s.mean()) ** 2 / 10.0
        body = np.array([0.0, 20.0 * np.sin(z / 150.0), z])
        spinous = body + [0.0, -45.0, -10.0]
        local = rotation(0.03 * np.sin(n), 0.0, 0.0)
        for p in (body, spinous):
            fixed_pts.append(p)
            q = local @ (p - body) + body + [bend, 0.0, 0.0]
            moving_pts.append(g_rot @ q + g_shift + rng.normal(0, 1.0, 3))
    names = landmark_names(levels)
    fixed = LandmarkSet([Landmark(k, p) for k, p in zip(names, fixed_pts, strict=True)], "fixed")
    moving = LandmarkSet([Landmark(k, p) for k, p in zip(names, moving_pts, strict=True)], "moving")
    return fixed, moving


def median_time(fn: Callable[[], object], repeats: int) -> float:
    return _median_time(fn, repeats, warmup=False)


def bench_fit(quick: bool) -> None:
    print("(a) fit of 50 landmark pairs (25 levels), median of repeats", flush=True)
    fixed, moving = synthetic_spine(25)
    print(f"    {'mode':10s} {'leave-one-out':>13s} {'repeats':>7s} {'median ms':>10s}")
    for mode in ("rigid", "piecewise"):
        for loo in (False, True):
            repeats = (3 if quick else 7) if mode == "piecewise" and loo else (5 if quick else 21)
            t = median_time(lambda m=mode, w=loo: register(fixed, moving, m, with_loo=w), repeats)
            print(f"    {mode:10s} {'yes' if loo else 'no':>13s} {repeats:7d} {t * 1e3:10.1f}", flush=True)


def bench_live(quick: bool) -> None:
    from headless.scene import HeadlessSlicer

    from SpineCoreLib.mrml.markups import add_markups_node
    from SpineLandmarkRegistrationLib.mrml.live_registration import LiveRegistration

    print("(b) live MRML preview: control point moved -> transform node and residual table updated", flush=True)
    hs = HeadlessSlicer()
    scene = hs.scene
    print(f"    {'landmarks':>9s} {'mode':10s} {'moves':>5s} {'median ms':>10s} {'max ms':>8s}  field samples")
    for n_levels in (25, 5):
        fixed, moving = synthetic_spine(n_levels, seed=1)
        for mode in ("rigid", "piecewise"):
            scene.Clear(False)
            f_node = add_markups_node(scene, fixed, "fixed")
            m_node = add_markups_node(scene, moving, "moving")
            live = LiveRegistration(f_node, m_node, mode)
            moves = (10 if quick else 20) if mode == "piecewise" else (20 if quick else 50)
            rng = np.random.default_rng(2)
            times = []
            for k in range(moves):
                i = int(rng.integers(0, m_node.GetNumberOfControlPoints()))
                p = np.array(m_node.GetNthControlPointPosition(i)) + rng.normal(0, 0.5, 3)
                before = live.transform_node.GetTransformToWorldMTime() if live.transform_node else 0
                t0 = time.perf_counter()
                m_node.SetNthControlPointPosition(i, *p)  # observers run synchronously, as in Slicer
                times.append(time.perf_counter() - t0)
                assert live.error is None and live.transform_node.GetTransformToWorldMTime() > before, k
            samples = ""
            if mode == "piecewise":
                grid = live.transform_node.GetTransformFromParent().GetDisplacementGrid()
                dims = grid.GetDimensions()
                samples = f"{dims[0]}x{dims[1]}x{dims[2]} at {grid.GetSpacing()[0]:.1f} mm"
            live.stop()
            print(f"    {2 * n_levels:9d} {mode:10s} {moves:5d} {statistics.median(times) * 1e3:10.1f} "
                  f"{max(times) * 1e3:8.1f}  {samples}", flush=True)


def synthetic_ct() -> sitk.Image:
    """512x512x400 int16, 0.7x0.7x1 mm, axial LPS; smooth content plus noise (values do not matter)."""
    rng = np.random.default_rng(3)
    z = np.linspace(-1, 1, 400, dtype=np.float32)[:, None, None]
    y = np.linspace(-1, 1, 512, dtype=np.float32)[None, :, None]
    x = np.linspace(-1, 1, 512, dtype=np.float32)[None, None, :]
    body = (x**2 + y**2 < 0.8).astype(np.int16) * 1000 - 1000
    arr = np.broadcast_to(body, (400, 512, 512)).astype(np.int16)
    arr += (300 * np.sin(8 * z) * np.cos(6 * y)).astype(np.int16)
    arr += rng.integers(-20, 20, size=arr.shape, dtype=np.int16)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.7, 0.7, 1.0))
    img.SetOrigin((-179.0, -179.0, -200.0))
    return img


def bench_resample(quick: bool) -> None:
    print("(c) resampling a 512x512x400 int16 CT through a rigid transform", flush=True)
    t0 = time.perf_counter()
    ct = synthetic_ct()
    print(f"    (synthetic CT made in {time.perf_counter() - t0:.1f} s)", flush=True)
    # sagittal MR: i = anterior->posterior in-plane 1 mm, j = superior->inferior 1 mm, k = left->right 3 mm
    sag_dir = ((0.0, 0.0, 1.0), (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0))
    grids = {
        "sagittal 400x400x15, 1x1x3 mm": Grid((400, 400, 15), (1.0, 1.0, 3.0), (-21.0, 200.0, 200.0), sag_dir),
        "isotropic 300x300x300, 1 mm": Grid((300, 300, 300), (1.0, 1.0, 1.0), (-150.0, -150.0, -150.0),
                                            ((1.0, 0, 0), (0, 1.0, 0), (0, 0, 1.0))),
    }
    m = np.eye(4)
    m[:3, :3] = rotation(0.05, -0.03, 0.08)
    m[:3, 3] = [4.0, -6.0, 10.0]
    transform = LinearTransform(m).to_sitk()
    print(f"    {'target grid':32s} {'interp.':8s} {'cropped s':>9s} {'whole CT s':>10s} {'ratio':>6s}")
    for name, grid in grids.items():
        for how in ("linear", "bspline"):
            interp = sitk.sitkLinear if how == "linear" else sitk.sitkBSpline
            reps = 1 if quick else 3
            cropped = median_time(lambda g=grid, h=how: resample(ct, g, transform, h, -1024.0), reps)
            whole = median_time(lambda g=grid, i=interp: sitk.Resample(ct, reference_image(g), transform, i, -1024.0,
                                                                       ct.GetPixelID()),
                                1 if how == "bspline" else reps)
            print(f"    {name:32s} {how:8s} {cropped:9.2f} {whole:10.2f} {whole / cropped:5.1f}x", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--skip-resample", action="store_true", help="skip (c), the slowest part")
    args = ap.parse_args()
    print(f"SimpleITK {sitk.Version.VersionString()}, {sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()} threads")
    bench_fit(args.quick)
    bench_live(args.quick)
    if not args.skip_resample:
        bench_resample(args.quick)


if __name__ == "__main__":
    main()
