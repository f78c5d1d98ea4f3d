"""Real MR arrives in any pixel type, orientation, slice thickness and with a coil's bias field: the bundled
model's synthetic CT of a phantom MR must not depend on the first three, and N4 must undo most of the last."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import load_bundled_model

from MRtoCTTranslationLib.models.registry import default_model_name
from MRtoCTTranslationLib.options import TranslationOptions
from MRtoCTTranslationLib.translator import translate_image
from SpineCoreLib.metrics import body_mask
from SpineCoreLib.phantom import PhantomOptions, generate_case

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves


@pytest.fixture(scope="module")
def model():
    return load_bundled_model(default_model_name())


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> tuple[sitk.Image, sitk.Image]:
    """A thick-slice sagittal phantom T2w MR (1 x 1 x 3 mm, float32) and the true CT in the MR world."""
    paths = generate_case(tmp_path_factory.mktemp("standardise"), "s", 77, PhantomOptions(levels=["L2", "L3", "L4"]))
    return sitk.Cast(sitk.ReadImage(str(paths["mr_t2w"])), sitk.sitkFloat32), sitk.ReadImage(str(paths["ct_mrworld"]))


def synthetic_ct(model, mr: sitk.Image, ref: sitk.Image, **options) -> np.ndarray:
    """The synthetic CT on the reference CT's grid (from the model grid, so every input is compared alike)."""
    res = translate_image(model, mr, TranslationOptions(steps=2, seed=0, precision="fp32", **options))
    return sitk.GetArrayFromImage(sitk.Resample(res.image_iso, ref, sitk.Transform(), sitk.sitkLinear, -1024.0,
                                                sitk.sitkFloat32, True))


@pytest.fixture(scope="module")
def reference(model, case) -> tuple[np.ndarray, np.ndarray]:
    """(synthetic CT of the float32 MR as given, body mask of the true CT)."""
    mr, ct = case
    return synthetic_ct(model, mr, ct), body_mask(sitk.GetArrayFromImage(ct).astype(np.float32))


def as_type(mr: sitk.Image, pixel: int, scale: float, offset: float = 0.0) -> sitk.Image:
    out = sitk.Cast(sitk.Round(mr * scale + offset) if pixel != sitk.sitkFloat64 else mr * scale + offset, pixel)
    out.CopyInformation(mr)
    return out


@pytest.mark.parametrize(("pixel", "scale", "offset", "tolerance"), [
    (sitk.sitkUInt8, None, 0.0, 6.0),  # 8 bits: 256 grey levels over the whole range
    (sitk.sitkInt16, 1.0, -500.0, 1.0),  # signed, shifted: percentiles follow the shift
    (sitk.sitkFloat64, 1e-3, 0.0, 0.5),  # a float volume of another scale
])
def test_the_pixel_type_and_scale_do_not_matter(model, case, reference, pixel, scale, offset, tolerance):
    mr, ct = case
    top = float(np.percentile(sitk.GetArrayViewFromImage(mr), 99.99))
    if scale is None:  # fill the type's range
        scale = (255.0 if pixel == sitk.sitkUInt8 else 60000.0) / top
    other = as_type(sitk.Clamp(mr, sitk.sitkFloat32, 0.0, top), pixel, scale, offset)
    sct, body = reference
    diff = np.abs(synthetic_ct(model, other, ct) - sct)[body].mean()
    assert diff < tolerance, diff


def test_the_orientation_of_the_voxels_does_not_matter(model, case, reference):
    """The same MR stored with permuted and flipped axes (as another scanner or converter writes it)."""
    mr, ct = case
    other = sitk.DICOMOrient(mr, "IPL")  # permuted and flipped
    assert other.GetDirection() != mr.GetDirection()
    sct, body = reference
    assert np.abs(synthetic_ct(model, other, ct) - sct)[body].mean() < 0.5


def test_thick_slices_and_isotropic_voxels_both_give_the_ct(model, case, reference):
    """The 3 mm-slice MR and the same MR on a 1 mm isotropic grid score alike against the truth."""
    mr, ct = case
    # the same extent (voxel edges, not centres) on 1 mm voxels: the first centre half a millimetre inside
    direction = np.array(mr.GetDirection()).reshape(3, 3)
    first = mr.TransformContinuousIndexToPhysicalPoint([-0.5, -0.5, -0.5]) + direction @ np.full(3, 0.5)
    iso = sitk.Resample(mr, [int(round(n * s)) for n, s in zip(mr.GetSize(), mr.GetSpacing(), strict=True)],
                        sitk.Transform(), sitk.sitkBSpline, tuple(first), (1.0, 1.0, 1.0), mr.GetDirection(), 0.0)
    assert np.allclose(np.array(iso.TransformContinuousIndexToPhysicalPoint(np.array(iso.GetSize()) - 0.5)),
                       mr.TransformContinuousIndexToPhysicalPoint(np.array(mr.GetSize()) - 0.5))
    sct, body = reference
    truth = sitk.GetArrayFromImage(ct).astype(np.float32)
    mae_thick = np.abs(sct - truth)[body].mean()
    mae_iso = np.abs(synthetic_ct(model, iso, ct) - truth)[body].mean()
    assert mae_thick < 80 and abs(mae_iso - mae_thick) < 0.1 * mae_thick, (mae_thick, mae_iso)


def test_n4_undoes_most_of_a_coil_bias_field(model, case, reference):
    """A smooth field (x0.5 to x2 across the volume) moves the synthetic CT; N4 (the default) brings it at
    least halfway back to the synthetic CT of the unbiased MR, and never further away than without N4."""
    mr, ct = case
    arr = sitk.GetArrayFromImage(mr)
    k, j, i = np.meshgrid(*[np.linspace(-1, 1, n) for n in arr.shape], indexing="ij")
    biased = sitk.GetImageFromArray((arr * np.exp(0.45 * j - 0.35 * i + 0.2 * k)).astype(np.float32))
    biased.CopyInformation(mr)
    sct, body = reference
    off = np.abs(synthetic_ct(model, biased, ct, bias_correction=False) - sct)[body].mean()
    on = np.abs(synthetic_ct(model, biased, ct) - sct)[body].mean()
    assert on < 0.5 * off, (on, off)
