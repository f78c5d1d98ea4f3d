"""The bundled latent model (one model, many targets): it loads from the registry with its list of
targets, switches one source to target-appropriate intensities, is deterministic with eta = 0,
and names the available targets when asked for an unknown one."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import load_bundled_model

from MRtoCTTranslationLib.options import TranslationOptions
from MRtoCTTranslationLib.translator import translate_image
from SpineCoreLib.metrics import body_mask, mae
from SpineCoreLib.phantom import PhantomOptions, generate_case

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves

NAME = "latent3d-multitarget"
MR_TARGETS = ("T1w", "T2w", "PDw", "STIR")


@pytest.fixture(scope="module")
def model():
    return load_bundled_model(NAME)


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> dict:
    """A held-out phantom case (seed outside the training cohort's) with all four MR contrasts."""
    opts = PhantomOptions(levels=["L2", "L3", "L4"], extra_contrasts=("pdw", "stir"))
    paths = generate_case(tmp_path_factory.mktemp("bundled_latent"), "s", 4321, opts)
    mr = sitk.ReadImage(str(paths["mr_t2w"]))

    def on_mr(key: str, default: float) -> np.ndarray:
        img = sitk.Resample(sitk.ReadImage(str(paths[key])), mr, sitk.Transform(), sitk.sitkLinear, default,
                            sitk.sitkFloat32)
        return sitk.GetArrayFromImage(img)

    ct = on_mr("ct_mrworld", -1024.0)
    return {"mr": mr, "ct": ct, "body": body_mask(ct), "real": {t: on_mr(f"mr_{t.lower()}", 0.0) for t in MR_TARGETS}}


def _translate(model, mr: sitk.Image, target: str, seed: int = 0) -> np.ndarray:
    """At the card's default steps and precision auto: what a user gets."""
    options = TranslationOptions(eta=0.0, seed=seed, target=target)
    return sitk.GetArrayFromImage(translate_image(model, mr, options).image)


def test_card_lists_at_least_three_targets_with_held_out_metrics(model):
    assert set(model.target_names) >= {"CT", *MR_TARGETS}
    held_out = model.card.metrics["held_out"]
    assert {"t2w->CT", "t1w->CT", "t2w->T1w", "t1w->T2w"} <= set(held_out)


def test_one_source_switches_to_target_appropriate_intensities(model, case):
    """T2w in: each MR output is closest to the real image of the contrast asked for, and the CT
    output has bone far brighter than soft tissue."""
    body = case["body"]
    mod = {m.name: m for m in model.modalities}
    real = {t: mod[t].from_values(mod[t].to_values_and_pad(case["real"][t])[0]) for t in MR_TARGETS}
    for target in ("T1w", "PDw", "STIR"):
        out = _translate(model, case["mr"], target).astype(np.float32)
        errors = {t: mae(out, real[t], body) for t in MR_TARGETS}
        assert min(errors, key=errors.get) == target, (target, errors)
    sct = _translate(model, case["mr"], "CT").astype(np.float32)
    bone, soft = case["ct"] > 400, body & (case["ct"] > -200) & (case["ct"] < 150)
    assert sct[bone].mean() > sct[soft].mean() + 300
    assert abs(float(np.median(sct[soft])) - float(np.median(case["ct"][soft]))) < 60


def test_eta0_is_deterministic_per_seed(model, case):
    a, b = _translate(model, case["mr"], "CT", seed=3), _translate(model, case["mr"], "CT", seed=3)
    c = _translate(model, case["mr"], "CT", seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_an_unknown_target_names_the_available_ones(model, case):
    with pytest.raises(ValueError, match="CT, T1w, T2w, PDw, STIR"):
        translate_image(model, case["mr"], TranslationOptions(steps=2, target="FLAIR"))
