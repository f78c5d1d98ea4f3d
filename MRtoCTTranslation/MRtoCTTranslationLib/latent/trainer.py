"""The latent-model trainer: three stages from one config, in one process (CPU or one GPU).

Each stage trains its networks on random (source, target) pairs of one subject (Kim & Park, WACV
2024), keeps an EMA of their weights and, when it ends, freezes the EMA weights for the stages that
follow (so the saved model is exactly what the later stages were trained against). Once the
autoencoder is frozen, every training volume is encoded once and the SPADE and diffusion stages
draw latent patches from that cache. Checkpoints
(safetensors + JSON, ``training/checkpoint.py``) hold every network, the discriminator, the EMAs,
every optimizer, the steps done per stage and the latent scale; a run resumes where it stopped.
Logs go to ``log.jsonl`` and, when installed, TensorBoard.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..diffusion.schedule import CosineSchedule
from ..models.folder import save_model
from ..precision import Precision, check_finite, choose_precision
from ..training.checkpoint import load_checkpoint, save_checkpoint
from ..training.ema import EMA
from ..training.run_log import RunLog
from .architecture import LatentArchitecture
from .cache import LatentSubject, cached_scale, draw_latent_batch, encode_subjects
from .card import latent_card
from .config import KIND, STAGES, LatentTrainConfig
from .data import draw_batch, load_subjects
from .networks import PARTS, LatentNetworks
from .stages import autoencoder_step, diffusion_step, image_discriminator, spade_step
from .validate import validate_stage

log = logging.getLogger(__name__)

TRAINS = {"autoencoder": ("autoencoder", "spade"), "spade": ("spade",), "diffusion": ("unet",)}
# optimizers whose rate follows each stage's schedule
STAGE_OPTIMIZERS = {"autoencoder": ("autoencoder", "discriminator"), "spade": ("spade",), "diffusion": ("diffusion",)}


def _freeze(nets: LatentNetworks, trainable: tuple[str, ...]) -> None:
    for part in PARTS:
        module = getattr(nets, part)
        module.requires_grad_(part in trainable)
        module.train(part in trainable)


def _init_from(cfg: LatentTrainConfig, nets: LatentNetworks, emas: dict[str, EMA]) -> float | None:
    """Start every network from a trained latent model (same architecture); its latent scale is kept
    only when this run does not retrain the autoencoder or the SPADE generator."""
    from ..models.card import read_card
    from ..models.folder import load_weights
    from ..models.registry import resolve

    folder = resolve(cfg.init_from)
    card = read_card(folder)
    arch = card.architecture
    if card.kind != KIND:
        raise ValueError(f"init_from {cfg.init_from!r} is a {card.kind!r} model, not a latent one")
    theirs = LatentArchitecture.from_json(arch)
    mine = cfg.architecture(theirs.latent_scale)
    if theirs.to_json() != mine.to_json():
        raise ValueError(f"init_from {cfg.init_from!r} has architecture {arch}, but the config asks for "
                         f"{mine.to_json()}: copy the model's modalities and network sections")
    nets.load_state_dict(load_weights(folder, card))
    for part, ema in emas.items():
        ema.model.load_state_dict(getattr(nets, part).state_dict())
    log.info("initialised from %s", folder)
    retrains = cfg.stages["autoencoder"].steps > 0 or cfg.stages["spade"].steps > 0
    return None if retrains else theirs.latent_scale


def _read_meta(ckpt: Path) -> dict:
    meta = json.loads((ckpt / "checkpoint.json").read_text())
    if meta.get("kind") != KIND:
        raise ValueError(f"{ckpt} holds a checkpoint of another kind of model: choose another out_dir, "
                         "or start over with --no-resume")
    return meta


@dataclass
class LatentRun:
    """Everything one latent training run holds across its stages."""

    cfg: LatentTrainConfig
    device: torch.device
    out: Path
    train_subjects: list
    val_subjects: list
    nets: LatentNetworks
    disc: torch.nn.Module
    emas: dict[str, EMA]
    opts: dict[str, torch.optim.Optimizer]
    precision: Precision
    scaler: torch.amp.GradScaler
    run_log: RunLog
    rng: np.random.Generator
    mods: list = field(default_factory=list)  # the config's modalities, in class-index order
    schedule: CosineSchedule = field(default_factory=CosineSchedule)
    done: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))
    scale: float | None = None
    metrics: dict = field(default_factory=dict)
    cache: list[LatentSubject] | None = None

    @property
    def modules(self) -> dict[str, torch.nn.Module]:
        return {part: getattr(self.nets, part) for part in PARTS} | {"discriminator": self.disc} | \
            {f"ema_{part}": ema.model for part, ema in self.emas.items()}


def train_latent(cfg: LatentTrainConfig, resume: bool = True, progress: bool = True) -> Path:
    """Run the configured stages (resuming from ``out_dir/checkpoint``); write ``out_dir/model``."""
    run = _setup(cfg, resume)
    for k, stage in enumerate(STAGES):
        if _to_train(run, k, stage):
            _train_stage(run, stage, progress)
    if cfg.stages["diffusion"].steps == 0 and run.scale is None:
        log.warning("no diffusion stage was trained: the model folder cannot translate yet")
    run.run_log.close()
    card = latent_card(cfg, cfg.architecture(float(run.scale or 1.0)), len(run.train_subjects),
                       {"validation": run.metrics}, run.precision.name)
    return save_model(run.out / "model", _averaged(run).state_dict(), card)


def _averaged(run: LatentRun) -> LatentNetworks:
    """A frozen copy of the networks with every part's EMA weights: what is validated and shipped. The
    training networks keep their own weights, so a lengthened stage continues the run it extends."""
    nets = copy.deepcopy(run.nets)
    for part, ema in run.emas.items():
        getattr(nets, part).load_state_dict(ema.model.state_dict())
    _freeze(nets, ())
    return nets


def _setup(cfg: LatentTrainConfig, resume: bool) -> LatentRun:
    """Data, networks, optimizers and random streams; resumed from ``out_dir/checkpoint`` when there is one."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError("the latent trainer runs in one process: start it without torchrun")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mods = cfg.modality_list
    train_subjects = load_subjects(cfg.manifest, "train", mods, cfg.spacing_mm)
    if not train_subjects:
        raise ValueError(f"{cfg.manifest} has no rows in split 'train'")
    val_subjects = load_subjects(cfg.manifest, "val", mods, cfg.spacing_mm)[: cfg.val_cases] if cfg.val_cases else []
    nets = LatentNetworks(cfg.architecture()).to(device)
    disc = image_discriminator(cfg.losses, cfg.stages["autoencoder"].patch_size).to(device)
    emas = {part: EMA(getattr(nets, part), cfg.ema_decay) for part in PARTS}
    st = cfg.stages
    opts: dict[str, torch.optim.Optimizer] = {
        "autoencoder": torch.optim.Adam([*nets.autoencoder.parameters(), *nets.spade.parameters()],
                                        lr=st["autoencoder"].lr, betas=(0.5, 0.9)),
        "discriminator": torch.optim.Adam(disc.parameters(), lr=st["autoencoder"].lr, betas=(0.5, 0.9)),
        "spade": torch.optim.Adam(nets.spade.parameters(), lr=st["spade"].lr, betas=(0.5, 0.9)),
        "diffusion": torch.optim.AdamW(nets.unet.parameters(), lr=st["diffusion"].lr),
    }
    prec = choose_precision(cfg.precision, device, training=True)
    log.info("%s", prec.describe())
    run = LatentRun(cfg, device, out, train_subjects, val_subjects, nets, disc, emas, opts, prec, prec.grad_scaler(),
                    RunLog(out), np.random.default_rng([cfg.seed, 0]), mods, CosineSchedule(cfg.unet.train_timesteps))
    torch.manual_seed(cfg.seed)
    ckpt = out / "checkpoint"
    if resume and (ckpt / "checkpoint.json").exists():
        meta = _read_meta(ckpt)
        load_checkpoint(ckpt, run.modules, opts, run.rng)  # with the random state: the same streams continue
        run.done.update(meta.get("stage_steps") or {})
        run.scale, run.metrics = meta.get("latent_scale"), meta.get("metrics") or {}
        if "numpy_rng" not in meta:  # written without its random state: new streams for the rest
            run.rng = np.random.default_rng([cfg.seed, sum(run.done.values())])
            torch.manual_seed(cfg.seed + sum(run.done.values()))
        log.info("resumed from %s at %s", ckpt, run.done)
    elif cfg.init_from:
        run.scale = _init_from(cfg, nets, emas)
    return run


