"""Training configuration, read from YAML; every field has a default that trains the demo model."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from SpineCoreLib.typed_fields import coerce_fields

from ..diffusion.networks import NetworkConfig
from .realism import MRRealism

CONTRASTS = ("fixed", "random", "mixed")
RETIRED_KEYS = {"amp": "precision: auto | fp32 | bf16 | fp16 (auto: bf16 or fp16 where the hardware has it natively)"}


def check_keys(kls: type, raw: dict, where: str) -> None:
    """ValueError naming keys of ``raw`` that ``kls`` does not have (and what replaced a retired one)."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: needs a mapping of keys to values, got {type(raw).__name__} {raw!r}")
    known = {f.name for f in dataclasses.fields(kls)}
    unknown = sorted(set(raw) - known)
    for key in unknown:
        if key in RETIRED_KEYS:
            raise ValueError(f"{where}: {key!r} was replaced by {RETIRED_KEYS[key]}")
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; known keys: {sorted(known)}")


def resolve_paths(cfg, base: Path) -> None:
    """Make a config's ``manifest``, ``out_dir`` and a folder ``init_from`` absolute, relative to ``base``
    (the config file's folder); an ``init_from`` that is no folder there stays a model name."""
    cfg.manifest = str((base / cfg.manifest).resolve()) if not os.path.isabs(cfg.manifest) else cfg.manifest
    cfg.out_dir = str((base / cfg.out_dir).resolve()) if not os.path.isabs(cfg.out_dir) else cfg.out_dir
    if cfg.init_from and (base / cfg.init_from).exists():
        cfg.init_from = str((base / cfg.init_from).resolve())


def read_yaml(path: Path) -> dict:
    """A training config file as a mapping; ValueError saying what is wrong with it."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read training config {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a training config is a YAML mapping of keys to values")
    return raw


def check_precision_field(precision: str) -> None:
    """The config's ``precision`` must be one the project knows (``precision.PRECISIONS``)."""
    from ..precision import check_precision

    check_precision(precision)


def decayed_lr(lr: float, steps: int, decay_steps: int, step: int) -> float:
    """Learning rate at ``step`` of ``steps``: constant, then a linear decay to 0 over the last ``decay_steps``.

    Warmup-stable-decay without the warmup (Hägele et al., Scaling laws and compute-optimal training
    beyond fixed training durations, NeurIPS 2024): because the rate stays constant until the decay, a
    run can be resumed and lengthened, and annealed at the end only.
    """
    start = steps - decay_steps
    if step < start:
        return lr
    return lr * (steps - step) / decay_steps


@dataclass
class RunConfig:
    """What every training config has: the data, the model grid, weight averaging, checkpoints,
    validation, precision, seed, where the run goes, and the card's name, description and licence.
    Read from YAML with unknown keys refused; paths are relative to the config file's folder."""

    manifest: str = "manifest.csv"
    spacing_mm: float = 2.0
    init_from: str = ""  # a model name or folder to start from (same architecture)
    ema_decay: float = 0.995
    checkpoint_every: int = 500
    val_cases: int = 2
    val_sampling_steps: int = 10
    precision: str = "auto"  # auto | fp32 | bf16 | fp16 (precision.choose_precision; fp16 with loss scaling)
    seed: int = 0
    out_dir: str = "runs/model"
    name: str = "model"
    description: str = ""
    license: str = "Apache-2.0"
    # what the card tells every user about the data (training_data) and the purpose (intended_use)
    data_source: str = ""  # where the training data came from
    synthetic_data: bool | None = None  # True for generated data such as the phantom, False for real scans
    intended_use: str = "research; not validated for clinical use"

    @classmethod
    def from_yaml(cls, path: str | os.PathLike):
        """The config of a YAML file, its paths made absolute and every field checked."""
        p = Path(path)
        cfg = cls.from_dict(read_yaml(p), str(p))
        resolve_paths(cfg, p.parent)
        cfg.validate()
        return cfg

    @classmethod
    def from_dict(cls, raw: dict, where: str = "config"):
        check_keys(cls, raw, where)
        return cls(**cls.parse_sections(coerce_fields(cls, raw, where), where))

    @classmethod
    def parse_sections(cls, raw: dict, where: str) -> dict:
        """``raw`` with its nested sections turned into their dataclasses (none here)."""
        return raw

    def validate(self) -> None:
        if not self.spacing_mm > 0:
            raise ValueError(f"spacing_mm {self.spacing_mm} must be positive")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay {self.ema_decay} must be in [0, 1)")
        if self.checkpoint_every < 1 or self.val_cases < 0 or self.val_sampling_steps < 1:
            raise ValueError("checkpoint_every and val_sampling_steps must be at least 1, val_cases at least 0")
        check_precision_field(self.precision)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class TrainConfig(RunConfig):
    """What to train an image-space model (diffusion or Pix2Pix) on, and how."""

    input_column: str = "mr_t2w"  # on real data: the MR column
    extra_input_columns: list[str] = field(default_factory=list)  # more fixed contrasts to mix in
    target_column: str = "ct_mrworld"  # on real data: the CT registered onto the MR
    contrast: str = "fixed"  # fixed | random (re-synthesised from mr_tissues) | mixed
    mr_realism: MRRealism = field(default_factory=MRRealism)  # scanner variation of the fixed contrasts (off)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    patch_size: list[int] = field(default_factory=lambda: [64, 64, 16])  # canonical [S, P, L] voxels
    batch_size: int = 2
    steps: int = 4000
    lr: float = 2e-4
    lr_decay_steps: int = 0  # the last N steps decay the learning rate linearly to 0 (0: constant)
    val_every: int = 1000

    @classmethod
    def parse_sections(cls, raw: dict, where: str) -> dict:
        if "network" in raw:
            raw["network"] = NetworkConfig.from_json(raw["network"], f"{where}: network")
        if "mr_realism" in raw:
            raw["mr_realism"] = MRRealism.from_json(raw["mr_realism"], f"{where}: mr_realism")
        return raw

    def override_steps(self, steps: int) -> None:
        """``mrtoct train --steps``: the number of training steps."""
        if steps < 1:
            raise ValueError("--steps must be at least 1")
        self.steps = steps

    def validate(self) -> None:
        super().validate()
        if self.contrast not in CONTRASTS:
            raise ValueError(f"contrast {self.contrast!r}: use one of {CONTRASTS}")
        d = self.network.divisor
        if len(self.patch_size) != self.network.spatial_dims or any(s % d for s in self.patch_size):
            raise ValueError(f"patch_size {self.patch_size} must have {self.network.spatial_dims} sizes, "
                             f"each a multiple of {d}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be at least 1")
        if not 0 <= self.lr <= 1:
            raise ValueError(f"lr {self.lr} must be a learning rate between 0 and 1, e.g. 2e-4")
        if not 0 <= self.lr_decay_steps <= self.steps:
            raise ValueError(f"lr_decay_steps {self.lr_decay_steps} must be between 0 and steps ({self.steps})")

    def lr_at(self, step: int) -> float:
        """Learning rate at ``step`` (``decayed_lr``)."""
        return decayed_lr(self.lr, self.steps, self.lr_decay_steps, step)

    def to_json(self) -> dict:
        return {**super().to_json(), "network": self.network.to_json(), "mr_realism": self.mr_realism.to_json()}
