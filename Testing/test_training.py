"""Training on a tiny phantom cohort: diffusion 3D and 2D, Pix2Pix, resume, and two-process DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import yaml
from conftest import tiny_cohort

from mrtoct.main import main

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves

TINY = {"channels": [4, 8], "norm_num_groups": 2, "num_res_blocks": 1}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    return tiny_cohort(tmp_path_factory.mktemp("traincohort"), 2, seed=4)


def _config(tmp: Path, manifest: Path, **over) -> Path:
    cfg = {"manifest": str(manifest), "network": dict(TINY), "spacing_mm": 4.0, "patch_size": [16, 16, 8],
           "batch_size": 1, "steps": 4, "val_every": 4, "val_cases": 1, "val_sampling_steps": 2,
           "checkpoint_every": 2, "out_dir": str(tmp / "run"), "name": "tiny", **over}
    p = tmp / "cfg.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def _card(run: Path) -> dict:
    return json.loads((run / "model" / "model.json").read_text())


@pytest.mark.parametrize("variant", ["diffusion3d", "diffusion2d_v", "pix2pix3d", "random_contrast", "pix2pix_fp16",
                                     "mr_realism"])
def test_training_writes_a_model_that_translates(cohort, tmp_path, variant, capsys):
    over: dict = {}
    if variant == "pix2pix_fp16":  # fp16 trains through a loss scaler (emulated on most CPUs: a tiny net)
        over = {"network": {**TINY, "kind": "pix2pix"}, "precision": "fp16"}
    elif variant == "diffusion2d_v":
        over = {"network": {**TINY, "spatial_dims": 2, "prediction": "v"}, "patch_size": [16, 16]}
    elif variant == "pix2pix3d":
        over = {"network": {**TINY, "kind": "pix2pix"}}
    elif variant == "random_contrast":
        over = {"contrast": "mixed"}
    elif variant == "mr_realism":  # every fixed-contrast sample re-acquired by a random scanner
        over = {"mr_realism": {"probability": 1.0, "scale": 0.2}}
    cfg = _config(tmp_path, cohort, **over)
    assert main(["train", "--config", str(cfg)]) == 0
    card = _card(tmp_path / "run")
    assert card["architecture"]["kind"] == ("pix2pix" if variant.startswith("pix2pix") else "diffusion")
    from MRtoCTTranslationLib.precision import choose_precision

    expected = "fp16" if variant == "pix2pix_fp16" else choose_precision("auto", "cpu", training=True).name
    assert card["training"]["precision"] == expected
    assert f"mrtoct train: precision {expected} on cpu" in capsys.readouterr().err
    assert card["input_contrasts"] == (["any"] if variant == "random_contrast" else ["t2w"])
    realism = card["training"]["config"]["mr_realism"]  # the card says how the training MR was varied
    assert (realism["probability"], realism["scale"]) == ((1.0, 0.2) if variant == "mr_realism" else (0.0, 0.1))
    assert set(card["metrics"]["validation"]) >= {"mae_body_hu", "psnr_body_db", "ssim_body"}
    patch = yaml.safe_load(cfg.read_text())["patch_size"]  # sampled in windows of the training patch
    assert card["inference_defaults"]["window"] == patch and card["inference_defaults"]["overlap"] == 0.25
    mr = sitk.ReadImage(next(p for p in cohort.parent.glob("*/mr_t1w.nii.gz")).as_posix())
    out = tmp_path / "sct.nii.gz"
    assert main(["translate", "--input", mr_path(cohort), "--output", str(out), "--model",
                 str(tmp_path / "run" / "model"), "--steps", "2"]) == 0
    sct = sitk.ReadImage(str(out))
    assert sct.GetSize() == sitk.ReadImage(mr_path(cohort)).GetSize() and mr.GetDimension() == 3
    if variant == "diffusion3d":  # the card's windows are the default; bad windows are named
        again, args = tmp_path / "again.nii.gz", ["--model", str(tmp_path / "run" / "model"), "--steps", "2"]
        assert main(["translate", "--input", mr_path(cohort), "--output", str(again), *args,
                     "--window", *map(str, patch), "--overlap", "0.25"]) == 0
        assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(again))), sitk.GetArrayFromImage(sct))
        bad = tmp_path / "bad.nii.gz"
        for flags, needle in ((["--window", "16", "16"], "needs 3"), (["--overlap", "0.95"], "--overlap")):
            capsys.readouterr()
            assert main(["translate", "--input", mr_path(cohort), "--output", str(bad), *args, *flags]) == 2
            assert needle in capsys.readouterr().err and not bad.exists()


def mr_path(cohort: Path) -> str:
    return next(cohort.parent.glob("*/mr_t2w.nii.gz")).as_posix()


def test_resume_continues_from_the_checkpoint(cohort, tmp_path):
    cfg = _config(tmp_path, cohort, steps=2, val_every=0)
    assert main(["train", "--config", str(cfg)]) == 0
    log1 = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert main(["train", "--config", str(cfg), "--steps", "4"]) == 0
    steps = [json.loads(x)["step"] for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()
             if "loss" in json.loads(x)]
    assert len(log1) == 2 and steps == [0, 1, 2, 3]  # the second run started at step 2


def test_a_resumed_run_continues_the_same_run(cohort, tmp_path):
    """Interrupted at step 2 and resumed to 4, the weights equal those of 4 uninterrupted steps: the
    checkpoint carries the optimizer and the random streams (batches, timesteps, noise)."""
    from MRtoCTTranslationLib.models.folder import load_weights

    whole, parts = tmp_path / "whole", tmp_path / "parts"
    whole.mkdir(), parts.mkdir()
    assert main(["train", "--config", str(_config(whole, cohort, steps=4, val_every=0, precision="fp32"))]) == 0
    cfg = _config(parts, cohort, steps=2, val_every=0, precision="fp32")
    assert main(["train", "--config", str(cfg)]) == 0
    assert main(["train", "--config", str(cfg), "--steps", "4"]) == 0
    a, b = load_weights(whole / "run" / "model"), load_weights(parts / "run" / "model")
    assert a.keys() == b.keys() and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    loss = [[json.loads(x)["loss"] for x in (d / "run" / "log.jsonl").read_text().splitlines()] for d in (whole, parts)]
    assert loss[0] == loss[1]


def test_the_training_loss_falls(cohort, tmp_path):
    """A Pix2Pix generator (its L1 term dominates the loss) learns the phantom's MR-to-CT mapping: the
    last ten steps' mean loss is under 60 % of the first ten's. (A diffusion loss mixes every noise
    level, so a few dozen steps do not show a trend.)"""
    cfg = _config(tmp_path, cohort, steps=40, val_every=0, lr=2e-3, precision="fp32", checkpoint_every=40,
                  network={**TINY, "kind": "pix2pix"})
    assert main(["train", "--config", str(cfg)]) == 0
    loss = [json.loads(x)["loss"] for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(loss) == 40 and np.mean(loss[-10:]) < 0.6 * np.mean(loss[:10]), (loss[:10], loss[-10:])


def test_two_process_ddp_on_gloo(cohort, tmp_path):
    cfg = _config(tmp_path, cohort, steps=3, val_every=0)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "mrtoct.main", "train", "--config", str(cfg)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    card = _card(tmp_path / "run")
    assert card["training"]["world_size"] == 2
    from MRtoCTTranslationLib.translator import load_model

    load_model(tmp_path / "run" / "model", "cpu")


def test_two_process_pix2pix_trains_one_discriminator(cohort, tmp_path):
    """Under torchrun both the generator and the discriminator are DDP-wrapped: at the end the trainer
    checks that every network's weights agree across the processes (it refuses a run where they differ)."""
    cfg = _config(tmp_path, cohort, steps=3, val_every=0, network={**TINY, "kind": "pix2pix"})
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29519",
           "-m", "mrtoct.main", "train", "--config", str(cfg)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _card(tmp_path / "run")["training"]["world_size"] == 2


