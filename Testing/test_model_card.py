"""The typed model card: every bundled card reads and writes back unchanged, a schema-1 card (as the
first bundled model shipped) migrates with the defaults readers used to assume, bad cards are refused
with a message, and no code outside ``models/card.py`` looks fields up in a card dict."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from MRtoCTTranslationLib.models.card import (
    CARD,
    SCHEMA_VERSION,
    InferenceDefaults,
    ModelCard,
    ModelError,
    read_card,
    write_card,
)

REPO = Path(__file__).resolve().parents[1]
BUNDLED = sorted(p.parent for p in (REPO / "Resources" / "Models").glob(f"*/{CARD}"))
SCHEMA1 = Path(__file__).parent / "data" / "model_card_schema1.json"


@pytest.mark.parametrize("folder", BUNDLED, ids=[p.name for p in BUNDLED])
def test_bundled_cards_are_current_and_write_back_unchanged(folder, tmp_path):
    raw = json.loads((folder / CARD).read_text(encoding="utf-8"))
    assert raw["schema_version"] == SCHEMA_VERSION
    card = read_card(folder)
    assert card.to_json() == raw  # nothing lost, nothing added, same order
    assert list(card.to_json()) == list(raw)
    write_card(tmp_path, card)
    assert (tmp_path / CARD).read_text(encoding="utf-8") == (folder / CARD).read_text(encoding="utf-8")
    assert ModelCard.from_json(card.to_json()) == card


def test_bundled_cards_say_what_each_model_is():
    cards = {f.name: read_card(f) for f in BUNDLED}
    assert {n: c.kind for n, c in cards.items()} == {
        "ddim2d-baseline": "diffusion", "ddim3d-1mm": "diffusion", "ddim3d-anycontrast": "diffusion",
        "ddim3d-default": "diffusion", "latent3d-multitarget": "latent", "pix2pix3d-baseline": "pix2pix"}
    assert cards["pix2pix3d-baseline"].default_steps is None and cards["pix2pix3d-baseline"].prediction is None
    assert cards["ddim3d-default"].prediction == "image" and cards["latent3d-multitarget"].prediction == "v"
    assert cards["latent3d-multitarget"].target_names == ["CT", "T1w", "T2w", "PDw", "STIR"]
    assert cards["ddim3d-default"].target_names == ["CT"]
    assert cards["ddim3d-default"].inference_defaults.window == (64, 64, 16)
    assert cards["latent3d-multitarget"].weights_dtype == "float16"


def test_a_schema1_card_migrates_with_the_defaults_readers_assumed():
    raw = json.loads(SCHEMA1.read_text(encoding="utf-8"))
    assert raw["version"] == 1 and "schema_version" not in raw and "weights_dtype" not in raw
    before = copy.deepcopy(raw)
    card = ModelCard.from_json(raw, "schema-1 card")
    assert raw == before  # the input dict is untouched
    assert card.schema_version == SCHEMA_VERSION and card.kind == "diffusion"
    assert card.inference_defaults == InferenceDefaults(steps=20, eta=0.0, window=(128, 128, 32), overlap=0.25)
    assert card.weights_dtype == "float32" and card.training_precision == "fp32"
    assert card.to_json()["schema_version"] == SCHEMA_VERSION and "version" not in card.to_json()

    bare = {k: v for k, v in raw.items() if k != "inference_defaults"}
    bare["architecture"] = {k: v for k, v in raw["architecture"].items() if k != "kind"}
    old = ModelCard.from_json(bare)
    assert old.kind == "diffusion" and old.inference_defaults.steps == 20
    assert old.inference_defaults.window == (128, 128, 32)
    flat = copy.deepcopy(bare)
    flat["architecture"]["spatial_dims"] = 2
    assert ModelCard.from_json(flat).inference_defaults.window == ()  # 2D: whole slices


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(schema_version=SCHEMA_VERSION + 1), "update SpineMRtoCT"),
    (lambda d: d.update(schema_version="two"), "not a positive integer"),
    (lambda d: d.pop("weights_sha256"), "lacks weights_sha256"),
    (lambda d: d.update(favourite_colour="blue"), "does not know \\(favourite_colour\\)"),
    (lambda d: d["architecture"].update(kind="gan"), "kind 'gan' is not one of"),
    (lambda d: d.update(spacing_mm=0), "spacing_mm 0.0 must be a positive number"),
    (lambda d: d["inference_defaults"].update(steps="many"), "inference_defaults .* are invalid"),
    (lambda d: d["inference_defaults"].update(stride=2), "inference_defaults .* are invalid"),
])
def test_bad_cards_are_refused_with_what_to_do(change, message):
    raw = read_card(BUNDLED[0]).to_json()
    change(raw)
    with pytest.raises(ModelError, match=message):
        ModelCard.from_json(raw, "the card")


def test_read_card_names_the_file_of_a_broken_card(tmp_path):
    with pytest.raises(ModelError, match="model.json is missing"):
        read_card(tmp_path)
    (tmp_path / CARD).write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match=f"{re.escape(str(tmp_path / CARD))} is not valid JSON"):
        read_card(tmp_path)
    (tmp_path / CARD).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ModelError, match="not a JSON object"):
        read_card(tmp_path)


def test_metrics_sections_are_added_without_touching_the_rest():
    card = read_card(BUNDLED[0])
    updated = card.with_metrics(held_out={"t2w": {"mae_body_hu": 1.0}})
    assert updated.metrics["held_out"] == {"t2w": {"mae_body_hu": 1.0}}
    assert {k: v for k, v in updated.metrics.items() if k != "held_out"} == \
        {k: v for k, v in card.metrics.items() if k != "held_out"}
    assert updated.replace(metrics=card.metrics) == card


def test_write_card_keeps_json_strict(tmp_path):
    card = read_card(BUNDLED[0]).with_metrics(curve={"psnr_vs_self_db": float("inf")})
    write_card(tmp_path, card)
    text = (tmp_path / CARD).read_text(encoding="utf-8")
    assert "Infinity" not in text and json.loads(text)["metrics"]["curve"]["psnr_vs_self_db"] is None


def test_no_card_dict_lookups_outside_the_card_module():
    """Cards are read through ModelCard's fields and properties, so a default lives in one place."""
    lookup = re.compile(r"\bcard(\.get\(|\[\")")
    offenders = []
    for pkg in ("SpineCore", "SpineLandmarkRegistration", "MRtoCTTranslation"):
        for path in (REPO / pkg).rglob("*.py"):
            if path.name == "card.py":
                continue
            offenders += [f"{path.relative_to(REPO)}:{i}" for i, line in enumerate(
                path.read_text(encoding="utf-8").splitlines(), 1) if lookup.search(line)]
    assert offenders == []
    assert lookup.search('x = card.get("name")') and lookup.search('card["name"]')


