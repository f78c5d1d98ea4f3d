"""MRML layer of MRtoCTTranslation: moves cases and results between files, the core and MRML nodes.

Uses only what PyPI's slicer-core provides (no ``slicer.app``, ``qt`` or ``ctk``).
"""
