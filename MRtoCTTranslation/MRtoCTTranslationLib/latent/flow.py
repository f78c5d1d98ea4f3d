"""Rectified flow in latent space (Liu, Gong & Liu, "Flow straight and fast: learning to generate
and transfer data with rectified flow", ICLR 2023): a few-step alternative to DDIM.

x_t = (1 - t) x0 + t eps for t in [0, 1]; the network predicts the velocity eps - x0 and sampling
integrates dx/dt from t = 1 (noise) to t = 0 with Euler steps. Straight paths make few steps
enough. The network's timestep input is t times the number of training timesteps, so the same
sinusoidal embedding covers the same range as in DDIM training.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..results import Cancelled

Velocity = Callable[[torch.Tensor, float], torch.Tensor]  # (x_t, t in [0, 1]) -> predicted eps - x0


def _per_sample(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return t.to(like.dtype).view(-1, *([1] * (like.dim() - 1)))


def flow_interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Point at time ``t`` (one per batch element) on the straight path from x0 to noise."""
    tt = _per_sample(t, x0)
    return (1 - tt) * x0 + tt * noise


def flow_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The velocity a rectified-flow network is trained to predict."""
    return noise - x0


def flow_times(steps: int) -> list[float]:
    """Evenly spaced times 1 -> 0 (``steps`` + 1 of them)."""
    if steps < 1:
        raise ValueError("steps must be at least 1")
    return [1.0 - i / steps for i in range(steps + 1)]


def rectified_flow_sample(velocity: Velocity, noise: torch.Tensor, steps: int = 10,
                          progress: Callable[[int, int], None] | None = None,
                          cancelled: Callable[[], bool] | None = None) -> torch.Tensor:
    """Euler integration from ``noise`` (t = 1) to data (t = 0); deterministic given the noise."""
    ts = flow_times(steps)
    x = noise
    for n in range(steps):
        if cancelled is not None and cancelled():
            raise Cancelled(f"cancelled at step {n} of {steps}")
        x = x + (ts[n + 1] - ts[n]) * velocity(x, ts[n])
        if progress is not None:
            progress(n + 1, steps)
    return x
