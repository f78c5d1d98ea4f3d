"""CUT (contrastive unpaired translation): PatchNCE on a hand-made example, the generator's shapes and
features, unpaired manifests accepted and refused, NCE that training lowers, and a trained model that
translates the same way twice."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_translates_the_same_twice, tiny_cohort, tiny_train_config, torchrun_train

from mrtoct.main import main
from MRtoCTTranslationLib.diffusion.config import NetworkConfig
from MRtoCTTranslationLib.diffusion.cut import PatchProjector, ResnetGenerator, nce_between, patch_nce_loss
from MRtoCTTranslationLib.training.unpaired import unpaired_rows, write_unpaired_manifest
from SpineCoreLib.manifest import read_manifest, write_manifest

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves


def test_patch_nce_matches_the_hand_computed_value():
    """Two output patches q against two input patches k at temperature 0.5: row 0 scores 1.2 for its own
    location and 2.0 for the other, row 1 scores 0.0 for its own and 1.6 for the other; the loss is the mean
    cross-entropy of picking the own location."""
    q = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    k = torch.tensor([[[0.6, 0.8], [1.0, 0.0]]])
    expected = 0.5 * (math.log(1 + math.exp(2.0 - 1.2)) + math.log(1 + math.exp(1.6 - 0.0)))
    assert patch_nce_loss(q, k, temperature=0.5).item() == pytest.approx(expected, abs=1e-6)
    aligned = torch.eye(3, dtype=torch.float64)[None]  # float64: the loss is about 1e-6
    assert patch_nce_loss(aligned, aligned, 0.07).item() == pytest.approx(math.log(1 + 2 * math.exp(-1 / 0.07)),
                                                                            abs=1e-9)


@pytest.mark.parametrize("dims", [2, 3])
def test_the_generator_keeps_the_shape_and_exposes_its_encoder(dims):
    cfg = NetworkConfig(kind="cut", spatial_dims=dims, channels=(4,), num_res_blocks=2)
    net = ResnetGenerator(cfg)
    x = torch.randn((1, 1) + (16,) * dims)
    assert net(x).shape == x.shape
    feats = net.encode(x)
    assert [f.shape[1] for f in feats] == net.feature_channels == [1, 4, 8, 16, 16]
    assert [f.shape[2] for f in feats] == [16, 16, 8, 4, 4]
    assert cfg.divisor == 4


def test_nce_training_makes_output_patches_find_their_input_patches():
    """Optimising the generator and projector on PatchNCE alone lowers it well below chance (log N)."""
    torch.manual_seed(0)
    net = ResnetGenerator(NetworkConfig(kind="cut", spatial_dims=2, channels=(8,), num_res_blocks=1))
    proj = PatchProjector(net.feature_channels, dim=32)
    opt = torch.optim.Adam([*net.parameters(), *proj.parameters()], lr=2e-3)
    x = torch.randn(2, 1, 16, 16)
    losses = []
    for step in range(30):
        loss = nce_between(net, proj, x, net(x), 16, torch.Generator().manual_seed(step))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 0.8 * math.log(16) and np.mean(losses[-5:]) < 0.5 * losses[0], losses


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    return tiny_cohort(tmp_path_factory.mktemp("cutcohort"), 3, seed=8)


def test_an_unpaired_manifest_gives_each_training_subject_one_domain(cohort, tmp_path):
    out = write_unpaired_manifest(str(cohort), str(tmp_path / "unpaired.csv"), "mr_t2w", "ct_mrworld")
    rows = read_manifest(out)
    train = [r for r in rows if r["split"] == "train"]
    assert [bool(r["mr_t2w"]) for r in train] == [True, False] and [bool(r["ct_mrworld"]) for r in train] == [False, True]
    val = [r for r in rows if r["split"] == "val"]
    assert val and all(r["mr_t2w"] and r["ct_mrworld"] for r in val)  # evaluation stays paired
    mr_rows, ct_rows = unpaired_rows(out, "mr_t2w", "ct_mrworld", "train")
    assert {r["subject"] for r in mr_rows}.isdisjoint({r["subject"] for r in ct_rows})
    only_mr = write_manifest(tmp_path / "only_mr.csv", [r for r in rows if r["split"] == "val" or r["mr_t2w"]])
    with pytest.raises(ValueError, match="none has 'ct_mrworld'"):
        unpaired_rows(str(only_mr), "mr_t2w", "ct_mrworld", "train")


def _cut_config(tmp: Path, manifest: str, **over) -> Path:
    network = {"kind": "cut", "channels": [4], "num_res_blocks": 2, "extra": {"nce_patches": 32}}
    return tiny_train_config(tmp, manifest, network, "tinycut", **over)


def test_cut_trains_from_unpaired_rows_and_translates_deterministically(cohort, tmp_path, capsys):
    manifest = write_unpaired_manifest(str(cohort), str(tmp_path / "unpaired.csv"), "mr_t2w", "ct_mrworld")
    assert main(["train", "--config", str(_cut_config(tmp_path, manifest))]) == 0
    model = tmp_path / "run" / "model"
    import json

    card = json.loads((model / "model.json").read_text())
    assert card["architecture"]["kind"] == "cut" and "Park T" in card["citation"]
    assert card["training_data"]["subjects"] == 2  # one MR-only and one CT-only subject
    assert set(card["metrics"]["validation"]) >= {"mae_body_hu", "psnr_body_db"}
    assert_translates_the_same_twice(model, next(cohort.parent.glob("*/mr_t2w.nii.gz")).as_posix(), tmp_path)


def test_a_manifest_without_one_domain_is_refused_before_training(cohort, tmp_path, capsys):
    rows = [{**r, "ct_mrworld": ""} for r in read_manifest(cohort)]
    bad = write_manifest(tmp_path / "no_ct.csv", rows)
    capsys.readouterr()
    assert main(["train", "--config", str(_cut_config(tmp_path, str(bad)))]) == 2
    err = capsys.readouterr().err
    assert "none has 'ct_mrworld'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "model").exists()


def test_two_process_cut_keeps_every_network_in_step(cohort, tmp_path):
    """Under torchrun the generator with its projector, and the discriminator, are DDP-wrapped; the trainer
    checks at the end that every network's weights agree across the processes."""
    import json

    manifest = write_unpaired_manifest(str(cohort), str(tmp_path / "unpaired.csv"), "mr_t2w", "ct_mrworld")
    torchrun_train(_cut_config(tmp_path, manifest, val_every=0), 29523)

    assert json.loads((tmp_path / "run" / "model" / "model.json").read_text())["training"]["world_size"] == 2
