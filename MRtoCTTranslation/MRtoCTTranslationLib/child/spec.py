"""What a translation child process reads and writes: one folder with a ``job.json`` (``JobSpec``), the
inputs as NRRD (exact double-precision geometry, unlike NIfTI's float32) and, at the end, the outputs."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..options import SegmentationOptions, TranslationOptions

SPEC = "job.json"
MR, LANDMARKS, REFERENCE, REFERENCE_LABELS = "mr.nrrd", "landmarks.mrk.json", "reference.nrrd", "reference_labels.nrrd"
IMAGE, IMAGE_ISO, STD, LABELS, RESULT = "image.nrrd", "image_iso.nrrd", "std.nrrd", "labels.nrrd", "result.json"


@dataclass
class JobSpec:
    """The inputs present in ``folder`` (file names) and the options of the run."""

    folder: str
    options: TranslationOptions
    segmentation: SegmentationOptions = field(default_factory=SegmentationOptions)
    landmarks: bool = False
    reference: bool = False
    reference_labels: bool = False

    def path(self, name: str) -> Path:
        return Path(self.folder) / name

    def write(self) -> Path:
        data = {"options": self.options.to_json(), "segmentation": self.segmentation.to_json(),
                "landmarks": self.landmarks, "reference": self.reference, "reference_labels": self.reference_labels}
        p = self.path(SPEC)
        p.write_text(json.dumps(data, indent=2), encoding="utf-8")
        return p

    @classmethod
    def read(cls, path: str | os.PathLike) -> JobSpec:
        p = Path(path)
        data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
        return cls(str(p.parent), TranslationOptions.from_json(data["options"]),
                   SegmentationOptions.from_json(data["segmentation"]), bool(data["landmarks"]),
                   bool(data["reference"]), bool(data["reference_labels"]))
