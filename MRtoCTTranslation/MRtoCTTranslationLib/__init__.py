"""Core of the MRtoCTTranslation module: diffusion, Pix2Pix and latent models, their training, the
model folders and cards, translation and the translate-segment-evaluate pipeline.

Builds on ``SpineCoreLib``; never imports ``SpineLandmarkRegistrationLib``. Nothing in this package
imports Slicer, except the ``mrml`` sub-package.
"""
