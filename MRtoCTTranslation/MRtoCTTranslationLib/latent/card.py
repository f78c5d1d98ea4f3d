"""The card of a latent model: architecture of all three networks, targets with their intensity
mappings, accepted sources, spacing, training, metrics, citation (saved with ``models.folder``)."""

from __future__ import annotations

from SpineCoreLib.intensity import MRMapping

from ..models.card import ModelCard
from ..models.card_builder import build_card
from ..training.trainer import portable_config
from .architecture import LatentArchitecture
from .config import LatentTrainConfig
from .modalities import CT_KEY, display_name

CITATION = ("Kim J, Park H. Adaptive latent diffusion model for 3D medical image to image translation: "
            "multi-modal magnetic resonance imaging study. WACV 2024, pp. 7604-7613.")


def latent_card(cfg: LatentTrainConfig, arch: LatentArchitecture, n_train: int, metrics: dict,
                precision: str) -> ModelCard:
    keys = list(cfg.modalities)
    default = display_name(CT_KEY if CT_KEY in keys else keys[0])
    flow = arch.unet.prediction == "flow"
    diffusion = {"schedule": "rectified_flow" if flow else "cosine", "train_timesteps": arch.unet.train_timesteps,
                 "prediction": arch.unet.prediction, "sampler": "rectified_flow_euler" if flow else "ddim",
                 "latent_scale": arch.latent_scale}
    return build_card(cfg, n_train=n_train, metrics=metrics, precision=precision, config=portable_config(cfg),
                      architecture=arch.to_json(), diffusion=diffusion, input_contrasts=cfg.source_keys,
                      output_modality="/".join(display_name(k) for k in keys),
                      intensity={"mr": MRMapping().to_json(), "ct": cfg.ct_map.to_json()},
                      inference_defaults={"steps": 20, "eta": 0.0, "target": default}, citation=CITATION,
                      targets=[m.to_card() for m in cfg.modality_list], default_target=default)
