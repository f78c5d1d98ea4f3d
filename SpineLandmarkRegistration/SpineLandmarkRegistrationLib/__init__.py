"""Core of the SpineLandmarkRegistration module: geometry, landmark naming, markups I/O.

Nothing in this package imports Slicer, except the ``mrml`` sub-package, which moves data
between MRML nodes and this core.
"""
