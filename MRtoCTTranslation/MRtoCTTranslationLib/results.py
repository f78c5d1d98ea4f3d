"""What a translation run gives back, and how it stops early: no torch here, so the Slicer side (the MRML
layer and the panel) can hold results and cancel without loading the models' dependencies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import SimpleITK as sitk

from .models.card import ModelCard

StageProgress = Callable[[str, int, int], None]  # (stage, done, total)


class Cancelled(Exception):
    """The caller cancelled sampling or a run."""


@dataclass
class PipelineResult:
    image: sitk.Image  # the target modality on the input's grid (HU for CT)
    image_iso: sitk.Image | None  # on the model's isotropic grid (None when not asked for)
    std: sitk.Image | None  # uncertainty on the input's grid when samples > 1
    labels: sitk.Image | None  # vertebra labels (VerSe IDs) on the input's grid
    metrics: dict | None  # evaluation against the reference, when given
    card: ModelCard
    target: str = "CT"
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def is_ct(self) -> bool:
        """Whether the result is a CT (in HU): only then are bones segmented and HU metrics computed."""
        return self.target == "CT"
