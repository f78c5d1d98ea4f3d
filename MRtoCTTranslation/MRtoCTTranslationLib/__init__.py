"""Core of the MRtoCTTranslation module: phantom data, translation models, command line.

Nothing in this package imports Slicer, except the ``mrml`` sub-package.
"""
