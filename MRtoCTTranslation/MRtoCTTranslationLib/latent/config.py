"""Training configuration of a latent model (``kind: latent`` in the YAML), all three stages in one file.

Stages run in order: ``autoencoder`` (the autoencoder and the SPADE generator together:
reconstruction, KL, PatchGAN, latent translation and cycle consistency), ``spade`` (autoencoder
frozen: latent translation and cycle consistency), ``diffusion`` (both frozen: the latent
diffusion UNet). A stage with 0 steps is skipped. Paths are relative to the config file's folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from SpineCoreLib.intensity import CTMapping
from SpineCoreLib.typed_fields import coerce_fields

from ..training.config import RunConfig, check_keys, decayed_lr, read_yaml
from .architecture import AutoencoderConfig, LatentArchitecture, SpadeConfig, UNetConfig
from .modalities import CT_KEY, Modality

KIND = "latent"
STAGES = ("autoencoder", "spade", "diffusion")


@dataclass
class StageConfig:
    """Length and batches of one stage; patch sizes are canonical [S, P, L] voxels of the model grid."""

    steps: int = 0
    lr: float = 2e-4
    batch_size: int = 1
    patch_size: list[int] = field(default_factory=lambda: [64, 64, 16])
    lr_decay_steps: int = 0  # the last N steps of the stage decay the learning rate linearly to 0

    def lr_at(self, step: int) -> float:
        """Learning rate at ``step`` of this stage (``training.config.decayed_lr``)."""
        return decayed_lr(self.lr, self.steps, self.lr_decay_steps, step)


@dataclass
class LossConfig:
    """Weights of the autoencoder- and SPADE-stage losses (no perceptual loss: its backbones need
    downloads) and the diffusion loss."""

    kl_weight: float = 1e-6
    adversarial_weight: float = 0.01
    adversarial_start: int = 0  # autoencoder-stage step at which the PatchGAN joins
    discriminator_channels: int = 16
    discriminator_layers: int = 2
    translate_weight: float = 1.0  # L1 between SPADE(enc(source), target) and enc(target)
    cycle_weight: float = 1.0  # L1 between the re-encoded, switched-back translation and enc(source)
    joint_spade_weight: float = 1.0  # the two above in the autoencoder stage (0: reconstruction alone first)
    diffusion_loss: str = "l2"  # l2 (as latent diffusion) or l1


def _default_stages() -> dict[str, StageConfig]:
    return {"autoencoder": StageConfig(steps=1000), "spade": StageConfig(steps=500),
            "diffusion": StageConfig(steps=2000)}


@dataclass
class LatentTrainConfig(RunConfig):
    """What to train a latent model on, and how (``init_from``: a latent model whose weights start every
    network)."""

    kind: str = KIND
    modalities: dict[str, str] = field(default_factory=lambda: {"ct": "ct_mrworld", "t1w": "mr_t1w",
                                                                 "t2w": "mr_t2w"})  # key -> manifest column
    sources: list[str] = field(default_factory=list)  # MR keys drawn as sources; default: every MR modality
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    spade: SpadeConfig = field(default_factory=SpadeConfig)
    unet: UNetConfig = field(default_factory=UNetConfig)
    stages: dict[str, StageConfig] = field(default_factory=_default_stages)
    losses: LossConfig = field(default_factory=LossConfig)
    ct_intensity: dict[str, float] = field(default_factory=dict)  # CTMapping fields, e.g. asinh_hu: 100
    checkpoint_every: int = 200
    out_dir: str = "runs/latent"
    name: str = "latent"

    @property
    def ct_map(self) -> CTMapping:
        """The CT intensity mapping of ``ct_intensity`` (TypeError on an unknown field)."""
        return CTMapping(**self.ct_intensity)

    @property
    def modality_list(self) -> list[Modality]:
        ct_map = self.ct_map
        return [Modality(k, c, ct_map=ct_map) for k, c in self.modalities.items()]

    @property
    def source_keys(self) -> list[str]:
        return list(self.sources) or [k for k in self.modalities if k != CT_KEY]

    def architecture(self, latent_scale: float = 1.0) -> LatentArchitecture:
        return LatentArchitecture(list(self.modalities), self.autoencoder, self.spade, self.unet, latent_scale)

    def override_steps(self, steps: int) -> None:
        """``mrtoct train --steps``: the steps of every stage that has any (0 leaves a stage out)."""
        if steps < 0:
            raise ValueError("--steps must be at least 0")
        for stage in self.stages.values():
            if stage.steps > 0:
                stage.steps = steps

    @classmethod
    def parse_sections(cls, raw: dict, where: str) -> dict:
        sub = {"autoencoder": AutoencoderConfig, "spade": SpadeConfig, "unet": UNetConfig, "losses": LossConfig}
        for key, kls in sub.items():
            if key in raw:
                d = dict(raw[key] or {})
                check_keys(kls, d, f"{where}: {key}")
                for name in ("channels", "widths", "attention_levels"):
                    if name in d:
                        d[name] = tuple(d[name])
                if key == "unet" and "channels" in d and "attention_levels" not in d:
                    d["attention_levels"] = (False,) * len(d["channels"])
                raw[key] = kls(**coerce_fields(kls, d, f"{where}: {key}"))
        if "stages" in raw:
            stages = dict(raw["stages"] or {})
            unknown = sorted(set(stages) - set(STAGES))
            if unknown:
                raise ValueError(f"{where}: unknown stages {unknown}; stages: {list(STAGES)}")
            parsed = {}
            for s in STAGES:
                d = dict(stages.get(s) or {})
                check_keys(StageConfig, d, f"{where}: stages.{s}")
                parsed[s] = StageConfig(**coerce_fields(StageConfig, d, f"{where}: stages.{s}"))
            raw["stages"] = parsed
        if "modalities" in raw:
            raw["modalities"] = {str(k).lower(): str(v) for k, v in dict(raw["modalities"]).items()}
        if "sources" in raw:
            raw["sources"] = [str(s).lower() for s in raw["sources"] or []]
        return raw

    def validate(self) -> None:
        super().validate()
        if self.kind != KIND:
            raise ValueError(f"kind {self.kind!r}: a latent training config has kind: {KIND}")
        self.architecture().validate()
        bad = [s for s in self.source_keys if s not in self.modalities or s == CT_KEY]
        if bad or not self.source_keys:
            raise ValueError(f"sources {self.source_keys}: each must be an MR modality listed in modalities "
                             f"{list(self.modalities)}")
        m = self.architecture().multiple
        for name, st in self.stages.items():
            if st.steps < 0 or st.batch_size < 1 or not st.lr > 0:
                raise ValueError(f"stages.{name}: steps must be >= 0, batch_size >= 1, lr > 0")
            if not 0 <= st.lr_decay_steps <= st.steps:
                raise ValueError(f"stages.{name}.lr_decay_steps {st.lr_decay_steps} must be between 0 and "
                                 f"steps ({st.steps})")
            if len(st.patch_size) != 3 or any(s < 1 or s % m for s in st.patch_size):
                raise ValueError(f"stages.{name}.patch_size {st.patch_size}: three sizes, each a multiple of {m} "
                                 "(the autoencoder factor times the UNet divisor)")
        if sum(st.steps for st in self.stages.values()) < 1:
            raise ValueError("every stage has 0 steps: give at least one stage some steps")
        if self.losses.diffusion_loss not in ("l1", "l2"):
            raise ValueError(f"losses.diffusion_loss {self.losses.diffusion_loss!r}: use l1 or l2")
        try:
            ct = self.ct_map
        except TypeError as exc:
            raise ValueError(f"ct_intensity {self.ct_intensity}: use the fields of a CT mapping "
                             "(offset, scale, hu_min, hu_max, asinh_hu)") from exc
        if not ct.scale > 0 or ct.asinh_hu < 0 or not ct.hu_max > ct.hu_min:
            raise ValueError(f"ct_intensity {self.ct_intensity}: scale must be positive, asinh_hu >= 0, "
                             "hu_max > hu_min")

def is_latent_config(path: str | os.PathLike) -> bool:
    """Whether a YAML config asks for the latent trainer (``kind: latent``); False if unreadable."""
    try:
        raw = read_yaml(Path(path))
    except ValueError:
        return False
    return str(raw.get("kind", "")).lower() == KIND
