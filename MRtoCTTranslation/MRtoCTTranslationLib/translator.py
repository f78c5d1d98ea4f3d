"""MR in, an image of the target modality out: load a model, sample on its grid, and give the input's
geometry back.

The MR is put on the model grid (canonical orientation, isotropic model spacing: finer than a
thick-slice MR, as in Graf et al. 2023), sampled by the model (``image_models`` and ``latent``: one
interface, so nothing here depends on the kind of model), mapped back to HU (or MR units for an MR
target) and resampled onto the input's exact grid. K samples give a mean and a voxel-wise standard
deviation.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk
import torch

from SpineCoreLib.bias import correct_bias
from SpineCoreLib.geometry import Grid
from SpineCoreLib.image_kind import mark_kind
from SpineCoreLib.intensity import CTMapping, MRMapping
from SpineCoreLib.orientation import canonical, model_grid, to_grid

from .diffusion.networks import NetworkConfig, build_network, for_inference
from .diffusion.schedule import CosineSchedule
from .image_models import ImageModel, image_model
from .models.card import read_card
from .models.folder import load_into, load_weights
from .options import TranslationOptions
from .precision import as_precision
from .region import Region, spine_region

if TYPE_CHECKING:
    from .latent.loaded import LatentModel

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available: use --device cpu or auto")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use cpu, cuda or auto")
    return torch.device(device)


def load_model(folder: str | Path, device: str = "auto") -> ImageModel | LatentModel:
    """Read a model folder (card + safetensors, SHA256-checked) into an eval-mode model.

    A card whose architecture kind is "latent" gives a ``latent.loaded.LatentModel`` (autoencoder,
    switchable SPADE and latent UNet); the others an ``image_models`` model of their kind.
    """
    d = Path(folder)
    card = read_card(d)
    if card.kind == "latent":
        from .latent.loaded import load_latent_model

        return load_latent_model(d, card, resolve_device(device))
    cfg = NetworkConfig.from_json(card.architecture)
    net = build_network(cfg)
    load_into(net, load_weights(d, card), d)
    dev = resolve_device(device)
    for_inference(net.to(dev), cfg.spatial_dims)
    inten = card.intensity
    mr_map = MRMapping(**{k: v for k, v in inten["mr"].items() if k != "kind"})
    ct_map = CTMapping(**{k: v for k, v in inten["ct"].items() if k != "kind"})
    schedule = CosineSchedule(card.train_timesteps)
    return image_model(d, card, cfg, net, mr_map, ct_map, schedule, float(card.spacing_mm), dev)


@dataclass
class TranslationResult:
    image: sitk.Image  # the target modality on the input's grid: HU (int16) for CT, MR units 0..1000 otherwise
    image_iso: sitk.Image  # the same on the model grid
    std: sitk.Image | None  # voxel-wise standard deviation on the input's grid, when samples > 1
    target: str  # the output modality's display name (CT, T1w, ...)
    steps: int
    precision: str
    seconds: float
    sampled: float = 1.0  # share of the model grid the model sampled (``TranslationOptions.crop_to_spine``)

    @property
    def is_ct(self) -> bool:
        """Whether the result is a CT (in HU): only then are bones segmented and HU metrics computed."""
        return self.target == "CT"


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


def on_input_grid(stack: np.ndarray, grid: Grid, image: sitk.Image, background: float
                  ) -> tuple[sitk.Image, sitk.Image, sitk.Image | None]:
    """The samples' mean on the model grid, the same on ``image``'s grid (int16), and their standard
    deviation there when there are several samples."""
    iso = grid.apply_to(sitk.GetImageFromArray(stack.mean(0).astype(np.float32)))
    ref = sitk.Image(image.GetSize(), sitk.sitkUInt8)
    ref.CopyInformation(image)
    # nearest-neighbour extrapolation: input voxel centres within half a model voxel of the edge
    out = sitk.Resample(iso, ref, sitk.Transform(), sitk.sitkLinear, background, sitk.sitkFloat32, True)
    std_img = None
    if len(stack) > 1:
        std_iso = grid.apply_to(sitk.GetImageFromArray(stack.std(0).astype(np.float32)))
        std_img = sitk.Resample(std_iso, ref, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32, True)
    out16 = sitk.GetImageFromArray(np.rint(sitk.GetArrayFromImage(out)).astype(np.int16))
    out16.CopyInformation(image)
    return iso, out16, std_img


def sampling_region(model: ImageModel | LatentModel, mr_image: sitk.Image, options: TranslationOptions,
                    landmarks: np.ndarray | None) -> Region | None:
    """The box the model samples on the model grid (``region``), or None for the whole field of view."""
    if not options.crop_to_spine:
        return None
    window = tuple(getattr(model, "window", None) or ())
    region = spine_region(mr_image, landmarks, options.spine_margin_mm, window if len(window) == 3 else (1, 1, 1))
    log.info("sampling %.0f %% of the field of view: the %s", 100 * region.fraction,
             "landmarks' box" if landmarks is not None and len(landmarks) else "body's box")
    return region


def translate_image(model: ImageModel | LatentModel, image: sitk.Image, options: TranslationOptions | None = None,
                    progress: Progress | None = None, cancelled: Callable[[], bool] | None = None,
                    max_voxels: int = 60_000_000, landmarks: np.ndarray | None = None) -> TranslationResult:
    """``options.target`` (CT by default) of an MR image, on the input's grid and on the model grid. Steps
    and windows default to the model card's, precision to auto (``options.TranslationOptions``). With
    ``options.crop_to_spine`` only the body's box is sampled, narrowed to the RAS ``landmarks`` (N x 3)
    when given (``region``)."""
    t0 = time.perf_counter()
    options = options or TranslationOptions()
    options.validate()
    check_input(image)
    target = model.target_name(options.target)
    steps = options.steps or model.default_steps
    prec = as_precision(options.precision, model.device)
    grid = model_grid(image, model.spacing)
    n_vox = int(np.prod(grid.size))
    if n_vox > max_voxels:
        raise ValueError(f"the input covers {n_vox / 1e6:.0f} M voxels at {model.spacing} mm (about "
                         f"{n_vox * 4 * 12 / 1e9:.0f} GB while sampling): crop it to the spine first")
    log.info("translating to %s with %s, %s", target, model.name,
             f"{steps} steps" if model.sampled else "one pass")
    log.info("%s", prec.describe())
    log.info("model %s: %s", model.name, model.card.provenance())
    if model.card.synthetic_only:
        log.warning("model %s was trained on synthetic phantom data only: not validated on patients, not for "
                    "clinical use", model.name)
    mr_image = to_grid(canonical(sitk.Cast(image, sitk.sitkFloat32)), grid, extrapolate=True)
    if options.bias_correction:  # on the model grid: the field is smooth, and the grid is small
        t_bias = time.perf_counter()
        mr_image = correct_bias(mr_image)
        log.info("MR bias field corrected (N4) in %.1f s", time.perf_counter() - t_bias)
    mr = sitk.GetArrayFromImage(mr_image)
    mr_values = model.mr_map.forward(mr)  # normalised over the whole field of view, cropped or not
    background = model.background(target)
    region = sampling_region(model, mr_image, options, landmarks)
    if region is not None:
        mr_values = mr_values[region.box]
    outs = []
    for k in range(options.samples):
        def sample_progress(done: int, total: int, k: int = k) -> None:
            if progress:
                progress(k * total + done, options.samples * total)

        values = model.sample(mr_values, dataclasses.replace(options, steps=steps), k, prec, sample_progress,
                              cancelled)
        values = model.to_output(values, target)
        outs.append(region.compose(values, background) if region is not None else values)
    stack = np.stack(outs)
    if not np.all(np.isfinite(stack)):  # never write NaN as -32768 HU
        raise ValueError(f"the model produced NaN or infinite values in {prec.name}: " + (
            "translate again with precision fp32" if prec.reduced else "its weights do not work on this input"))
    iso, out16, std_img = on_input_grid(stack, grid, image, background)
    for out in (out16, iso):  # so the next step knows what it reads, with or without air in view
        mark_kind(out, "ct" if target == "CT" else "mr", f"synthetic {target} by {model.name}")
    log.info("translated %s voxels in %.1f s", n_vox, time.perf_counter() - t0)
    return TranslationResult(out16, iso, std_img, target, steps, prec.name, time.perf_counter() - t0,
                             region.fraction if region is not None else 1.0)
