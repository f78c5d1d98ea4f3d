"""Band-passed noise lattice for trabecular texture, shared by all vertebrae of a case.

Each vertebra reads it at its own local coordinates plus its own offset, so the texture is a
fixed function of the vertebra's anatomy and is identical in the CT and MR worlds.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

LATTICE = 96  # voxels per side, 1 mm each, periodic


def make_texture(rng: np.random.Generator, n: int = LATTICE, short_mm: float = 2.0, long_mm: float = 8.0) -> np.ndarray:
    """Periodic zero-mean, unit-std noise with wavelengths between ``short_mm`` and ``long_mm``."""
    white = rng.standard_normal((n, n, n))
    f = np.fft.fftfreq(n)
    fr = np.sqrt(f[:, None, None] ** 2 + f[None, :, None] ** 2 + f[None, None, :] ** 2)
    band = (fr >= 1.0 / long_mm) & (fr <= 1.0 / short_mm)
    tex = np.real(np.fft.ifftn(np.fft.fftn(white) * band))
    tex = (tex - tex.mean()) / tex.std()
    return tex.astype(np.float32)


def sample_texture(tex: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Texture at local points (mm) shifted by ``offset``; trilinear, wrapping around the lattice."""
    coords = np.stack([x + offset[0], y + offset[1], z + offset[2]])
    return ndimage.map_coordinates(tex, coords, order=1, mode="grid-wrap").astype(np.float32)
