"""Architecture of a latent model, saved in its card so that inference rebuilds the same networks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..diffusion.schedule import PREDICTIONS

LATENT_PREDICTIONS = (*PREDICTIONS, "flow")  # "flow": rectified flow (velocity), sampled with Euler steps


def _tuple(d: dict, key: str) -> None:
    if key in d and d[key] is not None:
        d[key] = tuple(d[key])


@dataclass
class AutoencoderConfig:
    """KL autoencoder: ``len(channels) - 1`` stride-2 levels (3 channels: 4x per axis)."""

    channels: tuple[int, ...] = (16, 32, 32)
    latent_channels: int = 4
    num_res_blocks: int = 1
    norm_num_groups: int = 8

    @property
    def factor(self) -> int:
        return 2 ** (len(self.channels) - 1)


@dataclass
class SpadeConfig:
    """Switchable SPADE generator: one residual block per width, then one back to the latent channels."""

    widths: tuple[int, ...] = (32, 64, 32)
    hidden: int = 32  # channels of each modulation head's shared convolution
    residual: bool = True  # output = input + blocks (starts as the identity)


@dataclass
class UNetConfig:
    """Latent diffusion UNet (MONAI DiffusionModelUNet) and its training target."""

    channels: tuple[int, ...] = (32, 64, 64)
    attention_levels: tuple[bool, ...] = (False, False, False)
    num_res_blocks: int = 1
    norm_num_groups: int = 8
    num_head_channels: int = 16
    prediction: str = "v"  # image | noise | v (DDIM) or flow (rectified flow)
    train_timesteps: int = 1000

    @property
    def divisor(self) -> int:
        return 2 ** (len(self.channels) - 1)


@dataclass
class LatentArchitecture:
    """All three networks plus the modality order (the SPADE head and class index of each)."""

    modalities: list[str] = field(default_factory=lambda: ["ct", "t1w", "t2w"])
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    spade: SpadeConfig = field(default_factory=SpadeConfig)
    unet: UNetConfig = field(default_factory=UNetConfig)
    latent_scale: float = 1.0  # latents are multiplied by this before diffusion (unit variance)

    @property
    def multiple(self) -> int:
        """Image sizes must be multiples of this: the autoencoder's factor times the UNet's divisor
        (the latent must itself divide through the UNet's levels)."""
        return self.autoencoder.factor * self.unet.divisor

    def validate(self) -> None:
        if len(self.autoencoder.channels) < 2:
            raise ValueError("autoencoder.channels needs at least 2 entries (one downsampling)")
        if self.unet.prediction not in LATENT_PREDICTIONS:
            raise ValueError(f"unet.prediction {self.unet.prediction!r}: use one of {LATENT_PREDICTIONS}")
        if len(self.unet.attention_levels) != len(self.unet.channels):
            raise ValueError("unet.attention_levels needs one entry per unet.channels entry")
        if len(set(self.modalities)) != len(self.modalities) or len(self.modalities) < 2:
            raise ValueError(f"modalities {self.modalities}: at least two, without repeats")

    def to_json(self) -> dict:
        d = asdict(self)
        return {"kind": "latent", **d}

    @classmethod
    def from_json(cls, d: dict) -> LatentArchitecture:
        d = {k: v for k, v in d.items() if k != "kind"}
        ae, sp, un = dict(d.get("autoencoder") or {}), dict(d.get("spade") or {}), dict(d.get("unet") or {})
        _tuple(ae, "channels")
        _tuple(sp, "widths")
        _tuple(un, "channels")
        _tuple(un, "attention_levels")
        if "channels" in un and "attention_levels" not in un:
            un["attention_levels"] = (False,) * len(un["channels"])
        arch = cls(modalities=list(d.get("modalities", ["ct", "t1w", "t2w"])), autoencoder=AutoencoderConfig(**ae),
                   spade=SpadeConfig(**sp), unet=UNetConfig(**un), latent_scale=float(d.get("latent_scale", 1.0)))
        arch.validate()
        return arch
