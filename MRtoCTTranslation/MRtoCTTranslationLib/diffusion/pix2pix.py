"""Pix2Pix baselines in 2D and 3D (Isola et al., CVPR 2017): a U-Net generator and a conditional
PatchGAN, least-squares adversarial loss (Mao et al., ICCV 2017) plus L1, optionally SSIM, as the
baseline of Graf et al. (2023) used them.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import NetworkConfig


class UNetGenerator(nn.Module):
    """MR -> CT in one pass: MONAI's U-Net with instance norm and PReLU, linear output."""

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        from monai.networks.nets import UNet

        self.cfg = cfg
        self.unet = UNet(
            spatial_dims=cfg.spatial_dims,
            in_channels=cfg.in_channels,
            out_channels=1,
            channels=tuple(cfg.channels),
            strides=(2,) * (len(cfg.channels) - 1),
            num_res_units=cfg.num_res_blocks,
            norm="instance",
            dropout=float(cfg.extra.get("dropout", 0.0)),
        )

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        return self.unet(condition)


def patch_discriminator(cfg: NetworkConfig, patch_size: list[int], channels: int = 32) -> nn.Module:
    """Conditional PatchGAN on [MR, CT]: one realism score per receptive-field patch.

    As many stride-2 layers (up to 3) as the smallest patch side allows.
    """
    import math

    from monai.networks.nets import PatchDiscriminator

    layers = max(1, min(3, int(math.log2(min(patch_size))) - 2))
    return PatchDiscriminator(spatial_dims=cfg.spatial_dims, num_layers_d=layers, channels=channels,
                              in_channels=cfg.in_channels + 1, out_channels=1, norm="INSTANCE")


def lsgan_loss(scores: list[torch.Tensor] | torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss of the discriminator's last output."""
    s = scores[-1] if isinstance(scores, list) else scores
    return ((s - (1.0 if real else 0.0)) ** 2).mean()
