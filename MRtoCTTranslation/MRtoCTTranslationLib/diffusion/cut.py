"""Contrastive unpaired translation (CUT; Park, Efros, Zhang, Zhu, "Contrastive learning for unpaired
image-to-image translation", ECCV 2020), in 2D and 3D, for MR and CT of different patients.

A ResNet-style generator (Johnson et al., ECCV 2016: a 7-wide convolution, two stride-2 downsamplings,
residual blocks, two upsamplings, a 7-wide output convolution) maps MR to CT. Without pairs there is
no L1 target; instead PatchNCE makes each location of the output recognisable as the same location of
the input: the generator's own encoder embeds input and output, a small MLP per encoder layer projects
sampled locations, and an InfoNCE loss (temperature 0.07) asks every output patch to pick its input
patch out of the other patches of the same image. A least-squares adversarial loss against real CT
(unconditional PatchGAN) makes the output look like CT, and the same NCE on a real CT passed through
the generator (identity) keeps it from changing what is already CT. Graf et al.'s (2023) settings: 32
channels, 6 residual blocks.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import NetworkConfig

NCE_TEMPERATURE = 0.07
NCE_DIM = 256


def _conv(dims: int) -> type[nn.Module]:
    return nn.Conv3d if dims == 3 else nn.Conv2d


def _norm(dims: int, channels: int) -> nn.Module:
    return (nn.InstanceNorm3d if dims == 3 else nn.InstanceNorm2d)(channels, affine=False)


class ResidualBlock(nn.Module):
    """Two 3-wide convolutions with instance norm, reflection padding, added to the input."""

    def __init__(self, dims: int, channels: int) -> None:
        super().__init__()
        conv = _conv(dims)
        self.body = nn.Sequential(conv(channels, channels, 3, padding=1, padding_mode="reflect"),
                                  _norm(dims, channels), nn.ReLU(inplace=True),
                                  conv(channels, channels, 3, padding=1, padding_mode="reflect"),
                                  _norm(dims, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """MR -> CT in one pass; ``encode`` returns the features PatchNCE compares.

    ``cfg.channels[0]`` is the first width (doubled by each of the two downsamplings),
    ``cfg.num_res_blocks`` the number of residual blocks; the output is linear (CT network values
    reach beyond 1 in dense bone, which a tanh would clip).
    """

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        d, c = cfg.spatial_dims, int(cfg.channels[0])
        conv = _conv(d)
        up = nn.ConvTranspose3d if d == 3 else nn.ConvTranspose2d
        self.cfg = cfg
        self.stem = nn.Sequential(conv(cfg.in_channels, c, 7, padding=3, padding_mode="reflect"), _norm(d, c),
                                  nn.ReLU(inplace=True))
        self.down1 = nn.Sequential(conv(c, 2 * c, 3, stride=2, padding=1), _norm(d, 2 * c), nn.ReLU(inplace=True))
        self.down2 = nn.Sequential(conv(2 * c, 4 * c, 3, stride=2, padding=1), _norm(d, 4 * c), nn.ReLU(inplace=True))
        self.blocks = nn.ModuleList(ResidualBlock(d, 4 * c) for _ in range(cfg.num_res_blocks))
        self.up = nn.Sequential(up(4 * c, 2 * c, 3, stride=2, padding=1, output_padding=1), _norm(d, 2 * c),
                                nn.ReLU(inplace=True),
                                up(2 * c, c, 3, stride=2, padding=1, output_padding=1), _norm(d, c),
                                nn.ReLU(inplace=True),
                                conv(c, 1, 7, padding=3, padding_mode="reflect"))

    @property
    def feature_channels(self) -> list[int]:
        """Channels of the features ``encode`` returns: input, stem, both downsamplings, middle block."""
        c = int(self.cfg.channels[0])
        return [self.cfg.in_channels, c, 2 * c, 4 * c, 4 * c]

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The input and the encoder's features at four depths (as CUT's layers 0, 4, 8, 12, 16)."""
        feats = [x]
        h = self.stem(x)
        feats.append(h)
        h = self.down1(h)
        feats.append(h)
        h = self.down2(h)
        feats.append(h)
        middle = len(self.blocks) // 2
        for n, block in enumerate(self.blocks):
            h = block(h)
            if n == middle:
                feats.append(h)
        if not self.blocks:
            feats.append(h)
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.down2(self.down1(self.stem(x)))
        for block in self.blocks:
            h = block(h)
        return self.up(h)


class PatchProjector(nn.Module):
    """One two-layer MLP per encoder feature: sampled locations to unit vectors of ``NCE_DIM``."""

    def __init__(self, channels: list[int], dim: int = NCE_DIM) -> None:
        super().__init__()
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(c, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim))
                                  for c in channels)

    def forward(self, feats: list[torch.Tensor], ids: list[torch.Tensor]) -> list[torch.Tensor]:
        """(batch, patches, dim) normalised embeddings of ``feats`` at the flat locations ``ids``."""
        out = []
        for f, idx, mlp in zip(feats, ids, self.mlps, strict=True):
            flat = f.flatten(2).transpose(1, 2)  # (batch, locations, channels)
            z = mlp(flat[:, idx])
            out.append(nn.functional.normalize(z, dim=-1))
        return out


def sample_locations(feats: list[torch.Tensor], n: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Up to ``n`` random flat locations per feature map (the same for input and output)."""
    out = []
    for f in feats:
        total = int(torch.tensor(f.shape[2:]).prod())
        out.append(torch.randperm(total, generator=generator)[: min(n, total)].to(f.device))
    return out


def patch_nce_loss(q: torch.Tensor, k: torch.Tensor, temperature: float = NCE_TEMPERATURE) -> torch.Tensor:
    """InfoNCE of output patches ``q`` against input patches ``k``, both (batch, patches, dim) unit vectors:
    for each patch, cross-entropy of picking its own location among all locations of the same image."""
    logits = torch.bmm(q, k.detach().transpose(1, 2)) / temperature  # (batch, patches, patches)
    target = torch.arange(q.shape[1], device=q.device).expand(q.shape[0], -1)
    return nn.functional.cross_entropy(logits.flatten(0, 1), target.flatten())


def nce_between(net: ResnetGenerator, projector: PatchProjector, source: torch.Tensor, output: torch.Tensor,
                n_patches: int, generator: torch.Generator) -> torch.Tensor:
    """PatchNCE between a source image and the generator's output for it, averaged over the layers."""
    feats_k = net.encode(source)
    feats_q = net.encode(output)
    ids = sample_locations(feats_k, n_patches, generator)
    k, q = projector(feats_k, ids), projector(feats_q, ids)
    return torch.stack([patch_nce_loss(qq, kk) for qq, kk in zip(q, k, strict=True)]).mean()


class CUTObjective(nn.Module):
    """The generator's side of CUT in one forward pass (so that DDP sees one module and one call): the
    output for the MR and the mean of PatchNCE (MR vs output) and identity PatchNCE (CT vs its output)."""

    def __init__(self, net: ResnetGenerator, projector: PatchProjector) -> None:
        super().__init__()
        self.net, self.projector = net, projector

    def forward(self, mr: torch.Tensor, ct: torch.Tensor, n_patches: int, seed: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        fake = self.net(mr)
        nce = nce_between(self.net, self.projector, mr, fake, n_patches, gen)
        idt = nce_between(self.net, self.projector, ct, self.net(ct), n_patches, gen)
        return fake, 0.5 * (nce + idt)
