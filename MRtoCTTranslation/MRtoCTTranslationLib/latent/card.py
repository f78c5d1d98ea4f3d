"""The card of a latent model: architecture of all three networks, targets with their intensity
mappings, accepted sources, spacing, training, metrics, citation (saved with ``models.folder``)."""

from __future__ import annotations

import os
from pathlib import Path

from ..intensity import MRMapping
from ..training.trainer import portable_config
from .architecture import LatentArchitecture
from .config import LatentTrainConfig
from .modalities import CT_KEY, display_name

CITATION = ("Kim J, Park H. Adaptive latent diffusion model for 3D medical image to image translation: "
            "multi-modal magnetic resonance imaging study. WACV 2024, pp. 7604-7613.")


def latent_card(cfg: LatentTrainConfig, arch: LatentArchitecture, n_train: int, metrics: dict) -> dict:
    targets = [m.to_card() for m in cfg.modality_list]
    keys = list(cfg.modalities)
    default = CT_KEY if CT_KEY in keys else keys[0]
    return {
        "name": cfg.name,
        "description": cfg.description,
        "version": 1,
        "architecture": arch.to_json(),
        "diffusion": {"schedule": "cosine" if arch.unet.prediction != "flow" else "rectified_flow",
                      "train_timesteps": arch.unet.train_timesteps, "prediction": arch.unet.prediction,
                      "sampler": "rectified_flow_euler" if arch.unet.prediction == "flow" else "ddim",
                      "latent_scale": arch.latent_scale},
        "input_modality": "MR",
        "input_contrasts": cfg.source_keys,
        "output_modality": "/".join(display_name(k) for k in keys),
        "targets": targets,
        "default_target": display_name(default),
        "spacing_mm": cfg.spacing_mm,
        "orientation": "LPS (canonical axis order; inputs are reoriented)",
        "intensity": {"mr": MRMapping().to_json(), "ct": cfg.ct_map.to_json()},
        "training": {"manifest": Path(cfg.manifest).name, "cases": n_train, "config": portable_config(cfg),
                     "world_size": int(os.environ.get("WORLD_SIZE", "1"))},
        "metrics": metrics,
        "inference_defaults": {"steps": 20, "eta": 0.0, "target": display_name(default)},
        "license": cfg.license,
        "citation": CITATION,
    }
