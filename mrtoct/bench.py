"""``mrtoct bench``: how fast and how lean the translation engine is on this machine.

It first says what the CPU offers (PyTorch's capability, native bf16 or not) and which precision
``auto`` takes, then measures in one run, side by side:
1. the denoiser's FLOPs per evaluation (torch.utils.flop_counter), its time per evaluation, its
   efficiency against the throughput of a plain 3D convolution measured in the same run, and where the
   time goes (convolutions, normalisation and activation, attention, other; torch.profiler), in fp32
   and, where the hardware has it natively, in the reduced precision ``auto`` takes (emulated bf16 is
   skipped: it would only measure the emulation, 10x or more slower on AVX2);
2. the time and peak memory of translating the demo case (five lumbar levels, a sagittal 1x1x3 mm MR)
   to a synthetic CT on the MR grid, at the card's default steps and precision auto;
3. the same volume through the plain MONAI recipe (DiffusionModelUNet with default settings,
   DiffusionInferer, DDIMScheduler) and the ratio of the two;
4. the time and peak memory of translating a whole-spine (C1-S1) phantom MR the same way.
Translations run in a child process, so each peak memory is its own. The run keeps to a time budget
(10 minutes by default): the MONAI recipe runs only as many steps as fit and is scaled to the full
count, and a part that no longer fits is skipped with a message.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from MRtoCTTranslationLib.options import TranslationOptions
from MRtoCTTranslationLib.precision import Precision, choose_precision

from .bench_parts import BUDGET_S, PARTS

FP32 = Precision("fp32", "cpu", "fp32", True, "the reference")
GOAL_S = {"fp32": 60.0, "reduced": 30.0}  # the demo case at 1 mm: fp32 on AVX2, or native bf16
SPINE_GOAL_MB = 2048.0
BENCH_MODEL = "ddim3d-1mm"  # the goals are set at 1 mm, Graf et al.'s (2023) resolution
CATEGORIES = (("convolutions", ("conv",)), ("normalisation and activation", ("group_norm", "silu")),
              ("attention", ("attention", "softmax", "bmm")))


def _goal(value: float, goal: float, unit: str, spacing: float) -> str:
    """'goal at 1 mm <= 30 s: met', or why a coarser model is not held to it."""
    if spacing > 1.0:
        return f"the goal of <= {goal:.0f} {unit} is set for a 1 mm model, this one is {spacing} mm"
    return f"goal at 1 mm <= {goal:.0f} {unit}: {'met' if value <= goal else 'NOT met'}"


def median_time(fn, repeats: int = 3, warmup: bool = True) -> float:
    """Median wall time of ``fn`` over ``repeats`` calls (after one untimed call)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def conv_throughput(channels: int = 32, size: tuple[int, int, int] = (48, 48, 48), precision: Precision | None = None
                    ) -> float:
    """GFLOP/s of one Conv3d(channels, channels, 3) forward pass (2*MACs) in ``precision`` (fp32 when None),
    the better of the contiguous and the channels-last layout, so the reference is the best plain
    convolution this machine runs."""
    conv = torch.nn.Conv3d(channels, channels, 3, padding=1).eval()
    x = torch.randn(1, channels, *size)
    flops = 2 * channels * channels * 27 * int(np.prod(size))
    best = 0.0
    for layout in (torch.contiguous_format, torch.channels_last_3d):
        conv.to(memory_format=layout)
        xl = x.contiguous(memory_format=layout)
        with torch.inference_mode(), (precision or FP32).autocast():
            best = max(best, flops / median_time(lambda: conv(xl), repeats=5) / 1e9)  # noqa: B023
    return best


def time_breakdown(fn: Callable[[], object]) -> dict[str, float]:
    """Shares of one call's operator time by kind (``CATEGORIES``, then other), from torch.profiler's
    self times, so each operator counts once."""
    from torch.profiler import ProfilerActivity, profile

    os.environ.setdefault("KINETO_LOG_LEVEL", "99")  # the profiler's own start and stop lines are noise here

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    shares = dict.fromkeys([name for name, _ in CATEGORIES] + ["other"], 0.0)
    for event in prof.key_averages():
        kind = next((name for name, keys in CATEGORIES if any(k in event.key for k in keys)), "other")
        shares[kind] += event.self_cpu_time_total
    total = sum(shares.values()) or 1.0
    return {k: v / total for k, v in shares.items()}


