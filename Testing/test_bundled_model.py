"""The bundled 3D diffusion model: it loads from the registry, translates a phantom MR sensibly,
is deterministic with eta = 0, and sliding-window sampling matches whole-volume sampling."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import load_bundled_model

from MRtoCTTranslationLib.models.registry import default_model_name
from MRtoCTTranslationLib.options import TranslationOptions
from MRtoCTTranslationLib.precision import choose_precision
from SpineCoreLib.metrics import body_mask
from SpineCoreLib.phantom import PhantomOptions, generate_case

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves

FP32 = choose_precision("fp32", "cpu")
@pytest.fixture(scope="module")
def model():
    return load_bundled_model(default_model_name())


@pytest.fixture(scope="module")
def crop(model, tmp_path_factory):
    """A 48x48x16 block of a phantom MR around L3 on the model grid, with the true CT there."""
    from SpineCoreLib.orientation import canonical, model_grid, to_grid

    case = generate_case(tmp_path_factory.mktemp("bundled"), "s", 321, PhantomOptions(levels=["L2", "L3", "L4"]))
    mr = sitk.ReadImage(str(case["mr_t2w"]))
    grid = model_grid(mr, model.spacing)
    mr_arr = sitk.GetArrayFromImage(to_grid(canonical(sitk.Cast(mr, sitk.sitkFloat32)), grid))
    ct_arr = sitk.GetArrayFromImage(to_grid(sitk.ReadImage(str(case["ct_mrworld"])), grid, default=-1024.0))
    values = model.mr_map.forward(mr_arr)
    k, j, i = (np.array(values.shape) - [48, 48, 16]) // 2
    sl = (slice(k, k + 48), slice(j, j + 48), slice(i, i + 16))
    return values[sl], ct_arr[sl]


def test_card_describes_the_model(model):
    card = model.card
    assert card.input_modality == "MR" and card.output_modality == "CT"
    assert card.kind == "diffusion" and card.prediction == "image"
    assert card.spacing_mm == 2.0 and "held_out" in card.metrics


def test_translation_is_close_to_the_true_ct_and_deterministic(model, crop):
    mr, ct = crop
    a = model.ct_map.inverse(model.sample(mr, TranslationOptions(steps=8, eta=0.0, seed=3), 0, FP32))
    b = model.ct_map.inverse(model.sample(mr, TranslationOptions(steps=8, eta=0.0, seed=3), 0, FP32))
    assert np.array_equal(a, b)
    body = body_mask(ct)
    assert np.abs(a - ct)[body].mean() < 120  # few steps on a crop; held-out metrics are in the card


def test_sliding_window_matches_whole_volume(model, crop):
    mr, _ = crop
    whole = model.ct_map.inverse(model.sample(mr, TranslationOptions(steps=6, seed=1, window=(48, 48, 16)), 0, FP32))
    tiled = model.ct_map.inverse(model.sample(mr, TranslationOptions(steps=6, seed=1, window=(32, 32, 16), overlap=0.5), 0, FP32))
    diff = np.abs(whole - tiled)
    # GroupNorm statistics differ between a window and the whole volume, so the two are close, not equal
    assert diff.mean() < 25.0 and np.percentile(diff, 99) < 250.0


def test_batched_windows_translate_as_single_ones(model, crop):
    """Two and three windows a network call give the single-window result up to float rounding (the
    convolutions' blocking differs with the batch size)."""
    mr, _ = crop
    opts = {"steps": 4, "seed": 1, "window": (32, 32, 16), "overlap": 0.5}
    one = model.ct_map.inverse(model.sample(mr, TranslationOptions(**opts, window_batch=1), 0, FP32))
    for batch in (2, 3):
        other = model.ct_map.inverse(model.sample(mr, TranslationOptions(**opts, window_batch=batch), 0, FP32))
        assert np.abs(one - other).max() < 0.5, batch  # HU


def test_the_card_s_held_out_metric_is_reproduced_on_its_cases(model, tmp_path_factory):
    """The card's curve point at its default steps (``metrics.steps_curve``: T2w input, the first four cases
    of the test cohort, seed 900) is reproduced on the same cases, regenerated here: MAE within 0.5 HU and
    PSNR within 0.05 dB. The card was measured in bf16 (auto on its machine); this runs in fp32, which
    measured 0.01 HU from it there, so the tolerance covers precision and CPU rounding, not drift."""
    from MRtoCTTranslationLib.translator import translate_image
    from SpineCoreLib.manifest import read_manifest
    from SpineCoreLib.metrics import mae, psnr
    from SpineCoreLib.phantom import generate_cohort

    steps = model.default_steps
    expected = model.card.metrics["steps_curve"]["curves"]["t2w->CT"][str(steps)]
    assert model.card.metrics["steps_curve"]["cohort"].startswith("phantom test cohort test8x, first 4 cases")
    cohort = generate_cohort(tmp_path_factory.mktemp("held_out"), 4, seed=900, opts=PhantomOptions())
    maes, psnrs = [], []
    for row in read_manifest(str(cohort))[:4]:
        ref = sitk.ReadImage(row["ct_mrworld"])
        res = translate_image(model, sitk.ReadImage(row["mr_t2w"]), TranslationOptions(precision="fp32"))
        pred = sitk.GetArrayFromImage(sitk.Resample(res.image_iso, ref, sitk.Transform(), sitk.sitkLinear, -1024.0,
                                                    sitk.sitkFloat32, True))
        truth = sitk.GetArrayFromImage(ref).astype(np.float32)
        maes.append(mae(pred, truth, body_mask(truth)))
        psnrs.append(psnr(pred, truth, body_mask(truth)))
    assert res.steps == steps
    assert abs(np.mean(maes) - expected["mae"]) < 0.5, (np.mean(maes), expected)
    assert abs(np.mean(psnrs) - expected["psnr_db"]) < 0.05, (np.mean(psnrs), expected)
