"""Latent translation of a whole volume: encode the source, switch it to the target with SPADE,
sample the target latent (the project's DDIM loop, or rectified-flow Euler steps), decode.

Kim & Park (WACV 2024) translate whole volumes without patches; so does this, on the model grid
padded to the architecture's multiple. Latent values are not bounded like HU, so the DDIM loop
never clips the predicted latent.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..diffusion.ddim import ddim_sample
from ..diffusion.schedule import CosineSchedule
from ..precision import Precision, as_precision
from .flow import rectified_flow_sample
from .networks import LatentNetworks

Progress = Callable[[int, int], None]


@torch.inference_mode()
def sample_target(nets: LatentNetworks, source: torch.Tensor, target: torch.Tensor, schedule: CosineSchedule,
                  steps: int = 20, eta: float = 0.0, seed: int = 0, precision: Precision | str = "fp32",
                  progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> torch.Tensor:
    """Target-modality network values (B, 1, *S) for source values (B, 1, *S), sizes a multiple of
    ``nets.arch.multiple``; the same seed gives the same output (eta = 0, or eta > 0 on one device)."""
    arch, device = nets.arch, source.device
    prec = as_precision(precision, device)
    scale = float(arch.latent_scale)
    with prec.autocast():
        mu, _ = nets.autoencoder.encode(source)
        like = nets.spade(mu, target)
    z_src, z_like = mu.float() * scale, like.float() * scale
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    noise = torch.randn(z_src.shape, generator=gen).to(device)
    b = source.shape[0]
    if arch.unet.prediction == "flow":
        def velocity(x: torch.Tensor, t: float) -> torch.Tensor:
            tt = torch.full((b,), t * arch.unet.train_timesteps, device=device, dtype=torch.float32)
            with prec.autocast():
                return nets.unet(x, z_src, z_like, tt, target).float()

        z0 = rectified_flow_sample(velocity, noise, steps, progress, cancelled)
    else:
        def denoise(x: torch.Tensor, t: int) -> torch.Tensor:
            tt = torch.full((b,), t, device=device, dtype=torch.long)
            with prec.autocast():
                return nets.unet(x, z_src, z_like, tt, target).float()

        step_gen = gen if device.type == "cpu" else torch.Generator(device=device).manual_seed(int(seed))
        z0 = ddim_sample(denoise, noise, schedule, arch.unet.prediction, steps, eta, step_gen, clip=None,
                         progress=progress, cancelled=cancelled)
    with prec.autocast():
        return nets.autoencoder.decode(z0 / scale).float()
