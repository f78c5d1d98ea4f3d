"""Denoise a whole volume of any size in overlapping windows blended with Gaussian weights.

Called at every DDIM step on the full noisy volume (one noise field for the whole volume), so
windows never produce seams: each step's blended prediction feeds the next step everywhere.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch


def gaussian_weight(size: Sequence[int], sigma_scale: float = 0.125) -> torch.Tensor:
    """Separable Gaussian importance map peaking at the window centre (never zero at the edges)."""
    w = torch.ones(())
    for n in size:
        x = torch.arange(n, dtype=torch.float32) - (n - 1) / 2
        g = torch.exp(-0.5 * (x / max(n * sigma_scale, 1e-3)) ** 2)
        w = w.unsqueeze(-1) * g
    return (w / w.max()).clamp_min(1e-3)


def window_starts(length: int, window: int, overlap: float) -> list[int]:
    """Start indices covering ``length`` with windows of ``window`` and at least ``overlap``."""
    if length <= window:
        return [0]
    step = max(1, int(window * (1 - overlap)))
    starts = list(range(0, length - window, step)) + [length - window]
    return sorted(set(starts))


def sliding_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    window: Sequence[int],
    overlap: float = 0.25,
    out_channels: int = 1,
    batch: int = 1,
) -> torch.Tensor:
    """Apply ``fn`` (N, C, *window) -> (N, out, *window) over ``inputs`` (B, C, *spatial), ``batch``
    windows per call (stacked along the first axis: N = batch x B, fewer for the last call).

    Batching windows gives the convolutions more work per call: on 2 CPU cores, 2 windows a call
    measured 1.3x faster per window in fp32 (with AVX-512 and with AVX2 kernels) and the same in bf16
    (``mrtoct bench`` prints the ratio on the machine it runs on). Spatial sizes smaller than the
    window are processed whole (the caller pads them to what the network needs).
    """
    spatial = inputs.shape[2:]
    win = [min(w, s) for w, s in zip(window, spatial, strict=True)]
    weight = gaussian_weight(win).to(inputs.device)
    out = torch.zeros((inputs.shape[0], out_channels, *spatial), dtype=torch.float32, device=inputs.device)
    norm = torch.zeros(spatial, dtype=torch.float32, device=inputs.device)
    ranges = [window_starts(s, w, overlap) for s, w in zip(spatial, win, strict=True)]
    slices = [tuple(slice(a, a + w) for a, w in zip(start, win, strict=True)) for start in itertools.product(*ranges)]
    for first in range(0, len(slices), max(1, batch)):
        group = slices[first:first + max(1, batch)]
        preds = fn(torch.cat([inputs[(slice(None), slice(None), *sl)] for sl in group])).float()
        for pred, sl in zip(preds.split(inputs.shape[0]), group, strict=True):
            out[(slice(None), slice(None), *sl)] += pred * weight
            norm[sl] += weight
    return out / norm
