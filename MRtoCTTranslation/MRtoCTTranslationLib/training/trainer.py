"""The training loop: patches from a manifest, L1 on the configured diffusion target (or the
Pix2Pix objective), EMA weights, validation by sampling whole volumes, checkpoints and resume,
TensorBoard logs, and several processes through torchrun (DDP; gloo on CPU, NCCL on GPU).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.distributed as dist

from SpineLandmarkRegistrationLib.manifest import read_manifest

from ..diffusion.networks import build_network
from ..diffusion.schedule import CosineSchedule
from ..intensity import CTMapping, MRMapping
from ..metrics import image_metrics
from ..models.folder import save_model
from ..precision import backward_step, choose_precision
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import Pair, load_pair, network_inputs, random_patch
from .ema import EMA
from .run_log import RunLog

if TYPE_CHECKING:
    from ..latent.config import LatentTrainConfig

log = logging.getLogger(__name__)


CITATIONS = {
    "diffusion": "Graf R, et al. Denoising diffusion-based MRI to CT image translation enables automated "
                 "spinal segmentation. Eur Radiol Exp 7, 70 (2023).",
    "pix2pix": "Isola P, Zhu J-Y, Zhou T, Efros AA. Image-to-image translation with conditional adversarial "
               "networks. CVPR 2017; as the baseline of Graf R, et al. Eur Radiol Exp 7, 70 (2023).",
}


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def load_pairs(cfg: TrainConfig, split: str) -> list[Pair]:
    rows = [r for r in read_manifest(cfg.manifest) if (r.get("split") or "train") == split]
    cols = [cfg.input_column, *cfg.extra_input_columns]
    return [load_pair(r, cols, cfg.target_column, cfg.spacing_mm, cfg.contrast != "fixed") for r in rows]


def portable_config(cfg: TrainConfig | LatentTrainConfig) -> dict:
    """The config for a model card: paths reduced to their last two parts (no machine paths)."""
    d = cfg.to_json()
    for key in ("manifest", "out_dir"):
        d[key] = "/".join(Path(d[key]).parts[-2:])
    if d.get("init_from"):
        d["init_from"] = Path(d["init_from"]).name
    return d


def inference_defaults(cfg: TrainConfig) -> dict:
    """Sampling settings for the card. Windows of the training patch: GroupNorm then sees the extent it
    was trained on (measured 3-5 HU better than whole-volume windows; overlap 0.5 gains 0.6 HU more for
    twice the time, README)."""
    return {"steps": 20, "eta": 0.0, "window": [int(n) for n in cfg.patch_size], "overlap": 0.25}


def model_card(cfg: TrainConfig, mr_map: MRMapping, ct_map: CTMapping, n_train: int, metrics: dict) -> dict:
    contrasts = ["any"] if cfg.contrast != "fixed" else [c.removeprefix("mr_") for c in
                                                         [cfg.input_column, *cfg.extra_input_columns]]
    return {
        "name": cfg.name,
        "description": cfg.description,
        "version": 1,
        "architecture": cfg.network.to_json(),
        "diffusion": {"schedule": "cosine", "train_timesteps": 1000, "prediction": cfg.network.prediction}
        if cfg.network.kind == "diffusion" else None,
        "input_modality": "MR",
        "input_contrasts": contrasts,
        "output_modality": "CT",
        "spacing_mm": cfg.spacing_mm,
        "orientation": "LPS (canonical axis order; inputs are reoriented)",
        "intensity": {"mr": mr_map.to_json(), "ct": ct_map.to_json()},
        "training": {"manifest": Path(cfg.manifest).name, "cases": n_train, "config": portable_config(cfg),
                     "world_size": int(os.environ.get("WORLD_SIZE", "1"))},
        "metrics": metrics,
        "inference_defaults": inference_defaults(cfg),
        "license": cfg.license,
        "citation": CITATIONS[cfg.network.kind],
    }


def init_weights(cfg: TrainConfig, net: torch.nn.Module, ema: torch.nn.Module) -> None:
    """Start from a trained model's weights (fine-tuning): same architecture required."""
    from ..models.folder import load_weights, read_card
    from ..models.registry import resolve

    folder = resolve(cfg.init_from)
    card = read_card(folder)
    if card.get("architecture") != cfg.network.to_json():
        raise ValueError(f"init_from {cfg.init_from!r} has architecture {card.get('architecture')}, "
                         f"but the config asks for {cfg.network.to_json()}: copy the model's network section")
    state = load_weights(folder, card)
    net.load_state_dict(state)
    ema.load_state_dict(state)
    log.info("initialised from %s", folder)


def validate(net: torch.nn.Module, cfg: TrainConfig, pairs: list[Pair], mr_map: MRMapping, ct_map: CTMapping,
             device: torch.device) -> dict[str, float]:
    """Mean metrics of whole-volume predictions (EMA weights, few DDIM steps) on validation pairs."""
    from ..image_models import image_model
    from ..options import TranslationOptions
    from ..precision import choose_precision

    card = {"inference_defaults": inference_defaults(cfg)}  # validate as the finished model will sample
    model = image_model(Path("."), card, cfg.network, net, mr_map, ct_map, CosineSchedule(), cfg.spacing_mm, device)
    options, fp32 = TranslationOptions(steps=cfg.val_sampling_steps), choose_precision("fp32", device)
    rng = np.random.default_rng(0)
    rows = []
    for pair in pairs[: cfg.val_cases]:
        mr, _ = network_inputs(pair, "fixed", rng, mr_map, ct_map)
        pred = ct_map.inverse(model.sample(mr, options, 0, fp32))
        rows.append(image_metrics(pred, pair.ct))
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}


