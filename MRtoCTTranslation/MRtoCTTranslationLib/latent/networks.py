"""All three networks of a latent model in one module, so one safetensors file holds them under
the prefixes ``autoencoder.``, ``spade.`` and ``unet.``."""

from __future__ import annotations

from torch import nn

from .architecture import LatentArchitecture
from .autoencoder import LatentAutoencoder
from .denoiser import LatentDenoiser
from .spade import SPADEGenerator

PARTS = ("autoencoder", "spade", "unet")


class LatentNetworks(nn.Module):
    """Autoencoder, switchable SPADE generator and latent diffusion UNet of one architecture."""

    def __init__(self, arch: LatentArchitecture) -> None:
        super().__init__()
        arch.validate()
        self.arch = arch
        n, lc = len(arch.modalities), arch.autoencoder.latent_channels
        self.autoencoder = LatentAutoencoder(arch.autoencoder)
        self.spade = SPADEGenerator(arch.spade, lc, n)
        self.unet = LatentDenoiser(arch.unet, lc, n)
