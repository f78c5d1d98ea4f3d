"""The CT/MR decision on tiny images with known contents: the mark survives NIfTI, NRRD and MHA; HU
anchors decide with and without air; no value below 0 is no CT; anything else is undecided, which
warns and goes on; the user's word stands in for the evidence."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import SimpleITK as sitk

from SpineCoreLib.image_kind import judge, mark_kind, marked_kind
from SpineCoreLib.validation import InputError, check_image


def tissue_image(air: float, rng: np.random.Generator) -> np.ndarray:
    """Shares of air (-1000), fat (-100), muscle (45) and bone (500) HU, with 8 HU of noise."""
    n = 40_000
    counts = {-1000.0: air, -100.0: 0.25, 45.0: 0.65 - air, 500.0: 0.10}
    values = np.concatenate([np.full(int(n * share), hu) for hu, share in counts.items()])
    return (values + rng.normal(0, 8, values.size)).reshape(-1, 20, 20).astype(np.float32)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_the_mark_survives_every_format(tmp_path, suffix):
    image = sitk.GetImageFromArray(np.zeros((4, 5, 6), np.int16))
    mark_kind(image, "ct", "synthetic CT by ddim3d-default")
    sitk.WriteImage(image, str(tmp_path / f"x{suffix}"))
    assert marked_kind(sitk.ReadImage(str(tmp_path / f"x{suffix}"))) == "ct"
    plain = sitk.GetImageFromArray(np.zeros((4, 5, 6), np.int16))
    sitk.WriteImage(plain, str(tmp_path / f"y{suffix}"))
    assert marked_kind(sitk.ReadImage(str(tmp_path / f"y{suffix}"))) is None


def test_hu_anchors_decide_with_and_without_air():
    rng = np.random.default_rng(0)
    with_air, without = judge(tissue_image(0.3, rng)), judge(tissue_image(0.0, rng))
    assert (with_air.kind, with_air.decisive) == ("ct", True) and "air" in with_air.why
    assert (without.kind, without.decisive) == ("ct", True) and "bone above 300" in without.why


def test_no_value_below_zero_is_no_ct_and_a_shifted_image_is_undecided():
    rng = np.random.default_rng(1)
    magnitude = np.abs(rng.normal(200, 80, (10, 20, 20))).astype(np.float32)
    assert judge(magnitude).kind == "mr" and judge(magnitude).decisive
    shifted = judge(magnitude - 700)  # nothing at the HU anchors: neither kind is certain
    assert shifted.kind is None and not shifted.decisive


def _image(values: np.ndarray) -> sitk.Image:
    return sitk.GetImageFromArray(values)


def test_undecided_warns_once_and_goes_on_while_decisive_refuses(caplog):
    rng = np.random.default_rng(2)
    shifted = _image((np.abs(rng.normal(200, 80, (10, 20, 20))) - 700).astype(np.float32))
    with caplog.at_level(logging.WARNING):
        check_image(shifted, "--input", "ct", "x.nii.gz")
    assert len(caplog.records) == 1 and "--input-kind ct" in caplog.records[0].getMessage()
    with pytest.raises(InputError, match="looks like a CT .*--input-kind mr"):
        check_image(_image(tissue_image(0.0, rng)), "--input", "mr", "ct.nii.gz")
    check_image(_image(tissue_image(0.0, rng)), "--input", "mr", "ct.nii.gz", declared="mr")  # the user's word


def test_a_declared_kind_that_contradicts_the_step_is_refused():
    image = _image(np.arange(8000, dtype=np.float32).reshape(20, 20, 20))
    with pytest.raises(InputError, match="is said to be CT"):
        check_image(image, "--input", "mr", "x.nii.gz", declared="ct")
