"""One entry point for every vertebra segmenter: built-in, TotalSegmentator or a MONAI bundle."""

from __future__ import annotations

import logging
from pathlib import Path

import SimpleITK as sitk

from .builtin import BuiltinOptions, segment_builtin
from .errors import SegmentationError
from .landmarks import LandmarkSource

log = logging.getLogger(__name__)

METHODS = ("builtin", "totalsegmentator")


def looks_like_path(method: str) -> bool:
    """A method that is no built-in name is meant as a bundle folder when it exists or reads like a path."""
    if Path(method).expanduser().exists():
        return True
    return any(c in method for c in "/\\") or method.startswith((".", "~"))


def segment_vertebrae(image: sitk.Image, method: str = "builtin", landmarks: LandmarkSource | None = None,
                      caudal_level: str = "L5", weights_dir: str | Path | None = None,
                      device: str | None = None, options: BuiltinOptions | None = None) -> sitk.Image:
    """Vertebra labels (UInt16, VerSe/TPTBox IDs) of a CT in HU, on ``image``'s exact grid.

    ``method``: ``"builtin"`` (no weights; ``landmarks`` or ``caudal_level`` name the vertebrae),
    ``"totalsegmentator"`` (``weights_dir``: its weights folder; ``device``: ``"gpu"``/``"cpu"``) or the
    path of a MONAI bundle folder. The AI methods name vertebrae themselves and ignore
    ``landmarks``. ``image`` is not modified.
    """
    name = str(method)
    if name.lower() == "builtin":
        return segment_builtin(image, landmarks, caudal_level, options)
    if landmarks is not None:
        log.info("method %s names the vertebrae itself: the landmarks are not used", name)
    if name.lower() == "totalsegmentator":
        from .totalseg import segment_totalsegmentator

        return segment_totalsegmentator(image, weights_dir, device)
    if looks_like_path(name):
        from .bundle import segment_bundle

        return segment_bundle(image, name)
    raise SegmentationError(f"unknown segmentation method {method!r}: use 'builtin', 'totalsegmentator' "
                            "or the folder of a MONAI bundle")
