"""The cosine noise schedule and conversions between what a denoiser can predict.

Cosine schedule of Nichol & Dhariwal (ICML 2021), as in Graf et al. (Eur Radiol
Exp 2023): T = 1000, s = 0.008, betas clipped at 0.999. A denoiser predicts the clean image
x0 ("image" mode, the paper's best), the noise eps ("noise" mode) or v = sqrt(a) eps - sqrt(1-a)
x0 ("v" mode, Salimans & Ho, ICLR 2022).
"""

from __future__ import annotations

import math

import torch

PREDICTIONS = ("image", "noise", "v")


class CosineSchedule:
    """Cumulative signal levels alpha_bar(t) for t = 0 .. T-1."""

    def __init__(self, num_steps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> None:
        self.num_steps = num_steps
        f = [math.cos(((t / num_steps) + s) / (1 + s) * math.pi / 2) ** 2 for t in range(num_steps + 1)]
        betas = [min(1 - f[t + 1] / f[t], max_beta) for t in range(num_steps)]
        a = 1.0
        cum = []
        for b in betas:
            a *= 1 - b
            cum.append(a)
        self.alphas_cumprod = torch.tensor(cum, dtype=torch.float64)

    def alpha_bar(self, t: torch.Tensor | int) -> torch.Tensor:
        return self.alphas_cumprod[torch.as_tensor(t, dtype=torch.long)]

    def _per_sample(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        a = self.alpha_bar(torch.as_tensor(t).cpu()).to(device=like.device, dtype=like.dtype)
        return a.view(-1, *([1] * (like.dim() - 1)))

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(a) x0 + sqrt(1-a) eps, with ``t`` per batch element."""
        a = self._per_sample(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def target(self, prediction: str, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """What a denoiser in ``prediction`` mode is trained to output."""
        if prediction == "image":
            return x0
        if prediction == "noise":
            return noise
        a = self._per_sample(t, x0)
        return a.sqrt() * noise - (1 - a).sqrt() * x0

    def split(self, prediction: str, output: torch.Tensor, x_t: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(x0, eps) implied by a denoiser output at timestep ``t``."""
        a = float(self.alpha_bar(t))
        sa, s1a = math.sqrt(a), math.sqrt(1 - a)
        if prediction == "image":
            x0 = output
            eps = (x_t - sa * x0) / max(s1a, 1e-8)
        elif prediction == "noise":
            eps = output
            x0 = (x_t - s1a * eps) / sa
        elif prediction == "v":
            x0 = sa * x_t - s1a * output
            eps = s1a * x_t + sa * output
        else:
            raise ValueError(f"unknown prediction mode {prediction!r}: use one of {PREDICTIONS}")
        return x0, eps