def train(cfg: TrainConfig, resume: bool = True, progress: bool = True) -> Path:
    """Train as configured; write checkpoints and, at the end, the model folder ``out_dir/model``."""
    from tqdm import tqdm

    rank, world, local_rank = _dist_info()
    if world > 1 and not dist.is_initialized():  # launched by torchrun
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.seed + rank)
    rng = np.random.default_rng(cfg.seed + 1000 * rank)
    out = Path(cfg.out_dir)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)

    train_pairs = load_pairs(cfg, "train")
    if not train_pairs:
        raise ValueError(f"{cfg.manifest} has no rows in split 'train'")
    val_pairs = load_pairs(cfg, "val") if rank == 0 and cfg.val_every > 0 else []
    mr_map, ct_map = MRMapping(), CTMapping()
    schedule = CosineSchedule()

    net = build_network(cfg.network).to(device)
    ema = EMA(net, cfg.ema_decay)
    gan = cfg.network.kind == "pix2pix"
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=(0.5, 0.999)) if gan else \
        torch.optim.AdamW(net.parameters(), lr=cfg.lr)
    disc = opt_d = None
    if gan:
        from ..diffusion.pix2pix import lsgan_loss, patch_discriminator

        disc = patch_discriminator(cfg.network, cfg.patch_size).to(device)
        opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
        l1_weight = float(cfg.network.extra.get("l1_weight", 10.0))
    start = 0
    ckpt = out / "checkpoint"
    modules = {"net": net, "ema": ema.model} | ({"disc": disc} if gan else {})
    optimizers = {"opt": opt} | ({"opt_d": opt_d} if gan else {})
    own_rng = rng if world == 1 else None  # one process: a resumed run continues the same random streams
    if resume and (ckpt / "checkpoint.json").exists():
        start = load_checkpoint(ckpt, modules, optimizers, own_rng)
        log.info("resumed from %s at step %d", ckpt, start)
    elif cfg.init_from:
        init_weights(cfg, net, ema.model)
    model = torch.nn.parallel.DistributedDataParallel(net) if world > 1 else net
    prec = choose_precision(cfg.precision, device)
    if rank == 0:
        log.info("%s", prec.describe())
    scaler = prec.grad_scaler()
    run_log = RunLog(out, enabled=rank == 0)

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        mrs, cts = [], []
        for _ in range(cfg.batch_size):
            pair = train_pairs[int(rng.integers(len(train_pairs)))]
            mr, ct = network_inputs(pair, cfg.contrast, rng, mr_map, ct_map)
            if rng.uniform() < 0.5:  # flip left-right: the spine is roughly symmetric
                mr, ct = mr[..., ::-1], ct[..., ::-1]
            size = list(cfg.patch_size) + ([1] if cfg.network.spatial_dims == 2 else [])  # 2D: one sagittal slice
            p_mr, p_ct = random_patch([mr, ct], size, rng, [-1.0, ct_map.forward(np.float32(-1024.0))])
            mrs.append(p_mr[..., 0] if cfg.network.spatial_dims == 2 else p_mr)
            cts.append(p_ct[..., 0] if cfg.network.spatial_dims == 2 else p_ct)
        return (torch.from_numpy(np.stack(mrs)[:, None].copy()).to(device),
                torch.from_numpy(np.stack(cts)[:, None].copy()).to(device))

    bar = tqdm(total=cfg.steps, initial=start, desc=f"training {cfg.name}", disable=not progress or rank != 0)
    metrics: dict = {}
    for step in range(start, cfg.steps):
        mr, ct = batch()
        lr = cfg.lr_at(step)
        for o in optimizers.values():
            for group in o.param_groups:
                group["lr"] = lr
        with prec.autocast():
            if cfg.network.kind == "diffusion":
                t = torch.randint(0, schedule.num_steps, (mr.shape[0],), device=device)
                noise = torch.randn_like(ct)
                x_t = schedule.add_noise(ct, noise, t)
                pred = model(x_t, mr, t)
                loss = torch.nn.functional.l1_loss(pred.float(), schedule.target(cfg.network.prediction, ct, noise, t))
            else:
                fake = model(mr)
                d_loss = 0.5 * (lsgan_loss(disc(torch.cat([mr, ct], 1)), True)
                                + lsgan_loss(disc(torch.cat([mr, fake.detach()], 1)), False))
                opt_d.zero_grad(set_to_none=True)
                backward_step(d_loss, opt_d, scaler)
                loss = lsgan_loss(disc(torch.cat([mr, fake], 1)), True) + \
                    l1_weight * torch.nn.functional.l1_loss(fake, ct)
        opt.zero_grad(set_to_none=True)
        backward_step(loss, opt, scaler)
        ema.update(net)
        if rank == 0:
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}")
            run_log.step(step, "train", {"loss": loss.item(), "lr": lr})
            last = step + 1 == cfg.steps
            if cfg.val_every > 0 and val_pairs and ((step + 1) % cfg.val_every == 0 or last):
                metrics = validate(ema.model, cfg, val_pairs, mr_map, ct_map, device)
                log.info("step %d validation %s", step + 1, metrics)
                run_log.validation(step + 1, "val", metrics)
            if (step + 1) % cfg.checkpoint_every == 0 or last:
                save_checkpoint(ckpt, modules, optimizers, step + 1, {"config": cfg.to_json()}, own_rng)
    bar.close()
    folder = out / "model"
    if rank == 0:
        card = model_card(cfg, mr_map, ct_map, len(train_pairs), {"validation": metrics})
        card["training"]["precision"] = prec.name  # what auto resolved to on the training hardware
        save_model(folder, ema.model.state_dict(), card)
    run_log.close()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return folder
