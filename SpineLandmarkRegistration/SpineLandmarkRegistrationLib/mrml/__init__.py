"""MRML layer of SpineLandmarkRegistration: the live registration of point lists and transform nodes.

Uses only what PyPI's slicer-core provides, never ``slicer.app``, ``qt`` or ``ctk``, so it runs in
Slicer and headless. Volume and point-list conversions come from ``SpineCoreLib.mrml``.
"""
