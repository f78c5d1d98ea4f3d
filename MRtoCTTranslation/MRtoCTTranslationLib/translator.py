"""MR in, synthetic CT out: a loaded model, whole-volume sampling, and the input's geometry back.

The MR is put on the model grid (canonical orientation, isotropic model spacing: finer than a
thick-slice MR, as in the seed study), denoised with the project's DDIM loop through sliding
windows at every step, mapped back to HU and resampled onto the input's exact grid. K samples
give a mean and a voxel-wise standard deviation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk
import torch

from .diffusion.ddim import ddim_sample
from .diffusion.networks import NetworkConfig, build_network, for_inference
from .diffusion.schedule import CosineSchedule
from .diffusion.sliding import sliding_apply
from .intensity import CTMapping, MRMapping
from .models.folder import ModelError, load_weights, read_card
from .orientation import canonical, model_grid, pad_to_multiple, to_grid
from .precision import Precision, as_precision

if TYPE_CHECKING:
    from .latent.loaded import LatentModel

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


@dataclass
class LoadedModel:
    """A model ready for inference."""

    folder: Path
    card: dict
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
    def window(self) -> tuple[int, ...]:
        """The card's inference window (3D: voxels; 2D: in-slice pixels, () = whole slices).

        Models trained here write their training patch: GroupNorm then sees windows of the size it
        was trained on, which measured 3-9 HU better than one large window for the bundled 3D models
        (README)."""
        window = tuple(int(w) for w in self.card.get("inference_defaults", {}).get("window") or ())
        if len(window) == self.cfg.spatial_dims:
            return window
        return (128, 128, 32) if self.cfg.spatial_dims == 3 else ()  # cards written before windows matched

    @property
    def overlap(self) -> float:
        """The card's window overlap (0.25 for cards written before it was recorded)."""
        return float(self.card.get("inference_defaults", {}).get("overlap", 0.25))


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available: use --device cpu or auto")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use cpu, cuda or auto")
    return torch.device(device)


def load_model(folder: str | Path, device: str = "auto") -> LoadedModel | LatentModel:
    """Read a model folder (card + safetensors, SHA256-checked) into an eval-mode network.

    A card whose architecture kind is "latent" gives a ``latent.loaded.LatentModel`` (autoencoder,
    switchable SPADE and latent UNet), which ``translate_image`` handles the same way.
    """
    d = Path(folder)
    card = read_card(d)
    if (card.get("architecture") or {}).get("kind") == "latent":
        from .latent.loaded import load_latent_model

        return load_latent_model(d, card, resolve_device(device))
    cfg = NetworkConfig.from_json(card["architecture"])
    net = build_network(cfg)
    state = load_weights(d, card)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"{d}: the weights do not fit the architecture in the card ({str(exc)[:120]}...)") from exc
    dev = resolve_device(device)
    for_inference(net.to(dev), cfg.spatial_dims)
    inten = card["intensity"]
    mr_map = MRMapping(**{k: v for k, v in inten["mr"].items() if k != "kind"})
    ct_map = CTMapping(**{k: v for k, v in inten["ct"].items() if k != "kind"})
    schedule = CosineSchedule(int((card.get("diffusion") or {}).get("train_timesteps", 1000)))
    return LoadedModel(d, card, cfg, net, mr_map, ct_map, schedule, float(card["spacing_mm"]), dev)


def fit_window(window: Sequence[int], shape: Sequence[int], divisor: int) -> list[int]:
    """The window clipped to the (padded) volume and rounded down to what the network can take."""
    if len(window) != len(shape):
        raise ValueError(f"window {tuple(window)} has {len(window)} sizes: this model needs {len(shape)}")
    win = [min(int(w), int(s)) for w, s in zip(window, shape, strict=True)]
    return [max(divisor, w - w % divisor) for w in win]


DEFAULT_STEPS = 20  # for cards that predate inference_defaults.steps


def default_steps(model: LoadedModel | LatentModel) -> int:
    """The card's default number of sampling steps: the fewest within 0.3 dB PSNR of 20 steps on held-out
    cases, as measured by ``Testing/Benchmarks/steps_curve.py`` (the curve is in the card)."""
    return int((model.card.get("inference_defaults") or {}).get("steps") or DEFAULT_STEPS)