def denoiser_flops(net: torch.nn.Module, shape: tuple[int, ...]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    x, c, t = torch.randn(shape), torch.randn(shape), torch.tensor([500])
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net(x, c, t)
    return int(counter.get_total_flops())


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB since it started its program: Linux's VmHWM. Not
    ``ru_maxrss``: after fork and exec Linux carries the parent's resident size at the fork into it,
    so a child of a large parent would report the parent's memory."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def translate_child(mr_path: str, model_spec: str | None, steps: int | None, target: str | None = None,
                    precision: str = "auto") -> None:
    """Child process: translate one MR (to ``target`` with a latent model; steps None: the card's); prints
    seconds and peak RSS (MB) as JSON."""
    import SimpleITK as sitk

    from MRtoCTTranslationLib.models.registry import default_model_name, resolve
    from MRtoCTTranslationLib.translator import load_model, translate_image

    model = load_model(resolve(model_spec or default_model_name()), "cpu")
    mr = sitk.ReadImage(mr_path)
    base = peak_rss_mb()
    t0 = time.perf_counter()
    translate_image(model, mr, TranslationOptions(steps=steps, eta=0.0, seed=0, target=target, precision=precision))
    print(json.dumps({"seconds": time.perf_counter() - t0, "baseline_rss_mb": base,
                      "peak_rss_mb": peak_rss_mb()}))


def measure_translation(mr_path: str, model_spec: str | None, steps: int | None, target: str | None = None,
                        precision: str = "auto") -> dict:
    """Seconds and peak RSS (MB) of one translation, run in a child process so the peak is its own."""
    return _child_json("translate_child", mr_path, model_spec, steps, target, precision)


def _child_json(func: str, *args: object) -> dict:
    """Call ``func`` of this module with ``args`` in a fresh Python process (so its peak memory is its
    own); its last line of output, parsed as JSON."""
    call = f"{func}({', '.join(map(repr, args))})"
    r = subprocess.run([sys.executable, "-c", f"from mrtoct.bench import {func}; {call}"],
                       capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-1000:])
    return json.loads(r.stdout.strip().splitlines()[-1])




@dataclass
class BenchRun:
    """What every part of one ``mrtoct bench`` run shares: the model, the precision, the demo case and its
    grid, the time budget, and the numbers and lines so far."""

    model: Any
    model_spec: str | None
    precision: Precision
    features: Any  # precision.CPUFeatures
    steps: int
    case: Path
    spatial: tuple[int, ...]  # the demo case's model grid, padded to the network's multiple
    window: tuple[int, ...]  # one denoiser evaluation
    n_windows: int
    out: Callable[[str], None]
    budget_s: float
    res: dict = field(default_factory=dict)
    start: float = field(default_factory=time.perf_counter)

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.start)


def run_bench(model_spec: str | None, steps: int | None = None, out=print, parts: tuple[str, ...] = PARTS,
              precision: str = "auto", budget_s: float = BUDGET_S) -> dict:
    """Run the chosen parts (all by default) and return their numbers; each line is also passed to ``out``.
    ``steps`` None takes the model card's default; the run keeps within ``budget_s`` seconds."""
    import SimpleITK as sitk

    from MRtoCTTranslationLib.diffusion.sliding import window_starts
    from MRtoCTTranslationLib.image_models import fit_window
    from MRtoCTTranslationLib.models.registry import default_model_name, list_models, resolve
    from MRtoCTTranslationLib.precision import CPUFeatures
    from MRtoCTTranslationLib.translator import load_model
    from SpineCoreLib.orientation import model_grid
    from SpineCoreLib.phantom import PhantomOptions, generate_case

    start = time.perf_counter()
    torch.manual_seed(0)
    prec = choose_precision(precision, "cpu")
    feats = CPUFeatures.detect()
    out(f"CPU: {feats.describe()}; {torch.get_num_threads()} threads; {prec.describe()}")
    bundled = any(m["name"] == BENCH_MODEL and m.get("available") for m in list_models())
    model_spec = model_spec or (BENCH_MODEL if bundled else default_model_name())
    model = load_model(resolve(model_spec), "cpu")
    steps = model.default_steps if steps is None else steps
    with tempfile.TemporaryDirectory() as tmp:
        case = generate_case(Path(tmp), "bench", 7, PhantomOptions())["truth"].parent
        grid = model_grid(sitk.ReadImage(str(case / "mr_t2w.nii.gz")), model.spacing)
        d = model.cfg.divisor
        spatial = tuple(int(np.ceil(s / d) * d) for s in grid.array_shape)
        # one denoiser evaluation is one inference window of the card (the whole volume if smaller)
        win = tuple(fit_window(model.window, spatial, d)) if model.cfg.spatial_dims == 3 else spatial
        n_windows = int(np.prod([len(window_starts(s, w, model.overlap)) for s, w in zip(spatial, win, strict=True)]))
        run = BenchRun(model, model_spec, prec, feats, steps, case, spatial, win, n_windows, out, budget_s, start=start)
        run.res = {"threads": torch.get_num_threads(), "cpu": feats.describe(), "cpu_capability": feats.capability,
                   "native_bf16": feats.native_bf16, "precision": prec.name, "steps": steps}
        for name, part in (("denoiser", _denoiser_part), ("translate", _translate_part), ("monai", _monai_part),
                           ("spine", _spine_part)):
            if name in parts:
                part(run)
    run.res["seconds"] = time.perf_counter() - start
    return run.res


