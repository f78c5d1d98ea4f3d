"""The one error every segmentation method raises for input or setup it cannot use."""

from __future__ import annotations


class SegmentationError(ValueError):
    """A segmentation that cannot run; the message says what is missing and how to supply it."""
