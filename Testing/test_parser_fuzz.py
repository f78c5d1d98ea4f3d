"""Fuzzing the parsers of what users bring (point lists, manifests, model cards, training configs): any
input either parses or raises the parser's own error with a message, never another exception."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from MRtoCTTranslationLib.latent.config import LatentTrainConfig
from MRtoCTTranslationLib.models.card import ModelCard, ModelError, read_card
from MRtoCTTranslationLib.training.config import TrainConfig
from SpineCoreLib.manifest import read_manifest
from SpineCoreLib.markups_io import MarkupsFormatError, parse_markups_json

REPO = Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=12)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


def _point(label: object, position: object, status: object) -> dict:
    return {"label": label, "position": position, "positionStatus": status}


points = st.builds(_point, st.one_of(st.sampled_from(["L3-body", "L3-spinous", "T12-body"]), scalars),
                   st.one_of(st.lists(st.floats(allow_nan=True), min_size=0, max_size=4), scalars),
                   st.one_of(st.sampled_from(["defined", "undefined", "preview"]), scalars))
markups_docs = st.fixed_dictionaries({"markups": st.lists(st.fixed_dictionaries(
    {"type": st.sampled_from(["Fiducial", "Curve"]) | scalars,
     "coordinateSystem": st.sampled_from(["LPS", "RAS", "XYZ"]) | scalars,
     "controlPoints": st.lists(points, max_size=4) | scalars}), max_size=2) | scalars})


def _must_parse_or_refuse(fn, errors: tuple[type[BaseException], ...], *args) -> None:
    try:
        fn(*args)
    except errors as exc:
        assert str(exc).strip(), "a refusal says why"


@FUZZ
@given(st.one_of(json_values, markups_docs))
def test_markups_parser_parses_or_refuses(doc):
    _must_parse_or_refuse(parse_markups_json, (MarkupsFormatError,), json.dumps(doc, allow_nan=True))


@FUZZ
@given(st.text(max_size=200))
def test_markups_parser_refuses_any_text(text):
    _must_parse_or_refuse(parse_markups_json, (MarkupsFormatError,), text)


manifest_rows = st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n,\""), max_size=10),
                                  min_size=0, max_size=6), max_size=4)


@FUZZ
@given(st.sampled_from(["subject,mr_t2w,ct_mrworld,split", "subject,split", "", "mr_t2w"]), manifest_rows)
def test_manifest_reader_reads_or_refuses(header, rows):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "manifest.csv"
        path.write_text("\n".join([header, *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")
        _must_parse_or_refuse(read_manifest, (ValueError, FileNotFoundError), path)


CARD = read_card(REPO / "Resources" / "Models" / "ddim3d-default").to_json()
LATENT_CARD = read_card(REPO / "Resources" / "Models" / "latent3d-multitarget").to_json()


@FUZZ
@given(st.sampled_from([CARD, LATENT_CARD]), st.sampled_from(sorted(CARD) + ["targets", "default_target"]),
       json_values)
def test_model_card_reader_reads_or_refuses(card, key, value):
    mutated = copy.deepcopy(card)
    mutated[key] = value
    _must_parse_or_refuse(ModelCard.from_json, (ModelError,), mutated, "fuzzed card")


@FUZZ
@given(st.sampled_from(["architecture", "inference_defaults"]), st.text(max_size=10), json_values)
def test_nested_card_sections_read_or_refuse(section, key, value):
    mutated = copy.deepcopy(CARD)
    mutated[section] = {**mutated[section], key: value}
    _must_parse_or_refuse(ModelCard.from_json, (ModelError,), mutated, "fuzzed card")


TRAIN_KEYS = ["lr", "steps", "batch_size", "patch_size", "network", "ema_decay", "precision", "contrast",
              "spacing_mm", "val_every", "seed", "extra_input_columns", "name"]
LATENT_KEYS = ["stages", "modalities", "sources", "autoencoder", "unet", "spade", "losses", "ct_intensity", "kind"]


@FUZZ
@given(st.dictionaries(st.sampled_from(TRAIN_KEYS), json_values, max_size=4))
def test_training_config_reads_or_refuses(raw):
    def build(d):
        TrainConfig.from_dict(d, "fuzzed config").validate()

    _must_parse_or_refuse(build, (ValueError,), raw)


@FUZZ
@given(st.dictionaries(st.sampled_from(LATENT_KEYS), json_values, max_size=4))
def test_latent_config_reads_or_refuses(raw):
    def build(d):
        LatentTrainConfig.from_dict({"kind": "latent", **d}, "fuzzed config").validate()

    _must_parse_or_refuse(build, (ValueError,), raw)
