"""``mrtoct bench`` pieces: FLOP counting, the reference convolution, and the denoiser part end to end."""

from __future__ import annotations

import math

import pytest
import torch

from MRtoCTTranslationLib.bench import PARTS, conv_throughput, denoiser_flops, run_bench
from MRtoCTTranslationLib.cli.main import main


class _OneConv(torch.nn.Module):
    """A denoiser-shaped module (x_t, condition, t) whose FLOPs are known: one 3x3x3 convolution."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv3d(2, 5, 3, padding=1)

    def forward(self, x: torch.Tensor, c: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([x, c], 1))


def test_denoiser_flops_counts_a_convolution_exactly():
    assert denoiser_flops(_OneConv(), (1, 1, 6, 4, 2)) == 2 * 2 * 5 * 27 * 6 * 4 * 2


def test_reference_convolution_throughput_is_measured_in_both_precisions():
    for bf16 in (False, True):
        g = conv_throughput(channels=8, size=(12, 12, 12), bf16=bf16)
        assert math.isfinite(g) and g > 0.01


def test_denoiser_part_reports_flops_time_and_efficiency(capsys):
    lines: list[str] = []
    res = run_bench("ddim3d-default", parts=("denoiser",), out=lines.append)
    for tag in ("fp32", "bf16"):
        r = res[f"denoiser_{tag}"]
        assert 18 < r["gflop"] < 23  # the bundled 3D denoiser on one 64x64x16 window (its training patch)
        assert r["efficiency"] == r["gflops"] / r["conv_gflops"] and r["seconds_per_eval"] > 0
    assert "translate_demo_case" not in res and len(lines) == 2 and "goal >= 60 %" in lines[0]
    assert "(64, 64, 16) window (8 per step on (100, 100, 24))" in lines[0]
    with pytest.raises(SystemExit):  # argparse names the valid parts
        main(["bench", "--parts", "nothing"])
    assert "invalid choice: 'nothing'" in capsys.readouterr().err and "spine" in PARTS