def predict_values(model: LoadedModel, mr_values: np.ndarray, steps: int | None = None, eta: float = 0.0,
                   seed: int = 0, window: tuple[int, ...] | None = None, overlap: float | None = None,
                   precision: Precision | str | None = None, progress: Progress | None = None,
                   cancelled: Callable[[], bool] | None = None, sample_index: int = 0,
                   total_samples: int = 1) -> np.ndarray:
    """Network-value CT for network-value MR on the model grid (one sample).

    ``steps`` defaults to the card's, ``window`` and ``overlap`` to the card's (its training patch for
    models trained here), ``precision`` to auto (``precision.choose_precision``)."""
    steps = default_steps(model) if steps is None else int(steps)
    window = tuple(model.window if window is None else window)
    overlap = model.overlap if overlap is None else float(overlap)
    prec = as_precision(precision, model.device)
    if model.cfg.spatial_dims == 2:
        # slice-wise: every sagittal slice (the canonical last axis, left-right) is one batch element
        mr_pad, crop = pad_to_multiple(mr_values, model.cfg.divisor, axes=(0, 1))
        cond = torch.from_numpy(np.ascontiguousarray(np.moveaxis(mr_pad, -1, 0)))[:, None].to(model.device)
        win = fit_window(window or cond.shape[2:], cond.shape[2:], model.cfg.divisor)
    else:
        mr_pad, crop = pad_to_multiple(mr_values, model.cfg.divisor)
        cond = torch.from_numpy(mr_pad)[None, None].to(model.device)
        win = fit_window(window, mr_pad.shape, model.cfg.divisor)

    def volume(out: torch.Tensor) -> np.ndarray:
        arr = out[:, 0].float().cpu().numpy()
        arr = np.moveaxis(arr, 0, -1) if model.cfg.spatial_dims == 2 else arr[0]
        return arr[crop]

    if model.kind == "pix2pix":
        with torch.inference_mode(), prec.autocast():
            out = sliding_apply(lambda c: model.net(c), cond, win, overlap)
        if progress:
            progress(sample_index + 1, total_samples)
        return volume(out)

    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    noise = torch.randn(cond.shape, generator=gen).to(model.device)

    def denoise(x_t: torch.Tensor, t: int) -> torch.Tensor:
        tt = torch.full((x_t.shape[0],), t, device=model.device, dtype=torch.long)
        inputs = torch.cat([x_t, cond], dim=1)
        with torch.inference_mode(), prec.autocast():
            return sliding_apply(lambda w: model.net(w[:, :1], w[:, 1:], tt), inputs, win, overlap)

    def step_progress(n: int, total: int) -> None:
        if progress:
            progress(sample_index * total + n, total_samples * total)

    x0 = ddim_sample(denoise, noise, model.schedule, model.cfg.prediction, steps, eta, gen,
                     clip=model.ct_map.valid_range, progress=step_progress, cancelled=cancelled)
    return volume(x0)


@dataclass
class TranslationResult:
    sct: sitk.Image  # on the input's grid, HU (int16); MR units 0..1000 for an MR target of a latent model
    sct_iso: sitk.Image  # on the model grid
    std: sitk.Image | None  # voxel-wise standard deviation (HU) on the input's grid, when samples > 1
    seconds: float


def check_input(image: sitk.Image) -> None:
    """Refuse what the model cannot translate, saying what to do."""
    if image.GetDimension() != 3:
        raise ValueError(f"the input is {image.GetDimension()}D: a 3D MR volume is needed")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError("the input is a vector/RGB volume: give a scalar MR volume")
    if min(image.GetSize()) < 2:
        raise ValueError(f"the input has size {image.GetSize()}: a volume with at least 2 voxels per axis is needed")
    if not np.all(np.isfinite(sitk.GetArrayViewFromImage(image))):
        raise ValueError("the input has NaN or infinite voxels: fix them (e.g. set them to 0) before translating")


