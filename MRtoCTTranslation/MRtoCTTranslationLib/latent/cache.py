"""Latents of every training volume, encoded once when the autoencoder is frozen (SPADE and
diffusion stages), so those stages cut patches in latent space instead of encoding images at
every step (the encoder dominated their step time on the CPU).

Each volume is padded like at inference (to the architecture's multiple, reflecting) and, when
smaller than the patch, with its air value; it is encoded as is and left-right flipped (the
flip augmentation of the image stages), keeping the posterior mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from SpineCoreLib.orientation import pad_to_multiple

from ..training.data import random_patch
from .data import PairBatch, Subject, pair_batch, pick_pair
from .modalities import Modality
from .networks import LatentNetworks


@dataclass
class LatentSubject:
    """Posterior means (latent_channels, *L) per modality key, unflipped [0] and flipped [1]."""

    name: str
    latents: dict[str, list[np.ndarray]]


def _padded(values: np.ndarray, pad: float, multiple: int, minimum: list[int]) -> np.ndarray:
    arr, _ = pad_to_multiple(values, multiple)
    extra = [max(0, m - n) for m, n in zip(minimum, arr.shape, strict=True)]
    if any(extra):
        arr = np.pad(arr, [(e // 2, e - e // 2) for e in extra], constant_values=pad)
    return arr


@torch.no_grad()
def encode_subjects(nets: LatentNetworks, subjects: list[Subject], patch_size: list[int], device: torch.device,
                    flips: bool = True) -> list[LatentSubject]:
    """Latents of every modality of every subject (the autoencoder must be frozen)."""
    nets.autoencoder.eval()
    out = []
    for sub in subjects:
        lat: dict[str, list[np.ndarray]] = {}
        for key, values in sub.values.items():
            arr = _padded(values, sub.pad[key], nets.arch.multiple, patch_size)
            views = [arr, arr[..., ::-1]] if flips else [arr]
            lat[key] = [nets.autoencoder.encode(torch.from_numpy(np.ascontiguousarray(v))[None, None].to(device))[0]
                        [0].float().cpu().numpy() for v in views]
        out.append(LatentSubject(sub.name, lat))
    return out


def cached_scale(cache: list[LatentSubject]) -> float:
    """1 / standard deviation of the cached latents (Rombach et al., CVPR 2022: the diffusion sees
    unit-variance latents whatever scale the KL-light autoencoder settled on)."""
    values = np.concatenate([v.ravel() for s in cache for views in s.latents.values() for v in views])
    return 1.0 / max(float(values.std()), 1e-6)


def draw_latent_batch(cache: list[LatentSubject], modalities: list[Modality], sources: list[str], batch_size: int,
                      latent_patch: list[int], rng: np.random.Generator, device: torch.device) -> PairBatch:
    """Random (source, target) pairs of one subject, the same latent window of both."""
    keys = [m.key for m in modalities]
    pairs = []
    for _ in range(batch_size):
        sub, s, t = pick_pair(cache, keys, sources, rng)
        view = int(rng.integers(len(sub.latents[s])))
        a, b = sub.latents[s][view], sub.latents[t][view]
        pa, pb = random_patch([a, b], [a.shape[0], *latent_patch], rng, [0.0, 0.0])
        pairs.append((pa, pb, keys.index(s), keys.index(t)))
    return pair_batch(pairs, device)
