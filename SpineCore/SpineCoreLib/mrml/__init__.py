"""Shared MRML layer: volumes, point lists and phantom cases between MRML nodes and the core.

Uses only what PyPI's slicer-core provides (``slicer.vtkMRML*`` classes and ``slicer.util`` array
helpers), never ``slicer.app``, ``qt`` or ``ctk``, so it runs in Slicer and headless. Every function
takes the scene or node it works on; none reads ``slicer.mrmlScene``.
"""
