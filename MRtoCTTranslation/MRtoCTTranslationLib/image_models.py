"""Image-space models that translate MR to CT: the conditional DDIM (Graf et al. 2023), its Pix2Pix
baseline (Isola et al., CVPR 2017), and the unpaired CUT and SynDiff, in 2D (sagittal slices) or 3D,
through sliding windows.

Every model the translator runs, these and ``latent.loaded.LatentModel``, offers one interface:
``sampled`` (whether it samples in steps), ``default_steps``, ``target_name(target)``, ``sample(mr_values, options,
sample_index, precision, progress, cancelled)`` on the model grid, ``to_output(values, target)``
and ``background(target)``; ``translator.translate_image`` needs nothing else and never asks which
kind of model it has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from SpineCoreLib.intensity import CTMapping, MRMapping
from SpineCoreLib.orientation import pad_to_multiple

from .diffusion.ddim import ddim_sample
from .diffusion.networks import NetworkConfig
from .diffusion.schedule import CosineSchedule
from .diffusion.sliding import sliding_apply
from .models.card import ModelCard
from .options import TranslationOptions
from .precision import Precision

Progress = Callable[[int, int], None]


def fit_window(window: Sequence[int], shape: Sequence[int], divisor: int) -> list[int]:
    """The window clipped to the (padded) volume and rounded down to what the network can take."""
    if len(window) != len(shape):
        raise ValueError(f"window {tuple(window)} has {len(window)} sizes: this model needs {len(shape)}")
    win = [min(int(w), int(s)) for w, s in zip(window, shape, strict=True)]
    return [max(divisor, w - w % divisor) for w in win]


@dataclass
class ImageModel:
    """What both image-space models share: the network, its grid and intensity mappings, windows."""

    folder: Path
    card: ModelCard
    cfg: NetworkConfig
    net: torch.nn.Module
    mr_map: MRMapping
    ct_map: CTMapping
    schedule: CosineSchedule
    spacing: float
    device: torch.device

    @property
    def kind(self) -> str:
        return self.cfg.kind

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def window(self) -> tuple[int, ...]:
        """The card's inference window (3D: voxels; 2D: in-slice pixels, () = whole slices).

        Models trained here write their training patch: GroupNorm then sees windows of the size it
        was trained on, which measured 3-9 HU better than one large window for the bundled 3D models
        (docs/results.md)."""
        return self.card.inference_defaults.window

    @property
    def overlap(self) -> float:
        return self.card.inference_defaults.overlap

    @property
    def default_steps(self) -> int:
        return self.card.inference_defaults.steps

    sampled = True  # samples in steps (progress: one unit a step); False: one pass

    def target_name(self, target: str | None) -> str:
        """"CT" (the only output of an image-space model); ValueError for any other target."""
        return self.card.target_name(target)

    def to_output(self, values: np.ndarray, target: str) -> np.ndarray:
        return self.ct_map.inverse(values)

    def background(self, target: str) -> float:
        return -1024.0

    def _layout(self, mr_values: np.ndarray, options: TranslationOptions):
        """The condition tensor, the fitted window, the overlap and a function taking an output tensor back
        to a volume. 2D models see every sagittal slice (the canonical last axis) as one batch element."""
        window = tuple(self.window if options.window is None else options.window)
        overlap = self.overlap if options.overlap is None else float(options.overlap)
        if self.cfg.spatial_dims == 2:
            mr_pad, crop = pad_to_multiple(mr_values, self.cfg.divisor, axes=(0, 1))
            cond = torch.from_numpy(np.ascontiguousarray(np.moveaxis(mr_pad, -1, 0)))[:, None].to(self.device)
            win = fit_window(window or cond.shape[2:], cond.shape[2:], self.cfg.divisor)
        else:
            mr_pad, crop = pad_to_multiple(mr_values, self.cfg.divisor)
            cond = torch.from_numpy(mr_pad)[None, None].to(self.device)
            win = fit_window(window, mr_pad.shape, self.cfg.divisor)

        def volume(out: torch.Tensor) -> np.ndarray:
            arr = out[:, 0].float().cpu().numpy()
            arr = np.moveaxis(arr, 0, -1) if self.cfg.spatial_dims == 2 else arr[0]
            return arr[crop]

        return cond, win, overlap, volume

    def _timesteps(self, windows: torch.Tensor, t: int) -> torch.Tensor:
        """Timestep ``t`` for each window of a batched network call."""
        return torch.full((windows.shape[0],), t, device=self.device, dtype=torch.long)

    def _noise(self, cond: torch.Tensor, options: TranslationOptions, sample_index: int
               ) -> tuple[torch.Generator, torch.Tensor]:
        """The seeded generator (seed ``options.seed + sample_index``) and the starting noise drawn from it."""
        gen = torch.Generator(device="cpu").manual_seed(int(options.seed) + sample_index)
        return gen, torch.randn(cond.shape, generator=gen).to(self.device)

    def _windowed(self, cond: torch.Tensor, win: list[int], overlap: float, options: TranslationOptions,
                  precision: Precision) -> Callable[[torch.Tensor, int], torch.Tensor]:
        """(noisy CT, network timestep) -> the conditional network's float32 output over every window."""
        def run(x: torch.Tensor, t: int) -> torch.Tensor:
            inputs = torch.cat([x, cond], dim=1)
            with torch.inference_mode(), precision.autocast():
                return sliding_apply(lambda w: self.net(w[:, :1], w[:, 1:], self._timesteps(w, t)), inputs, win,
                                     overlap, batch=options.window_batch)

        return run


