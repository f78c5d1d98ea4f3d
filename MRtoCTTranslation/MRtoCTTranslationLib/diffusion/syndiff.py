"""SynDiff: adversarial diffusion for unpaired MR-to-CT translation (Özbey, Dalmaz, Dar, Bedel, Özturk,
Güngör, Çukur, "Unsupervised medical image translation with adversarial diffusion models", IEEE TMI 2023).

A diffusive generator turns noise into CT in a few large steps (4 by default, against DDIM's 20-1000):
at step i it predicts the clean CT x0 from the noisy x_i and the MR it is conditioned on, and x_{i-1}
is drawn from the Gaussian posterior q(x_{i-1} | x_i, x0). With steps that large the true reverse
step is not Gaussian, so no L1 on the noise can train it; a discriminator that sees (x_{i-1}, x_i, i)
judges whether x_{i-1} came from the data or from the generator (the denoising diffusion GAN of Xiao,
Kreis & Vahdat, ICLR 2022), with the non-saturating loss.

Without pairs there is no MR to condition on while training: a non-diffusive generator (a ResNet
generator, as CUT's) turns the real CT into an MR estimate, which an MR discriminator keeps MR-like;
the diffusive generator, conditioned on that estimate, must give the CT back (L1 cycle consistency).
At inference the real MR takes the estimate's place. The paper trains this arm and its mirror image
(CT to MR) together; only this arm is needed to translate MR to CT, and it is what is trained here.
Also left out: the paper's latent input z to the generator, and its R1 penalty on the discriminator.

The noise levels are the variance-preserving ones of the paper's code base (beta from 0.1 to 20,
alpha_bar(s) = exp(-10 * s^2 - 0.1 * s) at s = i / steps); the last step is deterministic (x0).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..results import Cancelled
from .config import NetworkConfig
from .cut import ResnetGenerator

BETA_MIN, BETA_MAX = 0.1, 20.0
DEFAULT_STEPS = 4


class SynDiffSchedule:
    """Signal levels alpha_bar_i for i = 0 (clean) .. ``steps`` (almost pure noise) and the posterior."""

    def __init__(self, steps: int = DEFAULT_STEPS) -> None:
        if steps < 1:
            raise ValueError(f"SynDiff needs at least 1 step, got {steps}")
        self.steps = steps
        s = torch.arange(steps + 1, dtype=torch.float64) / steps
        self.alpha_bar = torch.exp(-0.5 * (BETA_MAX - BETA_MIN) * s**2 - BETA_MIN * s)

    def beta(self, i: int) -> float:
        return 1.0 - float(self.alpha_bar[i] / self.alpha_bar[i - 1])

    def noisy_pair(self, x0: torch.Tensor, i: torch.Tensor, generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """(x_{i-1}, x_i) of clean ``x0`` for step ``i`` (1..steps) per batch element: x_{i-1} from
        q(x_{i-1} | x0), then x_i from q(x_i | x_{i-1})."""
        shape = (-1,) + (1,) * (x0.dim() - 1)
        a_prev = self.alpha_bar[i - 1].to(x0).view(shape)
        beta = (1.0 - self.alpha_bar[i] / self.alpha_bar[i - 1]).to(x0).view(shape)
        prev = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * _randn(x0, generator)
        return prev, (1 - beta).sqrt() * prev + beta.sqrt() * _randn(x0, generator)

    def posterior(self, x0: torch.Tensor, x_i: torch.Tensor, i: torch.Tensor,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """A draw of x_{i-1} from q(x_{i-1} | x_i, x0) (DDPM's posterior; x0 itself at i = 1)."""
        shape = (-1,) + (1,) * (x0.dim() - 1)
        a, a_prev = self.alpha_bar[i].to(x0).view(shape), self.alpha_bar[i - 1].to(x0).view(shape)
        beta = 1.0 - a / a_prev
        mean = (a_prev.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - a_prev) * x_i) / (1 - a)
        var = beta * (1 - a_prev) / (1 - a)
        return mean + var.sqrt() * _randn(x0, generator)


def _randn(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(like.shape, generator=generator, dtype=like.dtype).to(like.device)


def timestep_input(i: torch.Tensor, steps: int) -> torch.Tensor:
    """The diffusive generator's timestep: step i spread over the 0..1000 range its embedding was made for."""
    return (i * (1000 // steps)).long()


def syndiff_sample(denoise: Callable[[torch.Tensor, int], torch.Tensor], noise: torch.Tensor,
                   schedule: SynDiffSchedule, generator: torch.Generator, clip: tuple[float, float] | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   cancelled: Callable[[], bool] | None = None) -> torch.Tensor:
    """From pure ``noise`` to the CT in ``schedule.steps`` steps; ``denoise(x_i, i)`` predicts x0."""
    x, x0 = noise, noise
    for n, i in enumerate(range(schedule.steps, 0, -1)):
        if cancelled is not None and cancelled():
            raise Cancelled(f"cancelled at step {n} of {schedule.steps}")
        x0 = denoise(x, i)
        if clip is not None:
            x0 = x0.clamp(*clip)
        if i > 1:
            x = schedule.posterior(x0, x, torch.full((x.shape[0],), i), generator)
        if progress is not None:
            progress(n + 1, schedule.steps)
    return x0


def source_generator(cfg: NetworkConfig) -> ResnetGenerator:
    """The non-diffusive generator (CT -> MR estimate): CUT's ResNet generator, ``extra.nd_channels``
    wide (32) with ``extra.nd_blocks`` residual blocks (6)."""
    return ResnetGenerator(NetworkConfig(kind="cut", spatial_dims=cfg.spatial_dims,
                                         channels=(int(cfg.extra.get("nd_channels", 32)),),
                                         num_res_blocks=int(cfg.extra.get("nd_blocks", 6))))


class SynDiffObjective(nn.Module):
    """Both generators in one forward pass (one DDP module, one call a step): the MR estimate of a CT and
    the diffusive generator's x0 from (x_i, that estimate, i)."""

    def __init__(self, net: nn.Module, source: ResnetGenerator, steps: int) -> None:
        super().__init__()
        self.net, self.source, self.steps = net, source, steps

    def forward(self, ct: torch.Tensor, x_i: torch.Tensor, i: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mr_estimate = self.source(ct)
        return mr_estimate, self.net(x_i, mr_estimate, timestep_input(i, self.steps))


class SynDiffCritics(nn.Module):
    """Both discriminators in one forward pass: the diffusion step's (x_{i-1}, x_i, i / steps as a
    channel) and the MR estimate's realism."""

    def __init__(self, diffusion: nn.Module, mr: nn.Module, steps: int) -> None:
        super().__init__()
        self.diffusion, self.mr, self.steps = diffusion, mr, steps

    def forward(self, prev: torch.Tensor, x_i: torch.Tensor, i: torch.Tensor, mr: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        level = (i.to(x_i) / self.steps).view((-1,) + (1,) * (x_i.dim() - 1)).expand_as(x_i)
        return self.diffusion(torch.cat([prev, x_i, level], 1))[-1], self.mr(mr)[-1]


def nonsaturating(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """The non-saturating GAN loss: softplus(-D) for what should score real, softplus(D) for fake."""
    return nn.functional.softplus(-scores if real else scores).mean()

