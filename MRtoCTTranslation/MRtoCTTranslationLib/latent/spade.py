"""Multi-switchable SPADE (MS-SPADE, Kim & Park, WACV 2024): source latents -> target-like latents.

Every normalisation is instance norm followed by a spatially-varying modulation
``x_hat * (1 + gamma) + beta`` (SPADE, Park et al., CVPR 2019). As in ALDM the modulation maps
are computed from the features themselves (self-modulation: there is no label map), and each
norm has one modulation head per target modality, chosen per sample by the target index: one
model switches its style to any target. The per-sample switch is vectorised: the heads' weights
are stacked, each sample's head is gathered by its target index, and the batch runs as one
grouped convolution (one group per sample), so only the chosen heads are computed and there is
no Python loop over the batch (3x faster on the CPU than computing every head and indexing).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .architecture import SpadeConfig


class SwitchableSPADE(nn.Module):
    """Instance norm with per-target self-modulation heads (3x3x3 shared conv, ReLU, 3x3x3 gamma/beta)."""

    def __init__(self, channels: int, hidden: int, n_targets: int) -> None:
        super().__init__()
        self.channels, self.hidden, self.n_targets = channels, hidden, n_targets
        self.norm = nn.InstanceNorm3d(channels, affine=False)
        self.shared_weight = nn.Parameter(torch.empty(n_targets, hidden, channels, 3, 3, 3))
        self.shared_bias = nn.Parameter(torch.empty(n_targets, hidden))
        self.gamma_beta_weight = nn.Parameter(torch.empty(n_targets, 2 * channels, hidden, 3, 3, 3))
        self.gamma_beta_bias = nn.Parameter(torch.empty(n_targets, 2 * channels))
        for weight, bias, fan_in in ((self.shared_weight, self.shared_bias, channels * 27),
                                     (self.gamma_beta_weight, self.gamma_beta_bias, hidden * 27)):
            bound = 1.0 / math.sqrt(fan_in)  # torch's default for a convolution, per head
            nn.init.uniform_(weight, -bound, bound)
            nn.init.uniform_(bias, -bound, bound)

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        b, c, size = x.shape[0], self.channels, x.shape[2:]
        w1 = self.shared_weight[target].reshape(b * self.hidden, c, 3, 3, 3)
        h = F.relu(F.conv3d(x.reshape(1, b * c, *size), w1, self.shared_bias[target].reshape(-1), padding=1, groups=b))
        w2 = self.gamma_beta_weight[target].reshape(b * 2 * c, self.hidden, 3, 3, 3)
        params = F.conv3d(h, w2, self.gamma_beta_bias[target].reshape(-1), padding=1, groups=b)
        gamma, beta = params.reshape(b, 2 * c, *size).chunk(2, dim=1)
        return self.norm(x) * (1 + gamma) + beta


class SPADEResBlock(nn.Module):
    """Two switchable-norm -> LeakyReLU -> conv layers plus a (learned, when widths differ) shortcut."""

    def __init__(self, fin: int, fout: int, hidden: int, n_targets: int) -> None:
        super().__init__()
        mid = min(fin, fout)
        self.norm_0 = SwitchableSPADE(fin, hidden, n_targets)
        self.conv_0 = nn.Conv3d(fin, mid, 3, padding=1)
        self.norm_1 = SwitchableSPADE(mid, hidden, n_targets)
        self.conv_1 = nn.Conv3d(mid, fout, 3, padding=1)
        self.learned_shortcut = fin != fout
        if self.learned_shortcut:
            self.norm_s = SwitchableSPADE(fin, hidden, n_targets)
            self.conv_s = nn.Conv3d(fin, fout, 1, bias=False)

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, target)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, target), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, target), 0.2))
        return shortcut + dx


class SPADEGenerator(nn.Module):
    """latent_channels -> widths... -> latent_channels at latent resolution, switched by target index."""

    def __init__(self, cfg: SpadeConfig, latent_channels: int, n_targets: int) -> None:
        super().__init__()
        self.cfg = cfg
        sizes = [latent_channels, *cfg.widths, latent_channels]
        self.blocks = nn.ModuleList(SPADEResBlock(a, b, cfg.hidden, n_targets)
                                    for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        if cfg.residual:  # start as the identity: source and target latents share the anatomy
            last = self.blocks[-1]
            for conv in (last.conv_1, *([last.conv_s] if last.learned_shortcut else [])):
                nn.init.zeros_(conv.weight)
                if conv.bias is not None:
                    nn.init.zeros_(conv.bias)

    def forward(self, z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Target-like latent of source latent ``z`` for target indices ``target`` (B,)."""
        h = z
        for block in self.blocks:
            h = block(h, target)
        return z + h if self.cfg.residual else h