def _denoiser_part(run: BenchRun) -> None:
    """FLOPs, time per evaluation and efficiency against a plain convolution: in fp32, and in the reduced
    precision auto takes where it is native (an emulated one would measure only the emulation)."""
    shape = (1, 1, *run.window)
    flops = denoiser_flops(run.model.net, shape)
    x, c, t = torch.randn(shape), torch.randn(shape), torch.tensor([500])
    prec, feats = run.precision, run.features
    for p in [FP32] + ([prec] if prec.reduced and prec.native else []):
        with torch.inference_mode(), p.autocast():
            per_eval = median_time(lambda: run.model.net(x, c, t), repeats=5)  # noqa: B023
        conv = conv_throughput(precision=p)
        gflops = flops / per_eval / 1e9
        run.res[f"denoiser_{p.name}"] = {"gflop": flops / 1e9, "seconds_per_eval": per_eval, "gflops": gflops,
                                         "conv_gflops": conv, "efficiency": gflops / conv}
        run.out(f"denoiser {p.name}: {flops / 1e9:.1f} GFLOP per evaluation on a {run.window} window ({run.n_windows} "
                f"per step on {run.spatial}), {per_eval:.2f} s ({gflops:.0f} GFLOP/s); plain "
                f"Conv3d {conv:.0f} GFLOP/s -> efficiency {gflops / conv:.0%} one window a call")
        _batched_windows(run, p, per_eval, flops, conv)
    if prec.reduced and not prec.native:
        run.out(f"denoiser {prec.name}: skipped, emulated on this CPU ({feats.describe()}): it would measure "
                "only the emulation")
    elif not prec.reduced and not feats.native_bf16:
        run.out(f"denoiser bf16: skipped, not native on this CPU ({feats.describe()}); emulated bf16 is 2x "
                "(AVX-512) to 10x or more (AVX2) slower than fp32")


def _batched_windows(run: BenchRun, p: Precision, single_s: float, flops: int, conv: float) -> None:
    """Time per window with ``TranslationOptions.window_batch`` windows a call, against one a call, and
    where that call's time goes."""
    n = TranslationOptions().window_batch
    shape = (n, 1, *run.window)
    x, c, t = torch.randn(shape), torch.randn(shape), torch.full((n,), 500)
    with torch.inference_mode(), p.autocast():
        per_window = median_time(lambda: run.model.net(x, c, t), repeats=3) / n
        shares = time_breakdown(lambda: run.model.net(x, c, t))
    gflops = flops / per_window / 1e9
    run.res[f"denoiser_{p.name}"] |= {"window_batch": n, "seconds_per_window_batched": per_window,
                                       "batched_efficiency": gflops / conv, "time_shares": shares}
    if n > 1:
        run.out(f"denoiser {p.name}, {n} windows a call (the default): {per_window:.2f} s a window, "
                f"{single_s / per_window:.2f}x one a call -> efficiency {gflops / conv:.0%} (goal >= 70 %)")
    run.out(f"denoiser {p.name} time: " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()))


def _grid_shape(mr_path: Path, spacing: float) -> tuple[int, ...]:
    import SimpleITK as sitk

    from SpineCoreLib.orientation import model_grid

    return tuple(model_grid(sitk.ReadImage(str(mr_path)), spacing).array_shape)