def resolve_target(model: LoadedModel | LatentModel, target: str | None) -> str:
    """The display name of the output modality ``target`` asks for (None: the model's default, CT).

    Latent models translate to any modality on their card (case-insensitive); the others to CT only.
    ValueError names the available targets.
    """
    if model.kind == "latent":
        return model.modalities[model.target_index(target)].name
    if target is None or not str(target).strip() or str(target).strip().lower() == "ct":
        return "CT"
    raise ValueError(f"model {model.card.get('name', model.folder.name)!r} ({model.kind}) translates MR to CT only: "
                     f"target {target!r} needs a latent model (kind latent, see mrtoct models)")


def translate_image(model: LoadedModel | LatentModel, image: sitk.Image, steps: int | None = None,
                    eta: float = 0.0, seed: int = 0, samples: int = 1, window: tuple[int, ...] | None = None,
                    overlap: float | None = None, precision: Precision | str | None = None,
                    progress: Progress | None = None, cancelled: Callable[[], bool] | None = None,
                    max_voxels: int = 60_000_000, target: str | None = None) -> TranslationResult:
    """Synthetic CT (or, with a latent model, any ``target`` modality) of an MR image, on the input's
    grid and on the model grid. Steps and windows default to the card's, precision to auto; latent
    models translate the whole volume at once (no windows)."""
    t0 = time.perf_counter()
    check_input(image)
    resolve_target(model, target)
    if samples < 1:
        raise ValueError("samples must be at least 1")
    steps = default_steps(model) if steps is None else int(steps)
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    prec = as_precision(precision, model.device)
    log.info("translating with %s, %s", model.card.get("name", model.folder.name),
             "one pass" if model.kind == "pix2pix" else f"{steps} steps")
    log.info("%s", prec.describe())
    grid = model_grid(image, model.spacing)
    n_vox = int(np.prod(grid.size))
    if n_vox > max_voxels:
        raise ValueError(f"the input covers {n_vox / 1e6:.0f} M voxels at {model.spacing} mm (about "
                         f"{n_vox * 4 * 12 / 1e9:.0f} GB while sampling): crop it to the spine first")
    mr = sitk.GetArrayFromImage(to_grid(canonical(sitk.Cast(image, sitk.sitkFloat32)), grid, extrapolate=True))
    mr_values = model.mr_map.forward(mr)
    outs = []
    background = -1024.0
    for k in range(samples):
        if model.kind == "latent":
            from .latent.sampling import latent_values

            idx = model.target_index(target)
            v = latent_values(model, mr_values, idx, steps, eta, seed + k, prec, progress, cancelled, k, samples)
            outs.append(model.modalities[idx].from_values(v))
            background = model.modalities[idx].background
            continue
        v = predict_values(model, mr_values, steps, eta, seed + k, window, overlap, prec, progress, cancelled, k,
                           samples)
        outs.append(model.ct_map.inverse(v))
    stack = np.stack(outs)
    if not np.all(np.isfinite(stack)):  # never write NaN as -32768 HU
        raise ValueError(f"the model produced NaN or infinite values in {prec.name}: " + (
            "translate again with precision fp32" if prec.reduced else "its weights do not work on this input"))
    mean = stack.mean(0)
    iso = grid.apply_to(sitk.GetImageFromArray(mean.astype(np.float32)))
    ref = sitk.Image(image.GetSize(), sitk.sitkUInt8)
    ref.CopyInformation(image)
    # nearest-neighbour extrapolation: input voxel centres within half a model voxel of the edge
    sct = sitk.Resample(iso, ref, sitk.Transform(), sitk.sitkLinear, background, sitk.sitkFloat32, True)
    std_img = None
    if samples > 1:
        std_iso = grid.apply_to(sitk.GetImageFromArray(stack.std(0).astype(np.float32)))
        std_img = sitk.Resample(std_iso, ref, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32, True)
    sct16 = sitk.GetImageFromArray(np.rint(sitk.GetArrayFromImage(sct)).astype(np.int16))
    sct16.CopyInformation(image)
    log.info("translated %s voxels in %.1f s", n_vox, time.perf_counter() - t0)
    return TranslationResult(sct16, iso, std_img, time.perf_counter() - t0)

