"""The 3D autoencoder shared by every modality (Kim & Park, WACV 2024, image-compression stage).

KL-regularised (a VAE with a small KL weight, Rombach et al., CVPR 2022) rather than vector
quantised, although ALDM uses a VQ-GAN: on a small dataset a codebook tends to collapse to a few
codes, ALDM's own release switches the codebook loss off (``codebook_weight: 0``), and a
continuous, smooth latent suits the Gaussian diffusion that follows. MONAI's AutoencoderKL with
``len(channels) - 1`` stride-2 levels (4x per axis by default) and no attention or non-local
blocks, so memory grows only linearly with the volume on the CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from .architecture import AutoencoderConfig


class LatentAutoencoder(nn.Module):
    """Image (B, 1, *S) <-> latent (B, latent_channels, *S / factor)."""

    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        from monai.networks.nets import AutoencoderKL

        self.cfg = cfg
        n = len(cfg.channels)
        self.net = AutoencoderKL(
            spatial_dims=3, in_channels=1, out_channels=1, channels=tuple(cfg.channels),
            num_res_blocks=cfg.num_res_blocks, attention_levels=(False,) * n, latent_channels=cfg.latent_channels,
            norm_num_groups=cfg.norm_num_groups, with_encoder_nonlocal_attn=False, with_decoder_nonlocal_attn=False,
            use_flash_attention=True,
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and standard deviation."""
        return self.net.encode(x)

    def sample(self, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """A latent drawn from the posterior (reparameterisation, differentiable)."""
        return mu + sigma * torch.randn_like(sigma)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.net.decode(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction from a posterior sample, mu, sigma)."""
        mu, sigma = self.encode(x)
        return self.decode(self.sample(mu, sigma)), mu, sigma


def kl_loss(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) summed over a latent, averaged over the batch."""
    var = sigma.float() ** 2
    kl = 0.5 * (mu.float() ** 2 + var - torch.log(var.clamp_min(1e-12)) - 1.0)
    return kl.flatten(1).sum(1).mean()
