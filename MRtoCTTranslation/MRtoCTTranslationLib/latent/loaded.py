"""A latent model read from its folder (card + one safetensors file), ready for inference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from SpineCoreLib.intensity import MRMapping
from SpineCoreLib.orientation import pad_to_multiple

from ..diffusion.networks import for_inference
from ..diffusion.schedule import CosineSchedule
from ..models.card import ModelCard, ModelError
from ..models.folder import load_into, load_weights
from ..options import TranslationOptions
from ..precision import Precision
from .architecture import LatentArchitecture
from .modalities import Modality
from .networks import LatentNetworks


@dataclass
class LatentModel:
    """What ``translator.translate_image`` needs of a latent model (``kind`` is "latent")."""

    folder: Path
    card: ModelCard
    arch: LatentArchitecture
    nets: LatentNetworks
    modalities: list[Modality]  # in SPADE-head / class-index order
    sources: list[str]
    mr_map: MRMapping  # how an input MR becomes network values
    schedule: CosineSchedule
    spacing: float
    device: torch.device
    kind: str = "latent"
    sampled = True

    @property
    def target_names(self) -> list[str]:
        return [m.name for m in self.modalities]

    def target_index(self, target: str | None) -> int:
        """Index of a target name (case-insensitive; None: CT); ValueError naming the available ones."""
        return self.target_names.index(self.card.target_name(target))

    # the interface every translation model offers (image_models)
    @property
    def name(self) -> str:
        return self.card.name

    @property
    def default_steps(self) -> int:
        return self.card.inference_defaults.steps

    def target_name(self, target: str | None) -> str:
        """The display name of a target on the card (case-insensitive; None: CT)."""
        return self.card.target_name(target)

    def to_output(self, values: np.ndarray, target: str) -> np.ndarray:
        return self.modalities[self.target_index(target)].from_values(values)

    def background(self, target: str) -> float:
        return self.modalities[self.target_index(target)].background

    def sample(self, mr_values: np.ndarray, options: TranslationOptions, sample_index: int, precision: Precision,
               progress: Callable[[int, int], None] | None = None,
               cancelled: Callable[[], bool] | None = None) -> np.ndarray:
        """Target network values on the model grid for network-value MR there (the whole volume at once, as
        Kim & Park do); seed ``options.seed + sample_index``."""
        from .sampling import sample_target

        padded, crop = pad_to_multiple(mr_values, self.arch.multiple)
        source = torch.from_numpy(np.ascontiguousarray(padded, dtype=np.float32))[None, None].to(self.device)
        target = torch.tensor([self.target_index(options.target)], device=self.device, dtype=torch.long)
        out = sample_target(self.nets, source, target, self.schedule, options.steps or self.default_steps,
                            options.eta, int(options.seed) + sample_index, precision, progress, cancelled)
        return out[0, 0].cpu().numpy()[crop]


def modalities_from_card(card: ModelCard) -> list[Modality]:
    """The card's targets in index order."""
    return [Modality.from_card(e) for e in card.targets]


def load_latent_model(folder: str | Path, card: ModelCard, device: torch.device) -> LatentModel:
    """Build the three networks from the card, load their SHA256-checked weights, eval mode."""
    d = Path(folder)
    try:
        arch = LatentArchitecture.from_json(card.architecture)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelError(f"{d}: the card's latent architecture is invalid ({exc})") from exc
    mods = modalities_from_card(card)
    if [m.key for m in mods] != list(arch.modalities):
        raise ModelError(f"{d}: the card's targets {[m.key for m in mods]} differ from the architecture's "
                         f"modalities {arch.modalities}: the card is inconsistent")
    nets = LatentNetworks(arch)
    load_into(nets, load_weights(d, card), d)
    for_inference(nets.to(device), 3)
    mr = {k: v for k, v in card.intensity["mr"].items() if k != "kind"}
    return LatentModel(d, card, arch, nets, mods, list(card.input_contrasts), MRMapping(**mr),
                       CosineSchedule(arch.unet.train_timesteps), float(card.spacing_mm), device)
