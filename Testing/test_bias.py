"""N4 bias-field correction (SpineCoreLib.bias) on a volume of known tissues times a known smooth field."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from SpineCoreLib.bias import correct_bias, foreground_mask


def tissue_volume(shape=(24, 64, 64)) -> tuple[np.ndarray, np.ndarray]:
    """(intensities, labels): air around an ellipsoid body holding three tissues in bands, with mild noise."""
    rng = np.random.default_rng(3)
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    body = (x / 0.85) ** 2 + (y / 0.85) ** 2 + (z / 1.2) ** 2 < 1
    labels = np.where(body, 1 + ((x + 1) * 1.5).astype(int).clip(0, 2), 0).astype(np.uint8)
    values = np.array([5.0, 300.0, 550.0, 800.0], np.float32)[labels]
    return values * rng.normal(1.0, 0.02, shape).astype(np.float32), labels


def log_spread(values: np.ndarray, labels: np.ndarray) -> float:
    """Mean over tissues of the standard deviation of log intensity: what a bias field inflates."""
    return float(np.mean([np.log(values[labels == t]).std() for t in (1, 2, 3)]))


def image(arr: np.ndarray, spacing=(2.0, 2.0, 3.0)) -> sitk.Image:
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    img.SetOrigin((-40.0, 12.0, 7.0))
    img.SetDirection((0, 0, 1, 1, 0, 0, 0, 1, 0))  # an oblique-looking, non-identity direction
    return img


def test_n4_removes_most_of_a_smooth_field_and_keeps_the_scale():
    clean, labels = tissue_volume()
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, n) for n in clean.shape], indexing="ij")
    field = np.exp(0.4 * y - 0.3 * x + 0.2 * z).astype(np.float32)  # about x0.4..x2.5 corner to corner
    biased = image(clean * field)
    before = sitk.GetArrayFromImage(biased).copy()
    corrected = correct_bias(biased)
    out = sitk.GetArrayFromImage(corrected)
    assert np.array_equal(sitk.GetArrayFromImage(biased), before)  # the input is untouched
    assert corrected.GetSpacing() == biased.GetSpacing() and corrected.GetOrigin() == biased.GetOrigin()
    assert corrected.GetDirection() == biased.GetDirection()
    s_clean, s_biased, s_out = (log_spread(v, labels) for v in (clean, clean * field, out))
    # the field adds (s_biased - s_clean) of spread; N4 must take away at least two thirds of it
    assert s_out - s_clean < (s_biased - s_clean) / 3, (s_clean, s_biased, s_out)
    inside = labels > 0  # the mean field is 1 inside the body: intensities stay on the input's scale
    assert abs(np.median(out[inside]) / np.median(before[inside]) - 1) < 0.15


def test_an_unbiased_volume_is_left_nearly_as_it_was():
    clean, labels = tissue_volume()
    out = sitk.GetArrayFromImage(correct_bias(image(clean)))
    inside = labels > 0
    assert np.abs(out[inside] / clean[inside] - 1).max() < 0.1


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.float64])
def test_any_pixel_type_and_negative_values(dtype):
    clean, _ = tissue_volume((12, 32, 32))
    arr = (clean / 4).astype(dtype) if dtype is np.uint8 else clean.astype(dtype)
    if dtype is np.int16:
        arr = arr - 100  # signed data with negative background (some scanners store so)
    out = correct_bias(image(arr))
    assert out.GetPixelID() == sitk.sitkFloat32 and out.GetSize() == image(arr).GetSize()
    assert np.all(np.isfinite(sitk.GetArrayFromImage(out)))
    if dtype is np.int16:  # shifted to positive for N4 and back: the background stays where it was
        assert abs(np.median(sitk.GetArrayFromImage(out)[0]) - np.median(arr[0])) < 2


def test_a_volume_without_foreground_is_returned_unchanged():
    arr = np.zeros((6, 8, 8), np.float32)
    arr[3, 4, 4] = 10.0
    out = correct_bias(image(arr))
    assert np.array_equal(sitk.GetArrayFromImage(out), arr)


def test_the_foreground_keeps_dark_tissue_inside_the_body():
    clean, labels = tissue_volume()
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, n) for n in clean.shape], indexing="ij")
    dark = x**2 + y**2 + z**2 < 0.3**2  # enclosed dark tissue (cortical bone, fluid on T1w)
    clean[dark] = 1.0
    mask = sitk.GetArrayFromImage(foreground_mask(image(clean)))
    assert mask[dark].all() and mask[labels > 0].mean() > 0.99 and mask[labels == 0].mean() < 0.05
