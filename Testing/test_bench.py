"""``mrtoct bench`` pieces: FLOP counting, the reference convolution, and the denoiser part end to end."""

from __future__ import annotations

import math

import pytest
import torch
from cpu_kinds import AVX2

from mrtoct.bench import PARTS, _goal, conv_throughput, denoiser_flops, run_bench, time_breakdown
from mrtoct.main import main
from MRtoCTTranslationLib.precision import CPUFeatures, Precision

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves


class _OneConv(torch.nn.Module):
    """A denoiser-shaped module (x_t, condition, t) whose FLOPs are known: one 3x3x3 convolution."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv3d(2, 5, 3, padding=1)

    def forward(self, x: torch.Tensor, c: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([x, c], 1))


def test_denoiser_flops_counts_a_convolution_exactly():
    assert denoiser_flops(_OneConv(), (1, 1, 6, 4, 2)) == 2 * 2 * 5 * 27 * 6 * 4 * 2


def test_time_breakdown_puts_a_convolution_under_convolutions():
    net, x = _OneConv(), torch.randn(1, 1, 24, 24, 24)
    with torch.inference_mode():
        shares = time_breakdown(lambda: net(x, x, None))
    assert shares["convolutions"] > 0.5 and shares["attention"] == 0.0 and shares["normalisation and activation"] == 0.0
    assert math.isclose(sum(shares.values()), 1.0)


def test_reference_convolution_throughput_is_measured_in_both_precisions():
    for p in (None, Precision("bf16", "cpu", "bf16", True, "test")):
        g = conv_throughput(channels=8, size=(12, 12, 12), precision=p)
        assert math.isfinite(g) and g > 0.01


def test_denoiser_part_reports_the_cpu_flops_time_and_efficiency(capsys):
    lines: list[str] = []
    res = run_bench("ddim3d-default", parts=("denoiser",), out=lines.append)
    feats = CPUFeatures.detect()
    assert lines[0].startswith(f"CPU: {feats.describe()}") and f"precision {res['precision']} on cpu" in lines[0]
    measured = ["fp32"] + (["bf16"] if feats.native_bf16 else [])  # this machine's own answer
    for tag in measured:
        r = res[f"denoiser_{tag}"]
        assert 18 < r["gflop"] < 23  # the bundled 3D denoiser on one 64x64x16 window (its training patch)
        assert r["efficiency"] == r["gflops"] / r["conv_gflops"] and r["seconds_per_eval"] > 0
        assert r["window_batch"] == 2 and r["seconds_per_window_batched"] > 0  # the default batch, side by side
        shares = r["time_shares"]  # where one batched call's time goes
        assert list(shares) == ["convolutions", "normalisation and activation", "attention", "other"]
        assert math.isclose(sum(shares.values()), 1.0) and shares["convolutions"] > 0.3 and shares["attention"] > 0
    # the CPU; fp32, its batched line and its breakdown; then the same for bf16, or why bf16 was skipped
    assert "translate_demo_case" not in res and len(lines) == (7 if feats.native_bf16 else 5)
    assert lines[1].startswith("denoiser fp32:") and "one window a call" in lines[1]
    assert "(64, 64, 16) window (8 per step on (100, 100, 24))" in lines[1]
    assert lines[2].startswith("denoiser fp32, 2 windows a call (the default):") and "(goal >= 70 %)" in lines[2]
    assert lines[3].startswith("denoiser fp32 time: convolutions ") and " attention " in lines[3]
    gflop = f"{res['denoiser_fp32']['gflop']:.1f} GFLOP"  # the same network in both precisions
    assert lines[4].startswith("denoiser bf16: " + (gflop if feats.native_bf16 else "skipped, not native"))
    with pytest.raises(SystemExit):  # argparse names the valid parts
        main(["bench", "--parts", "nothing"])
    assert "invalid choice: 'nothing'" in capsys.readouterr().err and "spine" in PARTS


def test_without_native_bf16_the_bench_measures_fp32_only_and_says_why(monkeypatch):
    monkeypatch.setattr(CPUFeatures, "detect", classmethod(lambda cls: AVX2))
    lines: list[str] = []
    res = run_bench("ddim3d-default", parts=("denoiser",), out=lines.append)
    assert res["precision"] == "fp32" and res["cpu_capability"] == "AVX2" and not res["native_bf16"]
    assert "denoiser_fp32" in res and "denoiser_bf16" not in res
    assert lines[4].startswith("denoiser bf16: skipped, not native on this CPU (CPU capability AVX2")


def test_parts_that_do_not_fit_the_time_budget_are_skipped():
    lines: list[str] = []
    res = run_bench("ddim3d-default", parts=("monai", "spine"), out=lines.append, budget_s=0.5, precision="fp32")
    assert "monai_recipe" not in res and "whole_spine" not in res
    assert lines[1:] == ["plain MONAI recipe: skipped, less than a minute of the time budget left",
                         "whole-spine run: skipped, less than two minutes of the time budget left"]


def test_goals_are_judged_at_1_mm_only():
    assert _goal(29.9, 30, "s", 1.0) == "goal at 1 mm <= 30 s: met"
    assert _goal(30.1, 30, "s", 1.0) == "goal at 1 mm <= 30 s: NOT met"
    assert _goal(1.0, 30, "s", 2.0) == "the goal of <= 30 s is set for a 1 mm model, this one is 2.0 mm"


def test_a_child_reports_its_own_peak_memory_not_its_parent_s():
    """A parent holding 600 MB starts a child that holds little: the child's peak must be its own."""
    import json
    import subprocess
    import sys

    from mrtoct.bench import peak_rss_mb

    ballast = bytearray(600 * 1024 * 1024)
    ballast[::4096] = b"\x01" * len(ballast[::4096])  # touch every page so it is resident
    assert peak_rss_mb() > 600
    out = subprocess.run([sys.executable, "-c", "import json; from mrtoct.bench import peak_rss_mb; "
                          "print(json.dumps(peak_rss_mb()))"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) < 300
    del ballast