def test_replica_check_refuses_weights_that_differ(tmp_path):
    """The check itself, on two gloo processes whose discriminators were made to differ."""
    script = tmp_path / "replicas.py"
    script.write_text(
        "import os, torch, torch.distributed as dist\n"
        "from MRtoCTTranslationLib.training.trainer import check_replicas_in_sync\n"
        "dist.init_process_group('gloo')\n"
        "torch.manual_seed(0)\n"
        "net, disc = torch.nn.Linear(3, 2), torch.nn.Linear(3, 1)\n"
        "with torch.no_grad():\n"
        "    disc.weight.add_(float(dist.get_rank()))\n"
        "try:\n"
        "    check_replicas_in_sync({'net': net, 'disc': disc})\n"
        "    said = 'in sync'\n"
        "except RuntimeError as exc:\n"
        "    said = f'refused: {exc}'\n"
        f"open(r'{tmp_path}' + f'/rank{{dist.get_rank()}}.txt', 'w').write(said)\n"
        "dist.destroy_process_group()\n")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29521",
           str(script)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    said = [(tmp_path / f"rank{i}.txt").read_text() for i in range(2)]  # one file a process: no interleaving
    assert all(s.startswith("refused: the disc weights differ between the 2 processes") for s in said), said


def test_yaml_numbers_written_with_an_exponent_are_numbers(cohort, tmp_path):
    """PyYAML (YAML 1.1) reads ``lr: 2e-4`` as a string; the config takes it as the number it is, and names
    the key, the type and the value of anything else."""
    from MRtoCTTranslationLib.training.config import TrainConfig

    path = tmp_path / "c.yaml"
    path.write_text(f"manifest: {cohort}\nlr: 2e-4\nsteps: 10\n")
    assert yaml.safe_load(path.read_text())["lr"] == "2e-4"
    assert TrainConfig.from_yaml(path).lr == 2e-4
    path.write_text(f"manifest: {cohort}\nlr: fast\n")
    with pytest.raises(ValueError, match="lr: must be a finite number, got str 'fast'"):
        TrainConfig.from_yaml(path)
    path.write_text(f"manifest: {cohort}\nsteps: 2.5\n")
    with pytest.raises(ValueError, match="steps: must be a whole number, got float 2.5"):
        TrainConfig.from_yaml(path)