class DiffusionModel(ImageModel):
    """Conditional DDIM: the MR concatenated to the noisy CT, denoised window by window at every step."""

    def sample(self, mr_values: np.ndarray, options: TranslationOptions, sample_index: int, precision: Precision,
               progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> np.ndarray:
        """Network-value CT for network-value MR on the model grid; seed ``options.seed + sample_index``."""
        steps = options.steps or self.default_steps
        cond, win, overlap, volume = self._layout(mr_values, options)
        gen, noise = self._noise(cond, options, sample_index)
        denoise = self._windowed(cond, win, overlap, options, precision)
        x0 = ddim_sample(denoise, noise, self.schedule, self.cfg.prediction, steps, options.eta, gen,
                         clip=self.ct_map.valid_range, progress=progress, cancelled=cancelled)
        return volume(x0)


class Pix2PixModel(ImageModel):
    """A generator that maps MR to CT in one pass (no steps, no noise)."""

    sampled = False

    @property
    def default_steps(self) -> int:
        return 1

    def sample(self, mr_values: np.ndarray, options: TranslationOptions, sample_index: int, precision: Precision,
               progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> np.ndarray:
        cond, win, overlap, volume = self._layout(mr_values, options)
        with torch.inference_mode(), precision.autocast():
            out = sliding_apply(lambda c: self.net(c), cond, win, overlap, batch=options.window_batch)
        if progress:
            progress(1, 1)
        return volume(out)


class SynDiffModel(ImageModel):
    """SynDiff's diffusive generator (Özbey et al., IEEE TMI 2023): the MR concatenated to the noisy CT,
    x0 predicted window by window, the next x drawn from the posterior; as many steps as it was trained
    with (the card's ``train_timesteps``). Stochastic in its draws, deterministic for a seed; no eta."""

    @property
    def default_steps(self) -> int:
        return self.card.train_timesteps

    def sample(self, mr_values: np.ndarray, options: TranslationOptions, sample_index: int, precision: Precision,
               progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> np.ndarray:
        """Network-value CT for network-value MR on the model grid; seed ``options.seed + sample_index``."""
        from .diffusion.syndiff import SynDiffSchedule, syndiff_sample, timestep_input

        schedule = SynDiffSchedule(self.card.train_timesteps)
        cond, win, overlap, volume = self._layout(mr_values, options)
        gen, noise = self._noise(cond, options, sample_index)
        windowed = self._windowed(cond, win, overlap, options, precision)

        def denoise(x_i: torch.Tensor, i: int) -> torch.Tensor:
            return windowed(x_i, int(timestep_input(torch.tensor(i), schedule.steps)))

        x0 = syndiff_sample(denoise, noise, schedule, gen, clip=self.ct_map.valid_range, progress=progress,
                            cancelled=cancelled)
        return volume(x0)


CLASSES: dict[str, type[ImageModel]] = {"diffusion": DiffusionModel, "pix2pix": Pix2PixModel, "cut": Pix2PixModel,
                                        "syndiff": SynDiffModel}  # one per kind of ``diffusion.config.KINDS``


def image_model(folder: Path, card: ModelCard, cfg: NetworkConfig, net: torch.nn.Module, mr_map: MRMapping,
                ct_map: CTMapping, schedule: CosineSchedule, spacing: float, device: torch.device) -> ImageModel:
    """The model class of the network's kind around a built network."""
    if cfg.kind not in CLASSES:
        raise ValueError(f"unknown model kind {cfg.kind!r}: one of {sorted(CLASSES)}")
    return CLASSES[cfg.kind](folder, card, cfg, net, mr_map, ct_map, schedule, spacing, device)
