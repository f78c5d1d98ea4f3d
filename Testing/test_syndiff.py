"""SynDiff (adversarial diffusion, unpaired): its noise levels and posterior against hand-computed values,
the non-saturating loss, sampling that is deterministic for a seed with progress and cancel, a cycle
that training shortens, and unpaired training through ``mrtoct train`` to a model that translates."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import assert_translates_the_same_twice, tiny_cohort, tiny_train_config, torchrun_train

from mrtoct.main import main
from MRtoCTTranslationLib.diffusion.config import NetworkConfig
from MRtoCTTranslationLib.diffusion.networks import ConditionalDenoiser
from MRtoCTTranslationLib.diffusion.syndiff import (
    SynDiffSchedule,
    nonsaturating,
    source_generator,
    syndiff_sample,
    timestep_input,
)
from MRtoCTTranslationLib.results import Cancelled
from MRtoCTTranslationLib.training.unpaired import write_unpaired_manifest

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves


def test_noise_levels_and_posterior_match_the_hand_computed_values():
    """Four steps: alpha_bar_i = exp(-9.95 s^2 - 0.1 s) at s = i/4; the posterior of x_{i-1} given x_i and x0
    has mean (sqrt(a_prev) beta x0 + sqrt(1 - beta) (1 - a_prev) x_i) / (1 - a) and variance
    beta (1 - a_prev) / (1 - a); at i = 1 it is x0 itself."""
    s = SynDiffSchedule(4)
    expected = [math.exp(-9.95 * (i / 4) ** 2 - 0.1 * i / 4) for i in range(5)]
    np.testing.assert_allclose(s.alpha_bar.numpy(), expected, rtol=1e-12)
    assert expected[4] < 5e-5  # the last level is noise
    x0, x_i = torch.full((1, 1, 2, 2), 0.5, dtype=torch.float64), torch.full((1, 1, 2, 2), -0.3, dtype=torch.float64)
    a, a_prev = expected[2], expected[1]
    beta = 1 - a / a_prev
    mean = (math.sqrt(a_prev) * beta * 0.5 + math.sqrt(1 - beta) * (1 - a_prev) * -0.3) / (1 - a)
    std = math.sqrt(beta * (1 - a_prev) / (1 - a))
    gen = torch.Generator().manual_seed(3)
    draw = s.posterior(x0, x_i, torch.tensor([2]), gen)
    z = torch.randn((1, 1, 2, 2), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.testing.assert_close(draw, mean + std * z)
    torch.testing.assert_close(s.posterior(x0, x_i, torch.tensor([1]), gen), x0)
    assert timestep_input(torch.tensor([1, 4]), 4).tolist() == [250, 1000]


def test_noisy_pairs_have_the_marginals_of_the_forward_process():
    """x_{i-1} and x_i of a constant image: means sqrt(a) x0 and spreads sqrt(1 - a) at both levels."""
    s = SynDiffSchedule(4)
    x0 = torch.full((4000, 1, 1, 1), 0.8, dtype=torch.float64)
    prev, cur = s.noisy_pair(x0, torch.full((4000,), 3), torch.Generator().manual_seed(0))
    for x, a in ((prev, float(s.alpha_bar[2])), (cur, float(s.alpha_bar[3]))):
        assert abs(x.mean().item() - math.sqrt(a) * 0.8) < 0.05 and abs(x.std().item() - math.sqrt(1 - a)) < 0.05


def test_the_nonsaturating_loss_is_softplus_of_the_score():
    scores = torch.tensor([[0.0, 2.0]])
    assert nonsaturating(scores, True).item() == pytest.approx(0.5 * (math.log(2) + math.log1p(math.exp(-2.0))))
    assert nonsaturating(scores, False).item() == pytest.approx(0.5 * (math.log(2) + math.log1p(math.exp(2.0))))


def test_sampling_repeats_for_a_seed_reports_each_step_and_stops_on_cancel():
    torch.manual_seed(0)
    net = ConditionalDenoiser(NetworkConfig(kind="syndiff", spatial_dims=2, channels=(8, 8), norm_num_groups=4)).eval()
    with torch.no_grad():  # MONAI starts the output layer at zero: every draw would give x0 = 0
        for p in net.parameters():
            p.normal_(0.0, 0.1)
    cond = torch.randn(1, 1, 8, 8)
    schedule = SynDiffSchedule(4)

    def denoise(x: torch.Tensor, i: int) -> torch.Tensor:
        with torch.inference_mode():
            return net(x, cond, timestep_input(torch.tensor([i]), 4))

    def run(seed: int, **kw) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return syndiff_sample(denoise, torch.randn(cond.shape, generator=gen), schedule, gen, **kw)

    seen: list[tuple[int, int]] = []
    a = run(5, progress=lambda n, total: seen.append((n, total)))
    assert torch.equal(a, run(5)) and not torch.equal(a, run(6))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    with pytest.raises(Cancelled):
        run(5, cancelled=lambda: True)


def test_training_the_cycle_lowers_its_l1():
    """The generators alone (source generator CT -> MR estimate, diffusive generator back to CT) on the
    cycle's L1: 40 steps halve it on a tiny image."""
    torch.manual_seed(0)
    cfg = NetworkConfig(kind="syndiff", spatial_dims=2, channels=(8, 16), norm_num_groups=4,
                        extra={"nd_channels": 4, "nd_blocks": 1})
    net, source, schedule = ConditionalDenoiser(cfg), source_generator(cfg), SynDiffSchedule(4)
    opt = torch.optim.Adam([*net.parameters(), *source.parameters()], lr=2e-3)
    ct = torch.zeros(2, 1, 16, 16)
    ct[:, :, 4:12, 6:10] = 1.0
    losses = []
    for step in range(40):
        gen = torch.Generator().manual_seed(step)
        i = torch.randint(1, 5, (2,), generator=gen)
        _, x_i = schedule.noisy_pair(ct, i, gen)
        loss = torch.nn.functional.l1_loss(net(x_i, source(ct), timestep_input(i, 4)), ct)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    return tiny_cohort(tmp_path_factory.mktemp("syndiffcohort"), 3, seed=8)


