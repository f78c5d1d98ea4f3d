"""The project's own DDIM sampling loop (Song, Meng & Ermon, ICLR 2021).

Unlike MONAI's inferer it reports progress and checks for cancellation at every step, starts at
the last training timestep (T-1) with evenly spaced steps down to 0, and clips the predicted
image only to the valid intensity range of the target modality (never to [-1, 1]). eta = 0 is
deterministic; eta = 1 is Graf et al.'s (2023) stochastic setting.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..results import Cancelled
from .schedule import CosineSchedule

Denoiser = Callable[[torch.Tensor, int], torch.Tensor]  # (x_t, t) -> model output


def ddim_timesteps(num_train: int, steps: int) -> list[int]:
    """Evenly spaced timesteps from T-1 down to 0 (both included)."""
    if steps < 1:
        raise ValueError("steps must be at least 1")
    if steps == 1:
        return [num_train - 1]
    return sorted({round(i * (num_train - 1) / (steps - 1)) for i in range(steps)}, reverse=True)


def ddim_sample(
    denoise: Denoiser,
    noise: torch.Tensor,
    schedule: CosineSchedule,
    prediction: str,
    steps: int = 20,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    clip: tuple[float, float] | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> torch.Tensor:
    """Run DDIM from pure ``noise`` (x_T) and return the final predicted clean image."""
    x = noise
    ts = ddim_timesteps(schedule.num_steps, steps)
    x0 = x
    for n, t in enumerate(ts):
        if cancelled is not None and cancelled():
            raise Cancelled(f"cancelled at step {n} of {len(ts)}")
        x0, eps = schedule.split(prediction, denoise(x, t), x, t)
        if clip is not None:
            x0 = x0.clamp(*clip)
            a_t = float(schedule.alpha_bar(t))
            eps = (x - math.sqrt(a_t) * x0) / max(math.sqrt(1 - a_t), 1e-8)
        if n + 1 < len(ts):
            t_prev = ts[n + 1]
            a_t, a_p = float(schedule.alpha_bar(t)), float(schedule.alpha_bar(t_prev))
            sigma = eta * math.sqrt((1 - a_p) / (1 - a_t) * (1 - a_t / a_p))
            direction = math.sqrt(max(1 - a_p - sigma**2, 0.0)) * eps
            x = math.sqrt(a_p) * x0 + direction
            if sigma > 0:
                x = x + sigma * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        if progress is not None:
            progress(n + 1, len(ts))
    return x0