def _to_train(run: LatentRun, k: int, stage: str) -> bool:
    """Whether ``stage`` (the k-th) still has steps to run: not once a later stage has begun."""
    steps, done = run.cfg.stages[stage].steps, run.done
    if any(done[s] > 0 for s in STAGES[k + 1:]):
        if steps > done[stage]:
            log.warning("stage %s ended at %d steps before a later stage began: not resumed", stage, done[stage])
        return False
    return done[stage] < steps


def _train_stage(run: LatentRun, stage: str, progress: bool) -> None:
    """One stage from where it stopped: its networks train, the others are frozen, those of earlier stages
    with their EMA weights; at its end the averaged networks are validated."""
    from tqdm import tqdm

    cfg, nets, sc = run.cfg, run.nets, run.cfg.stages[stage]
    trainable = TRAINS[stage]
    earlier = {part for s in STAGES[:STAGES.index(stage)] for part in TRAINS[s]} - set(trainable)
    for part in sorted(earlier):  # later stages build on the averaged weights of earlier ones
        getattr(nets, part).load_state_dict(run.emas[part].model.state_dict())
    _freeze(nets, trainable)
    if stage != "autoencoder" and run.cache is None:  # the autoencoder is frozen from here on
        t_enc = time.perf_counter()
        max_patch = [max(cfg.stages[s].patch_size[i] for s in ("spade", "diffusion")) for i in range(3)]
        run.cache = encode_subjects(nets, run.train_subjects, max_patch, run.device)
        log.info("encoded %d subjects in %.1f s", len(run.cache), time.perf_counter() - t_enc)
    if stage == "diffusion":
        if run.scale is None:
            run.scale = cached_scale(run.cache)
            log.info("latent scale %.4f", run.scale)
        nets.arch.latent_scale = run.scale
    bar = tqdm(total=sc.steps, initial=run.done[stage], desc=f"{cfg.name} {stage}", disable=not progress)
    for step in range(run.done[stage], sc.steps):
        lr = sc.lr_at(step)
        losses = _stage_step(run, stage, step, lr)
        check_finite(losses["loss"], step, run.precision)
        for part in trainable:
            run.emas[part].update(getattr(nets, part))
        run.done[stage] = step + 1
        bar.update(1)
        bar.set_postfix(loss=f"{losses['loss']:.4f}")
        run.run_log.step(step, stage, {**losses, "lr": lr}, stage=stage)
        last = step + 1 == sc.steps
        if last:
            run.metrics[stage] = validate_stage(stage, _averaged(run), cfg, run.val_subjects, run.schedule,
                                                run.device)
            log.info("%s stage done; validation %s", stage, run.metrics[stage])
            run.run_log.validation(step + 1, f"{stage}_val", run.metrics[stage], stage=stage)
        if last or (step + 1) % cfg.checkpoint_every == 0:
            save_checkpoint(run.out / "checkpoint", run.modules, run.opts, sum(run.done.values()),
                            {"kind": KIND, "stage_steps": run.done, "latent_scale": run.scale,
                             "metrics": run.metrics, "config": cfg.to_json()}, run.rng)
    bar.close()


