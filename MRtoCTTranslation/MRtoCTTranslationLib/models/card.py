"""A model card, typed: what a model is, what it was trained on, how it samples and how well it did.

Every reader goes through :class:`ModelCard` (``read_card``), so a field's meaning and its default live
here once. Cards carry ``schema_version``; an older card is migrated on reading (``migrate``), a newer
one is refused with a message to update SpineMRtoCT. Nested sections whose schema belongs to a model
kind (``architecture``: ``diffusion.config.NetworkConfig`` or ``latent.architecture.LatentArchitecture``;
``intensity``; latent ``targets``: ``latent.modalities.Modality``) stay JSON here and are typed by that
kind when the model is built. No torch import: the Slicer panel reads cards before torch is loaded.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from SpineCoreLib.atomic_io import write_json
from SpineCoreLib.typed_fields import coerce_fields

from ..diffusion.config import KINDS as NETWORK_KINDS

CARD = "model.json"
WEIGHTS = "model.safetensors"
SCHEMA_VERSION = 3
KINDS = (*NETWORK_KINDS, "latent")  # the image-space kinds, and the latent diffusion model
ONE_PASS = ("pix2pix", "cut")  # generators: no steps, no prediction mode
JSON_ORDER = ("schema_version", "name", "description", "training_data", "intended_use", "architecture", "diffusion", "input_modality", "input_contrasts",
              "output_modality", "targets", "default_target", "spacing_mm", "orientation", "intensity", "training",
              "metrics", "inference_defaults", "license", "citation", "weights_sha256", "weights_dtype")
REQUIRED = ("name", "architecture", "input_modality", "output_modality", "spacing_mm", "intensity",
            "weights_sha256", "training_data", "intended_use")
NOT_RECORDED = "not recorded (a card written before schema 3)"


class ModelError(ValueError):
    """A model folder that cannot be used; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class InferenceDefaults:
    """How the model samples unless told otherwise. ``steps``: the fewest within 0.3 dB PSNR and 0.01 SSIM
    of 20 steps on held-out cases (``Testing/benchmarks/steps_curve.py``); ``window``: the training patch
    (voxels; in-slice pixels for 2D, () = whole slices); ``target``: a latent model's default output."""

    steps: int = 20
    eta: float = 0.0
    window: tuple[int, ...] = ()
    overlap: float = 0.25
    target: str | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"steps": self.steps, "eta": self.eta, "window": list(self.window),
                             "overlap": self.overlap}
        return {**d, "target": self.target} if self.target is not None else d


