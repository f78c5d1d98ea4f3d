"""Shared core of SpineMRtoCT, the base both modules and the ``mrtoct`` command line build on.

Geometry and conventions (RAS in Slicer, LPS in ITK and files), vertebra level names, markups and
manifest I/O, atomic writes, resampling, orientation, intensity mappings, the paired phantom, the
vertebra segmenter and evaluation. It imports neither module: dependencies point one way, from
``SpineLandmarkRegistrationLib`` and ``MRtoCTTranslationLib`` down to here, and from ``mrtoct`` down to
all three. Nothing here imports Slicer, except the ``mrml`` sub-package, and nothing imports torch when loaded
(only the TotalSegmentator runner, when it runs), so Slicer can load it without the PyTorch extension.
"""
