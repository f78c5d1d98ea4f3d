"""The one place a trainer's model card is put together: the fields every card has, from the training
config, plus what the model kind adds (architecture, diffusion, inputs, outputs, intensities)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ORIENTATION = "LPS (canonical axis order; inputs are reoriented)"
CARD_VERSION = 1


def build_card(cfg: Any, *, n_train: int, metrics: dict, precision: str, config: dict, architecture: dict,
               diffusion: dict | None, input_contrasts: list[str], output_modality: str, intensity: dict,
               inference_defaults: dict, citation: str, **model_specific: Any) -> dict:
    """A card for a model trained with ``cfg`` (name, description, manifest, spacing and license come from
    it; ``config`` is its portable form) on ``n_train`` cases in ``precision``."""
    return {
        "name": cfg.name,
        "description": cfg.description,
        "version": CARD_VERSION,
        "architecture": architecture,
        "diffusion": diffusion,
        "input_modality": "MR",
        "input_contrasts": input_contrasts,
        "output_modality": output_modality,
        **model_specific,
        "spacing_mm": cfg.spacing_mm,
        "orientation": ORIENTATION,
        "intensity": intensity,
        "training": {"manifest": Path(cfg.manifest).name, "cases": n_train, "config": config,
                     "world_size": int(os.environ.get("WORLD_SIZE", "1")), "precision": precision},
        "metrics": metrics,
        "inference_defaults": inference_defaults,
        "license": cfg.license,
        "citation": citation,
    }
