"""One options object through every layer: validated in one place, the same names in the parameter node,
and a JSON round trip for a child process."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from MRtoCTTranslationLib.options import (
    MAX_STEPS,
    SegmentationOptions,
    TranslationOptions,
    options_from_settings,
)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("steps", 0, "steps must be a whole number from 1 to 1000"),
    ("steps", MAX_STEPS + 1, "steps must be a whole number from 1 to 1000"),
    ("steps", 2.5, "steps must be a whole number"),
    ("eta", 2.0, "eta must be between 0 and 1, got 2.0"),
    ("eta", -0.1, "eta must be between 0 and 1"),
    ("samples", 0, "samples must be a whole number from 1 to 32"),
    ("device", "tpu", "device 'tpu' is not one of auto, cpu, cuda"),
    ("precision", "fp64", "precision 'fp64' is not one of auto, fp32, bf16, fp16"),
    ("window", (0, 8, 8), "window sizes must be at least 1 voxel"),
    ("overlap", 0.95, "overlap must be between 0 and 0.9"),
    ("target", " ", "target must name an output modality"),
])
def test_each_bad_setting_is_named_with_what_it_may_be(field, value, message):
    opts = dataclasses.replace(TranslationOptions(), **{field: value})
    with pytest.raises(ValueError, match=message):
        opts.validate()


def test_defaults_are_valid_and_mean_the_card_s_choice():
    opts = TranslationOptions()
    opts.validate()
    assert (opts.model, opts.steps, opts.precision, opts.window, opts.overlap) == ("", None, "auto", None, None)


def test_options_round_trip_through_json():
    opts = TranslationOptions(model="m", target="T1w", steps=4, eta=0.5, seed=3, samples=2, device="cpu",
                              precision="fp32", window=(32, 32, 16), overlap=0.5, output_iso=True,
                              bias_correction=False)
    again = TranslationOptions.from_json(opts.to_json())
    assert again == opts and isinstance(again.window, tuple)
    with pytest.raises(ValueError, match=r"unknown translation options \['stepz'\]"):
        TranslationOptions.from_json({"stepz": 3})
    seg = SegmentationOptions(segment=False, segmentation_method="totalsegmentator", segmentation_weights="/w")
    assert SegmentationOptions.from_json(seg.to_json()) == seg


def test_the_command_line_switches_bias_correction_off_only_when_asked():
    from mrtoct.main import build_parser
    from mrtoct.translate_cmd import options_from_args

    base = ["translate", "--input", "mr.nii.gz", "--output", "sct.nii.gz"]
    assert options_from_args(build_parser().parse_args(base)).bias_correction is True
    assert options_from_args(build_parser().parse_args([*base, "--no-bias-correction"])).bias_correction is False


def test_the_parameter_node_carries_the_options_names(slicer_standin: Any) -> None:
    import importlib

    mod = importlib.import_module("MRtoCTTranslation")
    params = mod.MRtoCTTranslationLogic().getParameterNode()
    node_fields = set(params.allParameters) if hasattr(params, "allParameters") else {
        n for n in dir(params) if not n.startswith("_")}
    engine = {"window", "overlap", "window_batch", "spine_margin_mm"}  # sampler settings: scripts and the CLI
    settable = {f.name for f in dataclasses.fields(TranslationOptions)} - engine
    settable |= {f.name for f in dataclasses.fields(SegmentationOptions)} - {"caudal_level"}
    assert settable <= node_fields, settable - node_fields
    params.model, params.steps, params.precision, params.output_iso = "ddim2d-baseline", 0, "fp32", True
    params.segmentation_method, params.segmentation_weights = "totalsegmentator", ""
    translation, segmentation = options_from_settings(params)
    assert (translation.model, translation.steps, translation.precision, translation.output_iso) == (
        "ddim2d-baseline", None, "fp32", True)  # steps 0 in the panel: the card's default
    assert (segmentation.segmentation_method, segmentation.segmentation_weights) == ("totalsegmentator", None)
    params.steps = 6
    assert options_from_settings(params)[0].steps == 6


def test_every_model_kind_offers_the_one_sampling_interface():
    from MRtoCTTranslationLib.image_models import DiffusionModel, Pix2PixModel
    from MRtoCTTranslationLib.latent.loaded import LatentModel

    for cls in (DiffusionModel, Pix2PixModel, LatentModel):
        for name in ("sample", "to_output", "background", "target_name", "default_steps", "sampled", "name"):
            assert hasattr(cls, name), (cls.__name__, name)
    assert DiffusionModel.sampled and LatentModel.sampled and not Pix2PixModel.sampled