def _stage_step(run: LatentRun, stage: str, step: int, lr: float) -> dict[str, float]:
    """One optimisation step of ``stage`` at learning rate ``lr``: image patches for the autoencoder,
    cached latent patches for SPADE and diffusion."""
    cfg, sc, opts = run.cfg, run.cfg.stages[stage], run.opts
    for name in STAGE_OPTIMIZERS[stage]:
        for group in opts[name].param_groups:
            group["lr"] = lr
    scaler, mods = run.scaler, run.mods
    with run.precision.autocast():
        if stage == "autoencoder":
            batch = draw_batch(run.train_subjects, mods, cfg.source_keys, sc.batch_size, sc.patch_size, run.rng,
                               run.device)
            return autoencoder_step(run.nets, run.disc, batch, cfg.losses, step, opts["autoencoder"],
                                    opts["discriminator"], scaler)
        latent_patch = [p // run.nets.arch.autoencoder.factor for p in sc.patch_size]
        lb = draw_latent_batch(run.cache, mods, cfg.source_keys, sc.batch_size, latent_patch, run.rng, run.device)
        if stage == "spade":
            return spade_step(run.nets, lb, cfg.losses, opts["spade"], scaler)
        return diffusion_step(run.nets, lb, cfg.losses, run.schedule, float(run.scale), opts["diffusion"], scaler)
