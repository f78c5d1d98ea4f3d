"""Core of the SpineLandmarkRegistration module: matching named landmarks, rigid to piecewise fits,
registration QA, landmark proposals from a labelmap and export of registered pairs.

Builds on ``SpineCoreLib`` (geometry, level names, markups I/O). Nothing in this package imports
Slicer, except the ``mrml`` sub-package, which drives the live registration in the scene.
"""
