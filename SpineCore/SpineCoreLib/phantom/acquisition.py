"""Turn rendered tissue maps into CT (HU) and MR images, with the physics that matters.

CT: tissue HU plus trabecular texture, Gaussian point spread, detector averaging over each
voxel, Gaussian noise, clipped to [-1024, 3071]. MR: spin-echo signal per tissue, marrow
heterogeneity, a slice profile across thick slices, a posterior-coil bias field and Rician
noise (the magnitude of complex Gaussian noise).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from SpineCoreLib.geometry import Grid

from .render import Rendered
from .tissues import MRSequence, Tissue, TissueValues

HU_MIN, HU_MAX = -1024.0, 3071.0


def block_mean(arr: np.ndarray, factor: tuple[int, int, int], weights_k: np.ndarray | None = None) -> np.ndarray:
    """Average [k, j, i] blocks of ``factor`` (i, j, k); optional weights along k (slice profile)."""
    fi, fj, fk = factor
    k, j, i = arr.shape
    b = arr.reshape(k // fk, fk, j // fj, fj, i // fi, fi)
    if weights_k is not None:
        w = (np.asarray(weights_k, dtype=np.float64) / np.sum(weights_k)).astype(arr.dtype)
        b = np.tensordot(b, w, axes=([1], [0]))  # -> (K, J, fj, I, fi)
        return b.mean(axis=(2, 4))
    return b.mean(axis=(1, 3, 5))


def block_mode(arr: np.ndarray, factor: tuple[int, int, int]) -> np.ndarray:
    """Most frequent value in each block (the label a voxel mostly holds)."""
    fi, fj, fk = factor
    if fi == fj == fk == 1:
        return arr.copy()
    k, j, i = arr.shape
    b = arr.reshape(k // fk, fk, j // fj, fj, i // fi, fi).transpose(0, 2, 4, 1, 3, 5).reshape(k // fk, j // fj, i // fi, -1)
    n = b.shape[-1]
    counts = np.stack([(b == b[..., c : c + 1]).sum(axis=-1, dtype=np.uint8) for c in range(n)], axis=-1)
    pick = counts.argmax(axis=-1)
    return np.take_along_axis(b, pick[..., None], axis=-1)[..., 0]


def slice_profile(n: int) -> np.ndarray:
    """Weights of ``n`` sub-slices across one thick slice (smooth, highest in the middle)."""
    if n == 1:
        return np.ones(1)
    return np.sin(np.pi * (np.arange(n) + 0.5) / n)


def acquire_ct(r: Rendered, factor: tuple[int, int, int], values: TissueValues, rng: np.random.Generator,
               texture_hu: float = 25.0, psf_mm: float = 0.5, noise_hu: float = 15.0) -> np.ndarray:
    """CT in HU (int16) on the coarse grid from a supersampled rendering."""
    hu = r.mix(values.hu, values.hu[Tissue.CANCELLOUS] + np.float32(texture_hu) * r.texture)
    sigma = [psf_mm / s for s in (r.grid.spacing[2], r.grid.spacing[1], r.grid.spacing[0])]
    hu = ndimage.gaussian_filter(hu, sigma=sigma, mode="nearest", truncate=3.0)
    hu = block_mean(hu, factor)
    hu += rng.normal(0.0, noise_hu, size=hu.shape).astype(np.float32)
    return np.clip(np.rint(hu), HU_MIN, HU_MAX).astype(np.int16)


def bias_field(grid: Grid, posterior_ras: np.ndarray, anterior_dir: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Posterior-coil fall-off (1.1 at the back to 0.75 at 25 cm depth) times a smooth random field."""
    k, j, i = grid.array_shape
    idx = np.stack(np.meshgrid(np.arange(i), np.arange(j), np.arange(k), indexing="ij"), axis=-1).astype(np.float32)
    ras = grid.index_to_ras(idx.reshape(-1, 3)).astype(np.float32)
    depth = (ras - posterior_ras.astype(np.float32)) @ anterior_dir.astype(np.float32)
    coil = 1.1 - 0.35 * np.clip(depth / 250.0, 0.0, 1.0)
    smooth = np.zeros(len(ras), dtype=np.float32)
    for _ in range(6):
        wave = rng.normal(size=3)
        wave *= 2 * np.pi / (np.linalg.norm(wave) * rng.uniform(200.0, 400.0))
        smooth += np.cos(ras @ wave.astype(np.float32) + rng.uniform(0, 2 * np.pi)).astype(np.float32)
    field = coil * np.exp(0.1 * smooth / np.sqrt(3.0))
    field = np.clip(field, 0.7, 1.3).reshape(i, j, k).transpose(2, 1, 0)
    return field.astype(np.float32)


def acquire_mr(r: Rendered, factor: tuple[int, int, int], values: TissueValues, seq: MRSequence,
               bias: np.ndarray, rng: np.random.Generator, noise_frac: float, marrow_texture: float = 0.08,
               peak: float = 1000.0) -> np.ndarray:
    """MR magnitude image (int16, tissue maximum near ``peak``) on the coarse grid."""
    sig = values.signal(seq)
    sig = sig / sig[[t for t in Tissue if t != Tissue.AIR]].max()
    img = r.mix(sig, sig[Tissue.CANCELLOUS] * (1.0 + np.float32(marrow_texture) * r.texture))
    img = block_mean(img, factor, weights_k=slice_profile(factor[2]))
    img *= bias
    sigma = noise_frac
    noisy = np.sqrt((img + rng.normal(0, sigma, img.shape)) ** 2 + rng.normal(0, sigma, img.shape) ** 2)
    return np.clip(np.rint(noisy * peak), 0, 32767).astype(np.int16)
