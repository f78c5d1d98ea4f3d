"""Multi-modal subjects for latent training: every modality of a subject on one model grid, and
random (source, target) pairs of different modalities of one subject, as ALDM draws them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
import torch

from SpineCoreLib.geometry import Grid
from SpineCoreLib.manifest import read_manifest
from SpineCoreLib.orientation import canonical, to_grid
from SpineCoreLib.resample import isotropic_grid

from ..training.data import random_patch
from .modalities import CT_KEY, Modality


@dataclass
class Subject:
    """One subject on the model grid: network values and the padding value of each modality."""

    name: str
    grid: Grid
    values: dict[str, np.ndarray]
    pad: dict[str, float]
    raw: dict[str, np.ndarray]  # own units (HU, MR intensities), for validation metrics


def load_subject(row: dict[str, str], modalities: list[Modality], spacing: float) -> Subject:
    """Read every modality of a manifest row; the CT (else the first modality) defines the grid."""
    for m in modalities:
        if not row.get(m.column):
            raise ValueError(f"manifest row {row.get('subject')!r} has no {m.column!r} file (modality {m.name})")
    ref_mod = next((m for m in modalities if m.key == CT_KEY), modalities[0])
    ref = canonical(sitk.ReadImage(row[ref_mod.column]))
    grid = Grid.from_image(ref)
    if not np.allclose(grid.spacing, spacing, atol=1e-3):
        grid = isotropic_grid(grid, spacing)
    values, pad, raw = {}, {}, {}
    for m in modalities:
        default = m.ct_map.hu_min if m.is_ct else 0.0
        arr = sitk.GetArrayFromImage(to_grid(sitk.ReadImage(row[m.column]), grid, sitk.sitkLinear, default))
        arr = arr.astype(np.float32)
        raw[m.key] = arr
        values[m.key], pad[m.key] = m.to_values_and_pad(arr)
    return Subject(row["subject"], grid, values, pad, raw)


def load_subjects(manifest: str, split: str, modalities: list[Modality], spacing: float) -> list[Subject]:
    rows = [r for r in read_manifest(manifest) if (r.get("split") or "train") == split]
    return [load_subject(r, modalities, spacing) for r in rows]


@dataclass
class PairBatch:
    """Source and target patches (B, C, *P): images (C=1) or latents (unscaled), and modality indices (B,)."""

    source: torch.Tensor
    target: torch.Tensor
    source_index: torch.Tensor
    target_index: torch.Tensor


def pick_pair(pool: list, keys: list[str], sources: list[str], rng: np.random.Generator) -> tuple[object, str, str]:
    """A random subject of ``pool``, a source among ``sources`` and a different target among ``keys``."""
    sub = pool[int(rng.integers(len(pool)))]
    s = sources[int(rng.integers(len(sources)))]
    others = [k for k in keys if k != s]
    return sub, s, others[int(rng.integers(len(others)))]


def pair_batch(pairs: list[tuple[np.ndarray, np.ndarray, int, int]], device: torch.device) -> PairBatch:
    """Stack (source patch, target patch, source index, target index) tuples; patches must carry a channel axis."""
    def stack(xs: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(np.stack(xs), dtype=np.float32)).to(device)

    src, tgt, si, ti = zip(*pairs, strict=True)
    return PairBatch(stack(list(src)), stack(list(tgt)), torch.tensor(si, device=device), torch.tensor(ti, device=device))


def draw_batch(subjects: list[Subject], modalities: list[Modality], sources: list[str], batch_size: int,
               patch_size: list[int], rng: np.random.Generator, device: torch.device) -> PairBatch:
    """``batch_size`` random pairs: a subject, a source among ``sources``, a different target modality,
    the same random window of both (left-right flipped half of the time: the spine is near-symmetric)."""
    keys = [m.key for m in modalities]
    pairs = []
    for _ in range(batch_size):
        sub, s, t = pick_pair(subjects, keys, sources, rng)
        a, b = sub.values[s], sub.values[t]
        if rng.uniform() < 0.5:
            a, b = a[..., ::-1], b[..., ::-1]
        pa, pb = random_patch([a, b], list(patch_size), rng, [sub.pad[s], sub.pad[t]])
        pairs.append((pa[None], pb[None], keys.index(s), keys.index(t)))
    return pair_batch(pairs, device)
