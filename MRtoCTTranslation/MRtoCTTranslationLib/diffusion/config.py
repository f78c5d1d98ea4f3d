"""The architecture of an image-space translation network, as a model card stores it (a module of its own,
so the networks and the Pix2Pix generator both build from it without importing each other)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

KINDS = ("diffusion", "pix2pix", "cut", "syndiff")
UNPAIRED = ("cut", "syndiff")  # trained from MR and CT of different subjects


@dataclass
class NetworkConfig:
    """Architecture of a translation model (saved in its card)."""

    kind: str = "diffusion"
    spatial_dims: int = 3
    channels: tuple[int, ...] = (16, 32, 64)
    num_res_blocks: int = 1
    norm_num_groups: int = 8
    prediction: str = "image"  # diffusion only: image (x0), noise (eps) or v
    in_channels: int = 1  # condition channels (MR)
    extra: dict = field(default_factory=dict)

    @property
    def divisor(self) -> int:
        """Spatial sizes must be multiples of this (CUT's generator, and SynDiff's source generator while
        training, downsample twice)."""
        unet = 2 ** (len(self.channels) - 1)
        return 4 if self.kind == "cut" else max(4, unet) if self.kind == "syndiff" else unet

    def to_json(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_json(cls, d: dict, where: str = "network") -> NetworkConfig:
        """From a card or config section; ValueError naming an unknown key or a value of the wrong type."""
        from SpineCoreLib.typed_fields import coerce_fields

        if not isinstance(d, dict):
            raise ValueError(f"{where}: needs a mapping of keys to values, got {type(d).__name__} {d!r}")
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown}; known keys: {sorted(f.name for f in fields(cls))}")
        d = coerce_fields(cls, d, where)
        d["channels"] = tuple(d.get("channels", (16, 32, 64)))
        return cls(**d)