def test_bundled_cards_say_they_learned_from_the_phantom_and_what_they_are_for():
    for folder in BUNDLED:
        card = read_card(folder)
        assert card.synthetic_only and card.training_data.subjects == 28, folder.name
        assert card.training_data.cohort.startswith("phantom cohort train40")
        assert "synthetic spine phantom" in card.training_data.source and "no patient data" in card.training_data.source
        assert "not for clinical use" in card.intended_use and "synthetic phantom" in card.description
        assert card.provenance().startswith("trained on synthetic data, 28 subjects: phantom cohort")


def test_older_cards_get_training_data_as_not_recorded_never_guessed():
    raw = json.loads(SCHEMA1.read_text(encoding="utf-8"))
    card = ModelCard.from_json(raw)
    assert card.training_data.synthetic is None and card.training_data.subjects == raw["training"]["cases"]
    assert "not recorded" in card.training_data.source and "not recorded" in card.intended_use
    assert card.provenance().startswith("trained on data of unrecorded kind")
    current = read_card(BUNDLED[0]).to_json()
    current.pop("intended_use")
    with pytest.raises(ModelError, match="lacks intended_use"):
        ModelCard.from_json(current)
    current = read_card(BUNDLED[0]).to_json()
    current["training_data"] = {"cohort": "x"}
    with pytest.raises(ModelError, match="training_data needs exactly"):
        ModelCard.from_json(current)


def test_the_listing_shows_training_data_and_a_phantom_warning(capsys):
    from mrtoct.main import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    header, *rows = out.splitlines()
    assert "TRAINED ON" in header
    row = next(r for r in rows if r.startswith("ddim3d-default"))
    assert "synthetic 28" in row and "(on phantom test cohort test8, first 4 cases)" in row
    assert "not patient results: not for clinical use" in out


def test_every_kind_is_named_once_and_has_its_inference_class():
    from MRtoCTTranslationLib.diffusion.config import KINDS as NETWORK_KINDS
    from MRtoCTTranslationLib.image_models import CLASSES
    from MRtoCTTranslationLib.models.card import KINDS

    assert set(CLASSES) == set(NETWORK_KINDS) and KINDS == (*NETWORK_KINDS, "latent")
