"""Sampling only around the spine (``region``): the body's box, narrowed to the landmarks, the blend into
air and soft tissue outside it, on tiny shapes with exact expected values; and the bundled model
translating a padded phantom MR with and without it."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import load_bundled_model

from MRtoCTTranslationLib.models.registry import default_model_name
from MRtoCTTranslationLib.options import TranslationOptions
from MRtoCTTranslationLib.region import Region, body_mask, spine_region
from MRtoCTTranslationLib.translator import translate_image

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves


def _image(arr: np.ndarray, spacing: float = 2.0) -> sitk.Image:
    img = sitk.GetImageFromArray(arr.astype(np.float32))
    img.SetSpacing((spacing,) * 3)
    return img


def test_the_body_is_the_largest_bright_part_with_its_holes():
    mr = np.zeros((20, 20, 20), np.float32)
    mr[4:16, 4:16, 4:16] = 500.0
    mr[8:12, 8:12, 8:12] = 0.0  # air inside (bowel, lungs): still the body
    mr[0:2, 0:2, 0:2] = 500.0  # a separate speck: not the body
    body = body_mask(mr)
    expected = np.zeros(mr.shape, bool)
    expected[4:16, 4:16, 4:16] = True
    assert np.array_equal(body, expected)


def test_the_box_is_the_body_plus_the_blend_and_narrows_to_the_landmarks():
    """A body in voxels 10-29 of a 40^3 grid at 2 mm: its box reaches 4 voxels (8 mm) beyond it. Two
    landmarks at voxels (k, j, i) = (20, 20, 20) and (24, 20, 20) with a 20 mm margin (10 voxels) narrow it to
    10-34 along k (10-30 along j and i), but no further than the body's box (6-33)."""
    mr = np.zeros((40, 40, 40), np.float32)
    mr[10:30, 10:30, 10:30] = 400.0
    img = _image(mr)
    region = spine_region(img, None, 20.0)
    assert region.box == (slice(6, 34),) * 3
    assert region.weight.max() == 1.0 and np.isclose(region.weight[0, 14, 14], 0.125)  # (0 + 0.5) / 4
    ras = np.array([[-20 * 2.0, -20 * 2.0, 20 * 2.0], [-20 * 2.0, -20 * 2.0, 24 * 2.0]])  # x, y, z = i, j, k
    region = spine_region(img, ras, 20.0)
    assert region.box == (slice(10, 34), slice(10, 31), slice(10, 31)), region.box
    assert np.isclose(region.fraction, 24 * 21 * 21 / 40**3)


def test_a_box_is_never_thinner_than_the_samplers_window():
    mr = np.zeros((40, 40, 40), np.float32)
    mr[18:22, 18:22, 18:22] = 400.0
    region = spine_region(_image(mr), None, 20.0, min_size=(32, 16, 48))
    sizes = [s.stop - s.start for s in region.box]
    assert sizes == [32, 16, 40], region.box  # the last one as large as the grid allows
    assert all(0 <= s.start and s.stop <= 40 for s in region.box)


def test_outside_the_box_is_air_and_the_shells_soft_tissue_blended_at_the_faces():
    """A 1D-like strip: body everywhere, box covering voxels 4-11 of 16 with a 2-voxel ramp at both ends."""
    body = np.ones((1, 1, 16), bool)
    body[0, 0, 14:] = False  # air at the far end
    ramp = np.array([0.25, 0.75, 1, 1, 1, 1, 0.75, 0.25], np.float32)
    region = Region((slice(0, 1), slice(0, 1), slice(4, 12)), body, ramp[None, None, :])
    sample = np.full((1, 1, 8), 100.0, np.float32)
    sample[0, 0, 0], sample[0, 0, 7] = 40.0, 60.0  # the shell: median of 40, 100, 100, 60 is 80
    out = region.compose(sample, -1024.0)[0, 0]
    assert np.allclose(out[:4], 80.0) and np.allclose(out[12:14], 80.0) and np.allclose(out[14:], -1024.0)
    assert np.isclose(out[4], 0.25 * 40 + 0.75 * 80) and np.isclose(out[5], 0.75 * 100 + 0.25 * 80)
    assert np.allclose(out[6:10], 100.0)


def test_the_bundled_model_samples_only_the_body_of_a_padded_mr(tmp_path):
    """A phantom MR with 100 mm of air added on each side in-plane: with ``crop_to_spine`` the model
    samples under half the grid, the air away from the body is -1024 HU exactly, and inside the body the
    result is closer to the true CT than the whole field of view's (84 against 106 HU MAE at 2 steps:
    windows that are mostly air skew the network's group statistics)."""
    from SpineCoreLib.phantom import PhantomOptions, generate_case

    model = load_bundled_model(default_model_name())
    case = generate_case(tmp_path, "s", 5, PhantomOptions(levels=["L3"]))
    mr = sitk.ReadImage(str(case["mr_t2w"]))
    padded = sitk.ConstantPad(mr, (100, 100, 0), (100, 100, 0), 0.0)
    opts = dict(steps=2, seed=0, precision="fp32")
    whole = translate_image(model, padded, TranslationOptions(**opts, crop_to_spine=False))
    cropped = translate_image(model, padded, TranslationOptions(**opts))
    assert whole.sampled == 1.0 and cropped.sampled < 0.5, cropped.sampled
    a, b = (sitk.GetArrayFromImage(r.image).astype(float) for r in (whole, cropped))
    far = np.ones(b.shape, bool)  # the added air beyond the box (which is at least one 128 mm window wide)
    far[:, 60:-60, 60:-60] = False
    assert (b[far] == -1024).all() and (a[far] > -1024).any()  # the whole field of view samples air too
    body = body_mask(sitk.GetArrayFromImage(padded))
    truth = sitk.GetArrayFromImage(sitk.Resample(sitk.ReadImage(str(case["ct_mrworld"])), padded, sitk.Transform(),
                                                 sitk.sitkLinear, -1024.0))
    mae_whole, mae_cropped = (float(np.abs(x - truth)[body].mean()) for x in (a, b))
    assert mae_cropped < mae_whole, (mae_cropped, mae_whole)


def test_the_command_line_synthesises_the_landmarks_box(tmp_path, caplog):
    """``mrtoct translate --landmarks`` samples only their box (the log says so, with its share), and
    ``--whole-field-of-view`` all of it; both write the synthetic CT on the MR's grid."""
    import logging

    from mrtoct.main import main
    from SpineCoreLib.phantom import PhantomOptions, generate_case

    case = generate_case(tmp_path / "case", "s", 6, PhantomOptions(levels=["L2", "L3", "L4"]))
    base = ["translate", "--input", str(case["mr_t2w"]), "--steps", "1", "--precision", "fp32"]
    with caplog.at_level(logging.INFO, logger="MRtoCTTranslationLib.translator"):
        assert main([*base, "--output", str(tmp_path / "box.nii.gz"), "--landmarks", str(case["mr_landmarks"]),
                     "--spine-margin", "20"]) == 0
    import re

    share = re.search(r"sampling (\d+) % of the field of view: the landmarks' box", caplog.text)
    assert share and int(share.group(1)) < 90, caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="MRtoCTTranslationLib.translator"):
        assert main([*base, "--output", str(tmp_path / "all.nii.gz"), "--whole-field-of-view"]) == 0
    assert "sampling" not in caplog.text
    mr = sitk.ReadImage(str(case["mr_t2w"]))
    for name in ("box", "all"):
        out = sitk.ReadImage(str(tmp_path / f"{name}.nii.gz"))
        assert out.GetSize() == mr.GetSize() and np.allclose(out.GetOrigin(), mr.GetOrigin())
