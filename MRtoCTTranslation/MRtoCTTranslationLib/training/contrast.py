"""Random MR contrasts re-synthesised from a tissue map (domain randomisation).

As SynthSR does for brain MR (Iglesias et al., Science Advances 2023), each call draws a new
intensity per tissue, blur, bias field, noise and slice thickness, so a model trained on them
does not depend on one scanner's contrast.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from SpineCoreLib.phantom.tissues import N_TISSUES, Tissue


def random_contrast(tissues: np.ndarray, rng: np.random.Generator, slice_axis: int = -1) -> np.ndarray:
    """An MR-like float32 volume from a tissue-class volume (arbitrary units)."""
    values = rng.uniform(0.0, 1.0, N_TISSUES)
    values[Tissue.AIR] = rng.uniform(0.0, 0.05)
    values[Tissue.CORTICAL] = rng.uniform(0.0, 0.1)  # cortical bone gives no MR signal
    img = values.astype(np.float32)[tissues]
    img = ndimage.gaussian_filter(img, sigma=float(rng.uniform(0.2, 1.0)))
    thick = int(rng.integers(1, 4))  # thick slices: average runs of voxels along the slice axis
    if thick > 1:
        img = ndimage.uniform_filter1d(img, size=thick, axis=slice_axis)
    coarse = rng.normal(0.0, 0.15, (3, 3, 3))
    zoom = [s / 3 for s in img.shape]
    bias = np.exp(ndimage.zoom(coarse, zoom, order=3, mode="nearest"))[: img.shape[0], : img.shape[1], : img.shape[2]]
    img = img * bias.astype(np.float32)
    sigma = float(rng.uniform(0.005, 0.04))
    noisy = np.sqrt((img + rng.normal(0, sigma, img.shape)) ** 2 + rng.normal(0, sigma, img.shape) ** 2)
    return noisy.astype(np.float32)