def _config(tmp: Path, manifest: str, **over) -> Path:
    network = {"kind": "syndiff", "channels": [8, 16], "num_res_blocks": 1, "norm_num_groups": 4,
               "extra": {"nd_channels": 4, "nd_blocks": 1}}
    return tiny_train_config(tmp, manifest, network, "tinysyndiff", **over)


def test_syndiff_trains_from_unpaired_rows_and_translates_deterministically(cohort, tmp_path, capsys):
    manifest = write_unpaired_manifest(str(cohort), str(tmp_path / "unpaired.csv"), "mr_t2w", "ct_mrworld")
    assert main(["train", "--config", str(_config(tmp_path, manifest))]) == 0
    model = tmp_path / "run" / "model"
    card = json.loads((model / "model.json").read_text())
    assert card["architecture"]["kind"] == "syndiff" and "Özbey M" in card["citation"]
    assert card["diffusion"]["train_timesteps"] == 4 and card["inference_defaults"]["steps"] == 4
    assert card["training_data"]["subjects"] == 2
    assert set(card["metrics"]["validation"]) >= {"mae_body_hu", "psnr_body_db"}
    from safetensors import safe_open

    with safe_open(str(tmp_path / "run" / "checkpoint" / "checkpoint.safetensors"), "pt") as f:
        saved = {k.split(".")[1] for k in f.keys() if k.startswith("module.")}
    assert saved == {"net", "ema", "disc", "source"}  # the source generator and both critics resume too
    mr = next(cohort.parent.glob("*/mr_t2w.nii.gz")).as_posix()
    assert_translates_the_same_twice(model, mr, tmp_path)
    capsys.readouterr()
    bad = tmp_path / "bad.nii.gz"
    assert main(["translate", "--input", mr, "--output", str(bad), "--model", str(model), "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "SynDiff model samples in the 4 steps" in err and not bad.exists()


def test_two_process_syndiff_keeps_every_network_in_step(cohort, tmp_path):
    """Under torchrun both generators (one DDP module) and both critics (another) stay identical across
    the processes; the trainer checks every network's weights at the end."""
    manifest = write_unpaired_manifest(str(cohort), str(tmp_path / "unpaired.csv"), "mr_t2w", "ct_mrworld")
    torchrun_train(_config(tmp_path, manifest, val_every=0), 29527)
    assert json.loads((tmp_path / "run" / "model" / "model.json").read_text())["training"]["world_size"] == 2


def test_syndiff_starts_from_a_paired_denoiser_and_refuses_another_network(cohort, tmp_path, capsys):
    """``init_from`` a paired conditional DDIM of the same network gives SynDiff's diffusive generator its
    weights (lr 0 keeps them); a different network is refused before any training."""
    from MRtoCTTranslationLib.models.folder import load_weights

    paired = yaml.safe_load(_config(tmp_path, str(cohort)).read_text())
    paired["network"] = {**paired["network"], "kind": "diffusion", "extra": {}}
    (tmp_path / "paired.yaml").write_text(yaml.safe_dump({**paired, "steps": 1, "val_every": 0,
                                                          "out_dir": str(tmp_path / "paired")}))
    assert main(["train", "--config", str(tmp_path / "paired.yaml")]) == 0
    manifest = write_unpaired_manifest(str(cohort), str(tmp_path / "unpaired.csv"), "mr_t2w", "ct_mrworld")
    cfg = yaml.safe_load(_config(tmp_path, manifest).read_text())
    (tmp_path / "adapt.yaml").write_text(yaml.safe_dump({**cfg, "steps": 1, "val_every": 0, "lr": 0.0,
                                                         "init_from": str(tmp_path / "paired" / "model")}))
    assert main(["train", "--config", str(tmp_path / "adapt.yaml")]) == 0
    start, adapted = load_weights(tmp_path / "paired" / "model"), load_weights(tmp_path / "run" / "model")
    assert start.keys() == adapted.keys() and all(float((start[k] - adapted[k]).abs().max()) < 1e-6 for k in start)
    wider = {**cfg, "network": {**cfg["network"], "channels": [8, 8]}, "out_dir": str(tmp_path / "wider"),
             "init_from": str(tmp_path / "paired" / "model")}
    (tmp_path / "wider.yaml").write_text(yaml.safe_dump(wider))
    capsys.readouterr()
    assert main(["train", "--config", str(tmp_path / "wider.yaml")]) == 2
    assert "architecture" in capsys.readouterr().err and not (tmp_path / "wider" / "model").exists()