def test_bad_configs_are_refused(cohort, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"manifest": str(cohort), "learning_rate": 1}))
    assert main(["train", "--config", str(bad)]) == 2
    assert "unknown keys ['learning_rate']" in capsys.readouterr().err
    bad.write_text(yaml.safe_dump({"manifest": str(cohort), "patch_size": [15, 16, 8]}))
    assert main(["train", "--config", str(bad)]) == 2
    assert "multiple of" in capsys.readouterr().err
    for section, needle in (({"probability": 2}, "mr_realism: probability 2"),
                            ({"gama": 0.2}, "mr_realism: unknown keys ['gama']"),
                            ({"thick_slices": 0}, "thick_slices 0 must be from 1 to 8"),
                            ({"fov": "wide"}, "mr_realism: fov")):
        bad.write_text(yaml.safe_dump({"manifest": str(cohort), "mr_realism": section}))
        assert main(["train", "--config", str(bad)]) == 2
        assert needle in capsys.readouterr().err, needle


def test_pix2pix_checkpoint_restores_every_module_and_optimizer(cohort, tmp_path):
    """Generator, EMA, discriminator and both Adam states come back exactly (no pickle)."""
    import torch

    from MRtoCTTranslationLib.diffusion.networks import build_network
    from MRtoCTTranslationLib.diffusion.pix2pix import patch_discriminator
    from MRtoCTTranslationLib.training.checkpoint import load_checkpoint
    from MRtoCTTranslationLib.training.config import TrainConfig

    cfg_path = _config(tmp_path, cohort, steps=2, val_every=0, network={**TINY, "kind": "pix2pix"})
    assert main(["train", "--config", str(cfg_path)]) == 0
    ckpt = tmp_path / "run" / "checkpoint"
    assert not list(ckpt.glob("*.pt")) and not list(ckpt.glob("*.pkl"))
    cfg = TrainConfig.from_yaml(cfg_path)
    net, ema = build_network(cfg.network), build_network(cfg.network)
    disc = patch_discriminator(cfg.network, cfg.patch_size)
    opt, opt_d = torch.optim.Adam(net.parameters()), torch.optim.Adam(disc.parameters())
    fresh_disc = {k: v.clone() for k, v in disc.state_dict().items()}
    step = load_checkpoint(ckpt, {"net": net, "ema": ema, "disc": disc}, {"opt": opt, "opt_d": opt_d})
    assert step == 2
    assert any(not torch.equal(fresh_disc[k], v) for k, v in disc.state_dict().items())  # trained weights
    assert all(int(s["step"]) == 2 for s in opt_d.state.values()) and len(opt_d.state) > 0
    saved = __import__("safetensors.torch", fromlist=["load_file"]).load_file(str(ckpt / "checkpoint.safetensors"))
    for k, v in disc.state_dict().items():
        assert torch.equal(saved[f"module.disc.{k}"], v)


