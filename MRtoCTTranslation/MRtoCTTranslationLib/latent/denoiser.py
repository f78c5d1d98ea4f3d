"""The latent diffusion UNet (Kim & Park, WACV 2024): input [z_t, z_source, SPADE(z_source, target)]
concatenated along channels (ALDM's "hybrid" conditioning), the target modality as a class embedding
added to the time embedding. MONAI's DiffusionModelUNet with ``use_flash_attention`` (its bottleneck
always has self-attention; torch's fused kernel keeps its memory bounded).
"""

from __future__ import annotations

import torch
from torch import nn

from .architecture import UNetConfig


class LatentDenoiser(nn.Module):
    """Predicts the configured target (x0, eps, v or the flow velocity) of the target latent."""

    def __init__(self, cfg: UNetConfig, latent_channels: int, n_targets: int) -> None:
        super().__init__()
        from monai.networks.nets import DiffusionModelUNet

        self.cfg = cfg
        self.unet = DiffusionModelUNet(
            spatial_dims=3, in_channels=3 * latent_channels, out_channels=latent_channels,
            channels=tuple(cfg.channels), attention_levels=tuple(cfg.attention_levels),
            num_res_blocks=cfg.num_res_blocks, norm_num_groups=cfg.norm_num_groups,
            num_head_channels=cfg.num_head_channels, num_class_embeds=n_targets, use_flash_attention=True,
        )

    def forward(self, z_t: torch.Tensor, z_source: torch.Tensor, z_like: torch.Tensor, t: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        return self.unet(torch.cat([z_t, z_source, z_like], dim=1), timesteps=t, class_labels=target)
