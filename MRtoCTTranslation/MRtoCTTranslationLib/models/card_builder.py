"""The one place a trainer's model card is put together: the fields every card has, from the training
config, plus what the model kind adds (architecture, diffusion, inputs, outputs, intensities)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .card import SCHEMA_VERSION, ModelCard


def build_card(cfg: Any, *, n_train: int, metrics: dict, precision: str, config: dict, architecture: dict,
               diffusion: dict | None, input_contrasts: list[str], output_modality: str, intensity: dict,
               inference_defaults: dict, citation: str, **model_specific: Any) -> ModelCard:
    """A card for a model trained with ``cfg`` (name, description, manifest, spacing and license come from
    it; ``config`` is its portable form) on ``n_train`` cases in ``precision``."""
    return ModelCard.from_json({
        "schema_version": SCHEMA_VERSION,
        "name": cfg.name,
        "description": cfg.description,
        "training_data": {"cohort": f"{Path(cfg.manifest).parent.name}/{Path(cfg.manifest).name}, train split",
                          "synthetic": cfg.synthetic_data, "subjects": n_train,
                          "source": cfg.data_source or "not given in the training config"},
        "intended_use": cfg.intended_use,
        "architecture": architecture,
        "diffusion": diffusion,
        "input_modality": "MR",
        "input_contrasts": input_contrasts,
        "output_modality": output_modality,
        **model_specific,
        "spacing_mm": cfg.spacing_mm,
        "intensity": intensity,
        "training": {"manifest": Path(cfg.manifest).name, "cases": n_train, "config": config,
                     "world_size": int(os.environ.get("WORLD_SIZE", "1")), "precision": precision},
        "metrics": metrics,
        "inference_defaults": inference_defaults,
        "license": cfg.license,
        "citation": citation,
        "weights_sha256": "",
    }, f"the card of {cfg.name!r}")