def test_fine_tuning_starts_from_a_models_weights(cohort, tmp_path):
    """init_from loads a trained model; with lr=0 the fine-tuned model keeps its weights."""
    from MRtoCTTranslationLib.models.folder import load_weights

    src = tmp_path / "src"
    src.mkdir()
    assert main(["train", "--config", str(_config(src, cohort, steps=2, val_every=0))]) == 0
    source = load_weights(src / "run" / "model")
    tuned_dir = tmp_path / "tuned"
    tuned_dir.mkdir()
    cfg = _config(tuned_dir, cohort, steps=1, val_every=0, lr=0.0, contrast="mixed",
                  init_from=str(src / "run" / "model"))
    assert main(["train", "--config", str(cfg)]) == 0
    tuned = load_weights(tuned_dir / "run" / "model")
    assert all(float((tuned[k] - v).abs().max()) < 1e-6 for k, v in source.items())
    assert _card(tuned_dir / "run")["training"]["config"]["init_from"] == "model"  # no machine path
    other = tmp_path / "other"
    other.mkdir()
    bad = _config(other, cohort, steps=1, init_from=str(src / "run" / "model"),
                  network={**TINY, "channels": [4, 4]})
    assert main(["train", "--config", str(bad)]) == 2


def test_tensorboard_events_hold_the_logged_loss_and_validation(cohort, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert main(["train", "--config", str(_config(tmp_path, cohort, steps=2, val_every=2))]) == 0
    events = EventAccumulator(str(tmp_path / "run" / "logs"))
    events.Reload()
    logged = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in logged if "loss" in r]
    assert [e.step for e in events.Scalars("train/loss")] == [0, 1]
    assert [e.value for e in events.Scalars("train/loss")] == pytest.approx(losses, rel=1e-6)
    assert {"val/mae_body_hu", "val/psnr_body_db", "train/lr"} <= set(events.Tags()["scalars"])


def test_learning_rate_decays_linearly_over_the_last_steps(cohort, tmp_path, capsys):
    """Constant, then linear to 0: the optimizer saved at the end ran its last step at lr / lr_decay_steps."""
    import torch

    from MRtoCTTranslationLib.diffusion.networks import build_network
    from MRtoCTTranslationLib.training.checkpoint import load_checkpoint
    from MRtoCTTranslationLib.training.config import TrainConfig

    cfg_path = _config(tmp_path, cohort, steps=4, lr_decay_steps=2, lr=1e-3, val_every=0)
    cfg = TrainConfig.from_yaml(cfg_path)
    assert [cfg.lr_at(s) for s in range(4)] == pytest.approx([1e-3, 1e-3, 1e-3, 5e-4])
    assert main(["train", "--config", str(cfg_path)]) == 0
    net = build_network(cfg.network)
    opt = torch.optim.AdamW(net.parameters(), lr=123.0)
    assert load_checkpoint(tmp_path / "run" / "checkpoint", {"net": net, "ema": build_network(cfg.network)},
                           {"opt": opt}) == 4
    assert opt.param_groups[0]["lr"] == pytest.approx(5e-4)
    bad = _config(tmp_path, cohort, steps=4, lr_decay_steps=5)
    assert main(["train", "--config", str(bad)]) == 2
    assert "lr_decay_steps 5 must be between 0 and steps (4)" in capsys.readouterr().err