def _translate_part(run: BenchRun) -> None:
    """The demo case end to end, on the MR grid, in a child process so the peak memory is its own."""
    mr = run.case / "mr_t2w.nii.gz"
    child = measure_translation(str(mr), run.model_spec, run.steps, None, run.precision.name)
    ours, goal = child["seconds"], GOAL_S["reduced" if run.precision.reduced else "fp32"]
    run.res["translate_demo_case"] = {"steps": run.steps, "precision": run.precision.name, "goal_s": goal,
                                      "spacing_mm": run.model.spacing, "model": run.model.name, **child}
    run.out(f"translate demo case (five lumbar levels, sagittal 1x1x3 mm MR, {_grid_shape(mr, run.model.spacing)} "
            f"voxels at {run.model.spacing} mm, {run.model.name}, {run.steps} steps, {run.precision.name}) to CT on the "
            f"MR grid: {ours:.1f} s ({_goal(ours, goal, 's', run.model.spacing)}); peak RSS "
            f"of that process {child['peak_rss_mb']:.0f} MB (of which {child['baseline_rss_mb']:.0f} MB before "
            "translating)")


def _monai_part(run: BenchRun) -> None:
    """The plain MONAI recipe at the same size (padded to its multiple of 8), steps and precision; as many
    steps as the budget allows, scaled to the full count. Its attention runs through torch's
    scaled-dot-product kernel: at 1 mm the recipe's attention over 30 000 tokens would otherwise hold a
    29 GB matrix."""
    from monai.inferers import DiffusionInferer
    from monai.networks.nets import DiffusionModelUNet
    from monai.networks.schedulers import DDIMScheduler

    net = DiffusionModelUNet(spatial_dims=3, in_channels=2, out_channels=1, use_flash_attention=True).eval()
    plain_shape = (1, 1, *(int(np.ceil(s / 8) * 8) for s in run.spatial))
    noise, cond = torch.randn(plain_shape), torch.randn(plain_shape)
    prec, steps = run.precision, run.steps
    if run.left() < 60:
        run.out("plain MONAI recipe: skipped, less than a minute of the time budget left")
        return
    with torch.inference_mode(), prec.autocast():
        one = median_time(lambda: net(torch.cat([noise, cond], 1), torch.tensor([500])), repeats=1, warmup=False)
    if run.left() < 3 * one:
        run.out("plain MONAI recipe: skipped, it does not fit in the time budget")
        return
    run_steps = max(1, min(steps, int(0.5 * run.left() / max(one, 1e-6)) - 2))
    sched = DDIMScheduler(num_train_timesteps=1000)
    sched.set_timesteps(run_steps)
    t0 = time.perf_counter()
    with torch.inference_mode(), prec.autocast():
        DiffusionInferer(sched).sample(input_noise=noise, diffusion_model=net, scheduler=sched, conditioning=cond,
                                       mode="concat", verbose=False)
    plain = (time.perf_counter() - t0) * steps / run_steps
    ours = run.res.get("translate_demo_case", {}).get("seconds")
    run.res["monai_recipe"] = {"shape": plain_shape[2:], "seconds": plain, "steps_run": run_steps,
                               "ratio": plain / ours if ours else None}
    scaled = "" if run_steps == steps else f" (ran {run_steps} steps within the budget, scaled)"
    run.out(f"plain MONAI recipe (DiffusionModelUNet defaults, DiffusionInferer, DDIM), {plain_shape[2:]}, "
            f"{steps} steps, {prec.name}: {plain:.1f} s{scaled}" + (f" -> ours is {plain / ours:.1f}x faster" if ours else ""))


def _spine_part(run: BenchRun) -> None:
    """A whole-spine (C1-S1) phantom MR translated like the demo case, in a child process (its own peak
    memory); the phantom is made first, in this process."""
    from SpineCoreLib.phantom import WHOLE_SPINE, PhantomOptions, generate_case

    if run.left() < 120:
        run.out("whole-spine run: skipped, less than two minutes of the time budget left")
        return
    mr = generate_case(run.case.parent, "spine", 7, PhantomOptions(levels=WHOLE_SPINE))["truth"].parent / "mr_t2w.nii.gz"
    try:
        w = measure_translation(str(mr), run.model_spec, run.steps, None, run.precision.name)
    except RuntimeError as exc:
        run.out(f"whole-spine run failed: {str(exc)[-500:]}")
        return
    shape = _grid_shape(mr, run.model.spacing)
    run.res["whole_spine"] = {"shape": shape, "voxels": int(np.prod(shape)), "spacing_mm": run.model.spacing,
                              "goal_mb": SPINE_GOAL_MB, **w}
    run.out(f"whole spine C1-S1 ({shape} voxels at {run.model.spacing} mm, {np.prod(shape) / 1e6:.1f} M, {run.steps} "
            f"steps, {run.precision.name}): {w['seconds']:.0f} s, peak RSS {w['peak_rss_mb']:.0f} MB "
            f"({_goal(w['peak_rss_mb'], SPINE_GOAL_MB, 'MB', run.model.spacing)})")
