"""The SynthRAD challenges' image metrics, so that numbers compare with the MR-to-CT literature.

Definitions of the SynthRAD2023 evaluation (Huijben et al., "SynthRAD2023 Grand Challenge dataset:
generating synthetic CT for radiotherapy", Med. Phys. 2023; the challenge's public evaluation code,
github.com/SynthRAD2023/metrics), reimplemented here with scikit-image as that code uses it:

* MAE in HU over the mask, no clipping;
* PSNR over the mask, both images clipped to [-1024, 3000] HU, peak = that range (4024 HU);
* SSIM of the whole volume (scikit-image, 7-voxel window, both images clipped to the range, voxels
  outside the mask set to -1024 HU, shifted to non-negative values), averaged over the mask voxels of
  the SSIM map after dropping a 3-voxel border, as scikit-image drops it for its own mean.

The project's own protocol (``metrics.image_metrics``: a 2000 HU range, the reference's body mask)
differs; the range alone moves PSNR by about 6 dB, so both are reported and named.
"""

from __future__ import annotations

import numpy as np

RANGE_HU = (-1024.0, 3000.0)
BORDER = 3  # scikit-image's crop of the SSIM map for its 7-voxel window


def synthrad_metrics(ct: np.ndarray, sct: np.ndarray, mask: np.ndarray | None = None) -> dict[str, float]:
    """``{"mae_hu", "psnr_db", "ssim"}`` of a synthetic CT against the CT, inside ``mask`` (all voxels
    when None), as the SynthRAD evaluation defines them."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
    from skimage.util import crop

    ct, sct = np.asarray(ct, np.float64), np.asarray(sct, np.float64)
    if ct.shape != sct.shape:
        raise ValueError(f"the CT {ct.shape} and the synthetic CT {sct.shape} differ in shape")
    inside = np.ones(ct.shape, bool) if mask is None else np.asarray(mask) > 0
    if not inside.any():
        raise ValueError("the mask is empty: give a mask of the region to score")
    low, high = RANGE_HU
    peak = high - low
    mae = float(np.abs(ct - sct)[inside].mean())
    ct_c, sct_c = np.clip(ct, low, high), np.clip(sct, low, high)
    psnr = float(peak_signal_noise_ratio(ct_c[inside], sct_c[inside], data_range=peak))
    a = np.where(inside, ct_c, low) - low
    b = np.where(inside, sct_c, low) - low
    whole, ssim_map = structural_similarity(a, b, data_range=peak, full=True)
    ssim = float(whole) if mask is None else float(crop(ssim_map, BORDER)[crop(inside, BORDER)].mean(dtype=np.float64))
    return {"mae_hu": mae, "psnr_db": psnr, "ssim": ssim}
