"""What a user chooses for one translation, as one object that every layer passes on unchanged.

The panel's parameter node, ``Logic.process``, the background job, the pipeline, ``mrtoct
translate`` and ``translate_image`` all build or receive these objects, with the same names in
every layer, and each is checked in one place, ``validate``, before any work. No torch import, so
the Slicer panel can use them before torch is installed; they round-trip through JSON for a child
process.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .precision import PRECISIONS

DEVICES = ("auto", "cpu", "cuda")
MAX_STEPS = 1000  # the training schedule's length: more DDIM steps than timesteps do not exist
MAX_SAMPLES = 32
MIN_MARGIN_MM, MAX_MARGIN_MM = 20.0, 300.0  # less would cut into a vertebra around its two landmarks
MAX_WINDOW_BATCH = 32  # memory grows with it: each window of the batch holds its own activations


@dataclass
class TranslationOptions:
    """Model, target and sampling settings of one translation."""

    model: str = ""  # a model name, folder or URL; empty: the default model
    target: str = "CT"  # output modality; latent models offer several (their card's targets)
    steps: int | None = None  # sampling steps; None: the model card's default
    eta: float = 0.0  # DDIM stochasticity: 0 deterministic, 1 Graf et al.'s (2023) stochastic setting
    seed: int = 0
    samples: int = 1  # samples averaged; more than one also gives a voxel-wise standard deviation
    device: str = "auto"  # auto (CUDA when available), cpu or cuda
    precision: str = "auto"  # auto | fp32 | bf16 | fp16 (precision.choose_precision)
    window: tuple[int, ...] | None = None  # sliding-window size in voxels; None: the card's
    overlap: float | None = None  # window overlap in [0, 0.9]; None: the card's
    window_batch: int = 2  # windows per network call (diffusion.sliding: 1.3x per window in fp32 on 2 cores)
    output_iso: bool = False  # also keep the result on the model's isotropic grid
    bias_correction: bool = True  # N4 bias-field correction of the MR before it is normalised (SpineCoreLib.bias)
    crop_to_spine: bool = True  # sample only the body's box, narrowed to the landmarks when given (region)
    spine_margin_mm: float = 40.0  # around the landmarks: a body's front and the transverse processes' tips

    def validate(self) -> None:
        """ValueError naming the first setting out of range and what it may be."""
        if self.steps is not None and not (isinstance(self.steps, int) and 1 <= self.steps <= MAX_STEPS):
            raise ValueError(f"steps must be a whole number from 1 to {MAX_STEPS} (or None for the model's "
                             f"default), got {self.steps!r}")
        if not (isinstance(self.seed, int) and not isinstance(self.seed, bool) and 0 <= self.seed < 2**32):
            raise ValueError(f"seed must be a whole number from 0 to 2**32 - 1, got {self.seed!r}")
        if not 0.0 <= float(self.eta) <= 1.0:
            raise ValueError(f"eta must be between 0 and 1, got {self.eta}")
        if not (isinstance(self.samples, int) and 1 <= self.samples <= MAX_SAMPLES):
            raise ValueError(f"samples must be a whole number from 1 to {MAX_SAMPLES}, got {self.samples!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device {self.device!r} is not one of {', '.join(DEVICES)}")
        if str(self.precision).lower() not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if self.window is not None and (len(self.window) == 0 or min(self.window) < 1):
            raise ValueError(f"window sizes must be at least 1 voxel, got {tuple(self.window)}")
        if self.overlap is not None and not 0.0 <= float(self.overlap) <= 0.9:
            raise ValueError(f"overlap must be between 0 and 0.9, got {self.overlap}")
        if not (isinstance(self.window_batch, int) and 1 <= self.window_batch <= MAX_WINDOW_BATCH):
            raise ValueError(f"window_batch must be a whole number from 1 to {MAX_WINDOW_BATCH}, got "
                             f"{self.window_batch!r}")
        if not MIN_MARGIN_MM <= float(self.spine_margin_mm) <= MAX_MARGIN_MM:
            raise ValueError(f"spine_margin_mm must be between {MIN_MARGIN_MM:g} and {MAX_MARGIN_MM:g} mm, got "
                             f"{self.spine_margin_mm}")
        if not str(self.target).strip():
            raise ValueError("target must name an output modality, e.g. CT")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> TranslationOptions:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown translation options {unknown}; known: {sorted(known)}")
        opts = cls(**d)
        if opts.window is not None:
            opts.window = tuple(int(w) for w in opts.window)
        return opts


@dataclass
class SegmentationOptions:
    """Whether and how the vertebrae of a synthetic CT are segmented."""

    segment: bool = True
    segmentation_method: str = "builtin"  # builtin | totalsegmentator | a MONAI bundle folder
    caudal_level: str = "L5"  # the lowest vertebra in view, for labelling without landmarks
    segmentation_weights: str | None = None  # weights folder of an optional segmenter (sites without internet)

    def validate(self) -> None:
        if not str(self.segmentation_method).strip():
            raise ValueError("segmentation method must be builtin, totalsegmentator or a MONAI bundle folder")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> SegmentationOptions:
        return cls(**d)


def options_from_settings(settings: object) -> tuple[TranslationOptions, SegmentationOptions]:
    """Both option objects from anything that has their fields as attributes (the panel's parameter node,
    which uses the same names); fields it lacks keep their defaults. The panel's "model default" steps
    (0) and an empty weights folder become None."""
    def read(cls: type) -> dict:
        return {f.name: getattr(settings, f.name) for f in dataclasses.fields(cls) if hasattr(settings, f.name)}

    translation = TranslationOptions(**read(TranslationOptions))
    translation.steps = translation.steps or None
    segmentation = SegmentationOptions(**read(SegmentationOptions))
    segmentation.segmentation_weights = segmentation.segmentation_weights or None
    return translation, segmentation