@dataclass(frozen=True)
class TrainingData:
    """What a model learned from, as a user must see it next to any number it reports."""

    cohort: str  # e.g. "phantom cohort train40 (mrtoct phantom --cases 40 --seed 100), train split"
    synthetic: bool | None  # True: generated data (the project's phantom); False: real scans; None: not recorded
    subjects: int | None  # subjects the model was trained on
    source: str  # where the data came from

    def describe(self) -> str:
        """One line: "synthetic data, 28 subjects: <cohort>"."""
        kind = {True: "synthetic data", False: "real scans", None: "data of unrecorded kind"}[self.synthetic]
        count = f", {self.subjects} subjects" if self.subjects is not None else ""
        return f"{kind}{count}: {self.cohort}"

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ModelCard:
    name: str
    architecture: dict[str, Any]
    input_modality: str
    output_modality: str
    spacing_mm: float
    intensity: dict[str, Any]
    weights_sha256: str = ""  # filled in by ``models.folder.save_model``
    training_data: TrainingData = TrainingData(NOT_RECORDED, None, None, NOT_RECORDED)
    intended_use: str = NOT_RECORDED
    description: str = ""
    diffusion: dict[str, Any] | None = None
    input_contrasts: tuple[str, ...] = ()
    targets: tuple[dict[str, Any], ...] = ()  # latent models: one entry per output modality
    default_target: str | None = None
    orientation: str = "LPS (canonical axis order; inputs are reoriented)"
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    inference_defaults: InferenceDefaults = InferenceDefaults()
    license: str = ""
    citation: str = ""
    weights_dtype: str = "float32"
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.architecture, dict):
            raise ModelError(f"card of {self.name!r}: architecture must be a mapping, got {self.architecture!r}")
        if self.kind not in KINDS:
            raise ModelError(f"card of {self.name!r}: architecture kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if not (isinstance(self.spacing_mm, int | float) and self.spacing_mm > 0):
            raise ModelError(f"card of {self.name!r}: spacing_mm {self.spacing_mm!r} must be a positive number")

    @property
    def kind(self) -> str:
        return str(self.architecture.get("kind", "diffusion"))

    @property
    def prediction(self) -> str | None:
        """What the denoiser predicts (image, noise, v, flow), as its architecture says; None for Pix2Pix."""
        if self.kind in ONE_PASS:
            return None
        arch = self.architecture.get("unet", {}) if self.kind == "latent" else self.architecture
        return arch.get("prediction")

    @property
    def default_steps(self) -> int | None:
        """Sampling steps unless told otherwise; None for a one-pass model (Pix2Pix)."""
        return None if self.kind in ONE_PASS else self.inference_defaults.steps

    @property
    def train_timesteps(self) -> int:
        return int((self.diffusion or {}).get("train_timesteps", 1000))

    @property
    def target_names(self) -> list[str]:
        """Every output modality by name (a latent model's targets; otherwise the one output)."""
        return [str(t["name"]) for t in self.targets] if self.targets else [self.output_modality]

    def target_name(self, target: str | None) -> str:
        """The output modality ``target`` names (a name or key, any case; None or empty: CT, else the
        first target); ValueError naming what this model offers. Checked before any work is started."""
        want = str(target).strip().lower() if target is not None else ""
        if not self.targets:
            if want in ("", "ct"):
                return "CT"
            raise ValueError(f"model {self.name!r} ({self.kind}) translates MR to CT only: target {target!r} needs "
                             "a latent model (kind latent, see mrtoct models)")
        names = self.target_names
        if not want:
            return "CT" if "CT" in names else names[0]
        for t in self.targets:
            if want in (str(t.get("key", "")).lower(), str(t["name"]).lower()):
                return str(t["name"])
        raise ValueError(f"unknown target {target!r}: this model translates to {', '.join(names)}")

    def check_request(self, target: str | None, steps: int | None, window: tuple[int, ...] | None) -> str:
        """The target's name after checking a request against this model (ValueError otherwise): the
        target exists, the steps fit the training schedule, a window has one size per image axis the
        model works in (3 for 3D, 2 in-slice for 2D)."""
        name = self.target_name(target)
        if steps is not None and steps > self.train_timesteps:
            raise ValueError(f"steps {steps} exceed this model's {self.train_timesteps} training timesteps")
        if self.kind == "syndiff" and steps is not None and steps != self.train_timesteps:
            raise ValueError(f"steps {steps}: a SynDiff model samples in the {self.train_timesteps} steps it was "
                             "trained with; leave steps unset")
        dims = int(self.architecture.get("spatial_dims", 3))
        if window is not None and self.kind != "latent" and len(window) != dims:
            raise ValueError(f"window needs {dims} sizes for model {self.name!r} ({dims}D), got {len(window)}")
        return name

    def translation_bytes(self, image: object, samples: int = 1) -> float:
        """Memory a translation of ``image`` needs: its extent on this model's isotropic grid, about 12
        float32 copies while sampling (network inputs, noise, blend weights), one more per extra sample."""
        from SpineCoreLib.orientation import model_grid

        voxels = float(np.prod(model_grid(image, self.spacing_mm).size, dtype=float))
        return voxels * 4.0 * (12 + max(0, samples - 1))

    @property
    def training_precision(self) -> str:
        return str(self.training.get("precision", "fp32"))

    def replace(self, **changes: Any) -> ModelCard:
        return dataclasses.replace(self, **changes)

    def with_metrics(self, **sections: Any) -> ModelCard:
        """A copy whose ``metrics`` has these sections set (e.g. ``held_out``, ``steps_curve``)."""
        return self.replace(metrics={**self.metrics, **sections})

    @property
    def synthetic_only(self) -> bool:
        """Whether the model learned from generated data only (what every user-facing view must say)."""
        return self.training_data.synthetic is True

    def provenance(self) -> str:
        """"trained on <training data>; intended use: <...>", for panels, listings and logs."""
        return f"trained on {self.training_data.describe()}; intended use: {self.intended_use}"

    def to_json(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["inference_defaults"] = self.inference_defaults.to_json()
        d["training_data"] = self.training_data.to_json()
        d["input_contrasts"] = list(self.input_contrasts)
        if self.targets:
            d["targets"] = [dict(t) for t in self.targets]
        else:
            del d["targets"], d["default_target"]
        return {k: d[k] for k in JSON_ORDER if k in d}

    @classmethod
    def from_json(cls, raw: dict[str, Any], source: str = "card") -> ModelCard:
        """A card from its JSON (any schema up to this one), checked; ModelError names ``source``."""
        if not isinstance(raw, dict):
            raise ModelError(f"{source} holds {type(raw).__name__}, not a JSON object: restore the model folder")
        d = migrate(raw, source)
        missing = [k for k in REQUIRED if k not in d]
        if missing:
            raise ModelError(f"{source} lacks {', '.join(missing)}: the card is incomplete")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ModelError(f"{source} has fields this version does not know ({', '.join(unknown)}): "
                             "update SpineMRtoCT or restore the card")
        try:
            fields = coerce_fields(cls, {k: v for k, v in d.items() if k not in ("inference_defaults", "training_data")},
                                   source)
        except ValueError as exc:
            raise ModelError(str(exc)) from exc
        fields["training_data"] = _training_data(d["training_data"], source)
        given = d.get("inference_defaults") or {}
        try:
            inf = InferenceDefaults(**coerce_fields(InferenceDefaults, given, f"{source}: inference_defaults"))
        except (TypeError, ValueError) as exc:  # TypeError: a key InferenceDefaults lacks
            raise ModelError(f"{source}: inference_defaults {given} are invalid ({exc})") from exc
        bad = [t for t in fields.get("targets") or () if not isinstance(t, dict) or not isinstance(t.get("name"), str)]
        if bad:
            raise ModelError(f"{source}: each target needs a name, got {bad[0]!r}")
        return cls(**{**fields, "inference_defaults": inf, "input_contrasts": tuple(fields.get("input_contrasts") or ()),
                      "targets": tuple(fields.get("targets") or ())})


def _training_data(raw: object, source: str) -> TrainingData:
    if not isinstance(raw, dict):
        raise ModelError(f"{source}: training_data must be a mapping (cohort, synthetic, subjects, source), got {raw!r}")
    names = {f.name for f in dataclasses.fields(TrainingData)}
    if set(raw) != names:
        raise ModelError(f"{source}: training_data needs exactly {sorted(names)}, got {sorted(raw)}")
    try:
        return TrainingData(**coerce_fields(TrainingData, raw, f"{source}: training_data"))
    except ValueError as exc:
        raise ModelError(str(exc)) from exc


def migrate(raw: dict[str, Any], source: str = "card") -> dict[str, Any]:
    """The card's JSON in the current schema (a new dict; ``raw`` is untouched).

    Schema 1 (``"version": 1``, or no version) left to every reader what to assume where a field was
    missing: architecture kind (diffusion), ``inference_defaults`` steps (20), window (3D: 128x128x32
    voxels, 2D: whole slices) and overlap (0.25), ``weights_dtype`` (float32), training precision (fp32).
    Schema 2 writes them all, under ``schema_version``. Schema 3 adds the required ``training_data``
    (cohort, synthetic or real, subjects, source) and ``intended_use``; older cards get them as not
    recorded.
    """
    d = {k: v for k, v in raw.items()}
    version = d.pop("schema_version", None) or d.pop("version", 1)
    if not isinstance(version, int) or version < 1:
        raise ModelError(f"{source}: schema version {version!r} is not a positive integer")
    if version > SCHEMA_VERSION:
        raise ModelError(f"{source} is a schema-{version} card; this SpineMRtoCT reads up to {SCHEMA_VERSION}: "
                         "update SpineMRtoCT")
    d.pop("version", None)
    if version == 1:
        d = _from_schema_1(d)
    if version <= 2:
        d = _from_schema_2(d)
    return d


def _from_schema_2(d: dict[str, Any]) -> dict[str, Any]:
    """Schema 3 requires ``training_data`` and ``intended_use``. An older card did not record them: the
    subject count comes from its training section, the rest is said to be unknown, never guessed."""
    training = d.get("training") if isinstance(d.get("training"), dict) else {}
    cases = training.get("cases")
    d.setdefault("training_data", {"cohort": str(training.get("manifest") or NOT_RECORDED), "synthetic": None,
                                   "subjects": cases if isinstance(cases, int) else None, "source": NOT_RECORDED})
    d.setdefault("intended_use", NOT_RECORDED)
    return d


def _from_schema_1(d: dict[str, Any]) -> dict[str, Any]:
    arch = dict(d.get("architecture") or {})
    arch.setdefault("kind", "diffusion")
    d["architecture"] = arch
    inf = dict(d.get("inference_defaults") or {})
    inf["steps"] = int(inf.get("steps") or 20)
    window = [int(w) for w in inf.get("window") or ()]
    dims = int(arch.get("spatial_dims", 3))
    if arch["kind"] != "latent" and len(window) != dims:
        window = [128, 128, 32] if dims == 3 else []
    inf["window"] = window
    inf.setdefault("overlap", 0.25)
    inf.setdefault("eta", 0.0)
    d["inference_defaults"] = inf
    d.setdefault("weights_dtype", "float32")
    if isinstance(d.get("training"), dict):
        d["training"] = {**d["training"], "precision": d["training"].get("precision", "fp32")}
    return d


def read_card(folder: str | os.PathLike) -> ModelCard:
    """The card of a model folder, migrated to the current schema and checked."""
    d = Path(folder)
    p = d / CARD
    if not p.is_file():
        raise ModelError(f"{d} is not a model folder: {CARD} is missing")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{p} is not valid JSON ({exc.msg}): restore the model folder") from exc
    return ModelCard.from_json(raw, str(p))


def write_card(folder: str | os.PathLike, card: ModelCard) -> Path:
    """Write the card atomically (current schema); its weights and their SHA256 stay as they are."""
    p = Path(folder) / CARD
    write_json(p, finite_json(card.to_json()))
    return p


def finite_json(obj: Any) -> Any:
    """Non-finite floats become None, so a card is strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_json(v) for v in obj]
    return obj
