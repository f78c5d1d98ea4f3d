"""The training loop: patches from a manifest, L1 on the configured diffusion target (or the
Pix2Pix, CUT or SynDiff objective), EMA weights, validation by sampling whole volumes, checkpoints and resume,
TensorBoard logs, and several processes through torchrun (DDP; gloo on CPU, NCCL on GPU).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.distributed as dist

from SpineCoreLib.intensity import CTMapping, MRMapping
from SpineCoreLib.manifest import read_manifest
from SpineCoreLib.metrics import image_metrics

from ..diffusion.config import UNPAIRED
from ..diffusion.networks import build_network
from ..diffusion.schedule import CosineSchedule
from ..models.card import ModelCard
from ..models.card_builder import build_card
from ..models.folder import save_model
from ..precision import Precision, backward_step, check_finite, choose_precision
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import Pair, load_pair, network_inputs, random_patch
from .ema import EMA
from .run_log import RunLog
from .unpaired import Domains, load_domains

if TYPE_CHECKING:
    from ..latent.config import LatentTrainConfig

log = logging.getLogger(__name__)


CITATIONS = {
    "diffusion": "Graf R, et al. Denoising diffusion-based MRI to CT image translation enables automated "
                 "spinal segmentation. Eur Radiol Exp 7, 70 (2023).",
    "pix2pix": "Isola P, Zhu J-Y, Zhou T, Efros AA. Image-to-image translation with conditional adversarial "
               "networks. CVPR 2017; as the baseline of Graf R, et al. Eur Radiol Exp 7, 70 (2023).",
    "cut": "Park T, Efros AA, Zhang R, Zhu J-Y. Contrastive learning for unpaired image-to-image translation. "
           "ECCV 2020; as a baseline of Graf R, et al. Eur Radiol Exp 7, 70 (2023).",
    "syndiff": "Özbey M, Dalmaz O, Dar SUH, Bedel HA, Özturk Ş, Güngör A, Çukur T. Unsupervised medical image "
               "translation with adversarial diffusion models. IEEE TMI 42(12), 3524-3539 (2023); as a baseline "
               "of Graf R, et al. Eur Radiol Exp 7, 70 (2023).",
}


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def load_pairs(cfg: TrainConfig, split: str) -> list[Pair]:
    rows = [r for r in read_manifest(cfg.manifest) if (r.get("split") or "train") == split]
    if cfg.network.kind in UNPAIRED:  # unpaired training: only rows with both are pairs (for validation)
        rows = [r for r in rows if r.get(cfg.input_column) and r.get(cfg.target_column)]
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
    twice the time; docs/results.md). Steps stay 20 until ``Testing/benchmarks/steps_curve.py --write-cards``
    measures the model's own curve."""
    steps = syndiff_steps(cfg) if cfg.network.kind == "syndiff" else 20
    return {"steps": steps, "eta": 0.0, "window": [int(n) for n in cfg.patch_size], "overlap": 0.25}


def syndiff_steps(cfg: TrainConfig) -> int:
    """SynDiff's number of diffusion steps (``network.extra.syndiff_steps``, 4 as in the paper)."""
    from ..diffusion.syndiff import DEFAULT_STEPS

    return int(cfg.network.extra.get("syndiff_steps", DEFAULT_STEPS))


def model_card(cfg: TrainConfig, mr_map: MRMapping, ct_map: CTMapping, n_train: int, metrics: dict,
               precision: str) -> ModelCard:
    contrasts = ["any"] if cfg.contrast != "fixed" else [c.removeprefix("mr_") for c in
                                                         [cfg.input_column, *cfg.extra_input_columns]]
    diffusion = {"schedule": "cosine", "train_timesteps": 1000, "prediction": cfg.network.prediction} \
        if cfg.network.kind == "diffusion" else None
    if cfg.network.kind == "syndiff":
        diffusion = {"schedule": "syndiff-vp", "train_timesteps": syndiff_steps(cfg), "prediction": "image"}
    return build_card(cfg, n_train=n_train, metrics=metrics, precision=precision, config=portable_config(cfg),
                      architecture=cfg.network.to_json(), diffusion=diffusion, input_contrasts=contrasts,
                      output_modality="CT", intensity={"mr": mr_map.to_json(), "ct": ct_map.to_json()},
                      inference_defaults=inference_defaults(cfg), citation=CITATIONS[cfg.network.kind])


def same_network(saved: dict, wanted: dict) -> bool:
    """Whether weights saved with architecture ``saved`` fit ``wanted``: the same, or a paired conditional
    denoiser's for SynDiff's diffusive generator (the same network; SynDiff then starts from a paired model)."""
    if saved.get("kind") == "diffusion" and wanted.get("kind") == "syndiff":
        return {**saved, "kind": "syndiff", "extra": wanted.get("extra")} == wanted
    return saved == wanted


def init_weights(cfg: TrainConfig, net: torch.nn.Module, ema: torch.nn.Module) -> None:
    """Start from a trained model's weights (fine-tuning): same architecture required."""
    from ..models.card import read_card
    from ..models.folder import load_weights
    from ..models.registry import resolve

    folder = resolve(cfg.init_from)
    card = read_card(folder)
    if not same_network(card.architecture, cfg.network.to_json()):
        raise ValueError(f"init_from {cfg.init_from!r} has architecture {card.architecture}, "
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

    card = model_card(cfg, mr_map, ct_map, 0, {}, "fp32")  # validate as the finished model will sample
    model = image_model(Path("."), card, cfg.network, net, mr_map, ct_map, CosineSchedule(), cfg.spacing_mm, device)
    options, fp32 = TranslationOptions(steps=cfg.val_sampling_steps), choose_precision("fp32", device)
    rng = np.random.default_rng(0)
    rows = []
    for pair in pairs[: cfg.val_cases]:
        mr, _ = network_inputs(pair, "fixed", rng, mr_map, ct_map)
        pred = ct_map.inverse(model.sample(mr, options, 0, fp32))
        rows.append(image_metrics(pred, pair.ct))
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}


@dataclass
class TrainingRun:
    """Everything one training run holds: data, networks, optimizers, random streams and the log."""

    cfg: TrainConfig
    rank: int
    world: int
    device: torch.device
    rng: np.random.Generator
    out: Path
    train_pairs: list[Pair]
    val_pairs: list[Pair]
    net: torch.nn.Module
    ema: EMA
    model: torch.nn.Module  # net, wrapped for DDP when there are several processes
    disc_model: torch.nn.Module | None  # Pix2Pix, CUT, SynDiff: the discriminator(s), wrapped for DDP the same way
    optimizers: dict[str, torch.optim.Optimizer]
    modules: dict[str, torch.nn.Module]
    precision: Precision
    scaler: torch.amp.GradScaler
    run_log: RunLog
    start: int = 0
    mr_map: MRMapping = field(default_factory=MRMapping)
    ct_map: CTMapping = field(default_factory=CTMapping)
    schedule: CosineSchedule = field(default_factory=CosineSchedule)
    domains: Domains | None = None  # CUT and SynDiff: the unpaired MR and CT pools

    @property
    def own_rng(self) -> np.random.Generator | None:
        """The stream a checkpoint keeps: one process only (ranks draw their own)."""
        return self.rng if self.world == 1 else None


def train(cfg: TrainConfig, resume: bool = True, progress: bool = True) -> Path:
    """Train as configured; write checkpoints and, at the end, the model folder ``out_dir/model``."""
    from tqdm import tqdm

    run = _setup(cfg, resume)
    bar = tqdm(total=cfg.steps, initial=run.start, desc=f"training {cfg.name}", disable=not progress or run.rank != 0)
    metrics: dict = {}
    for step in range(run.start, cfg.steps):
        loss, lr = _step(run, step)
        if run.rank == 0:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}")
            run.run_log.step(step, "train", {"loss": loss, "lr": lr})
            metrics = _validate_and_checkpoint(run, step + 1, metrics)
    bar.close()
    if run.world > 1:
        check_replicas_in_sync(run.modules)
    return _finish(run, metrics)


def check_replicas_in_sync(modules: dict[str, torch.nn.Module], tolerance: float = 1e-6) -> None:
    """RuntimeError when a network's weights differ between the processes of a DDP run (each process
    would then have trained a model of its own); compared through a sum of all weights per network."""
    import torch.distributed as dist

    sums = torch.tensor([float(sum(p.detach().double().sum() for p in m.parameters())) for m in modules.values()],
                        dtype=torch.float64)
    gathered = [torch.zeros_like(sums) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, sums)
    spread = (torch.stack(gathered).max(0).values - torch.stack(gathered).min(0).values).abs()
    for name, s, ref in zip(modules, spread.tolist(), sums.tolist(), strict=True):
        if s > tolerance * max(1.0, abs(ref)):
            raise RuntimeError(f"the {name} weights differ between the {len(gathered)} processes: it was not "
                               "trained under DistributedDataParallel")


def _setup(cfg: TrainConfig, resume: bool) -> TrainingRun:
    """Processes, data, networks and optimizers; resumed from ``out_dir/checkpoint`` when there is one."""
    rank, world, local_rank = _dist_info()
    if world > 1 and not dist.is_initialized():  # launched by torchrun
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.seed + rank)
    rng = np.random.default_rng(cfg.seed + 1000 * rank)
    out = Path(cfg.out_dir)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    unpaired = cfg.network.kind in UNPAIRED
    domains = load_domains(cfg.manifest, cfg.input_column, cfg.target_column, "train", cfg.spacing_mm,
                           MRMapping(), CTMapping()) if unpaired else None
    train_pairs = [] if unpaired else load_pairs(cfg, "train")
    if not train_pairs and not unpaired:
        raise ValueError(f"{cfg.manifest} has no rows in split 'train'")
    val_pairs = load_pairs(cfg, "val") if rank == 0 and cfg.val_every > 0 else []
    def wrapped(m: torch.nn.Module | None) -> torch.nn.Module | None:
        """DDP when there are several processes; wrapping copies rank 0's weights to every process."""
        return torch.nn.parallel.DistributedDataParallel(m) if world > 1 and m is not None else m

    net = build_network(cfg.network).to(device)
    companion = _companion(cfg, net, device)
    model = wrapped(_objective(cfg, net, companion))  # before the EMA copy: every process averages the same start
    ema = EMA(net, cfg.ema_decay)
    extra, disc_model, optimizers = _optimizers(cfg, net, companion, device, wrapped)
    modules: dict[str, torch.nn.Module] = {"net": net, "ema": ema.model, **extra}
    prec = choose_precision(cfg.precision, device, training=True)
    if rank == 0:
        log.info("%s", prec.describe())
    run = TrainingRun(cfg, rank, world, device, rng, out, train_pairs, val_pairs, net, ema, model, disc_model,
                      optimizers, modules, prec, prec.grad_scaler(), RunLog(out, enabled=rank == 0), domains=domains)
    ckpt = out / "checkpoint"
    if resume and (ckpt / "checkpoint.json").exists():
        run.start = load_checkpoint(ckpt, modules, optimizers, run.own_rng)
        log.info("resumed from %s at step %d", ckpt, run.start)
    elif cfg.init_from:
        init_weights(cfg, net, ema.model)
    return run


def _companion(cfg: TrainConfig, net: torch.nn.Module, device: torch.device) -> torch.nn.Module | None:
    """What trains beside the saved network: CUT's patch projections, SynDiff's source generator."""
    if cfg.network.kind == "cut":
        from ..diffusion.cut import PatchProjector

        return PatchProjector(net.feature_channels).to(device)
    if cfg.network.kind == "syndiff":
        from ..diffusion.syndiff import source_generator

        return source_generator(cfg.network).to(device)
    return None


def _objective(cfg: TrainConfig, net: torch.nn.Module, companion: torch.nn.Module | None) -> torch.nn.Module:
    """The module one training step calls (so that DDP sees one module and one call a step)."""
    if cfg.network.kind == "cut":
        from ..diffusion.cut import CUTObjective

        return CUTObjective(net, companion)
    if cfg.network.kind == "syndiff":
        from ..diffusion.syndiff import SynDiffObjective

        return SynDiffObjective(net, companion, syndiff_steps(cfg))
    return net


def _discriminator(cfg: TrainConfig, device: torch.device) -> torch.nn.Module:
    """Pix2Pix: (MR, CT) pairs; CUT: CT alone; SynDiff: the diffusion step (x_{i-1}, x_i, i) and the MR."""
    import dataclasses

    from ..diffusion.pix2pix import patch_discriminator

    def disc(in_channels: int) -> torch.nn.Module:
        return patch_discriminator(dataclasses.replace(cfg.network, in_channels=in_channels), cfg.patch_size)

    if cfg.network.kind == "syndiff":
        from ..diffusion.syndiff import SynDiffCritics

        return SynDiffCritics(disc(2), disc(0), syndiff_steps(cfg)).to(device)
    return disc(cfg.network.in_channels if cfg.network.kind == "pix2pix" else 0).to(device)


def _optimizers(cfg: TrainConfig, net: torch.nn.Module, companion: torch.nn.Module | None, device: torch.device,
                wrapped: Callable[[torch.nn.Module], torch.nn.Module]
                ) -> tuple[dict[str, torch.nn.Module], torch.nn.Module | None, dict[str, torch.optim.Optimizer]]:
    """The adversarial kinds' extra modules (discriminator; the companion), the wrapped discriminator
    and the optimizers: Adam with beta1 0.5 for both players of a GAN, AdamW for a denoiser."""
    if cfg.network.kind not in ("pix2pix", *UNPAIRED):
        return {}, None, {"opt": torch.optim.AdamW(net.parameters(), lr=cfg.lr)}
    disc = _discriminator(cfg, device)
    name = "proj" if cfg.network.kind == "cut" else "source"
    extra: dict[str, torch.nn.Module] = {"disc": disc, **({name: companion} if companion is not None else {})}
    generator = [*net.parameters(), *(companion.parameters() if companion is not None else [])]
    adam = {"lr": cfg.lr, "betas": (0.5, 0.999)}
    return extra, wrapped(disc), {"opt": torch.optim.Adam(generator, **adam),
                                  "opt_d": torch.optim.Adam(disc.parameters(), **adam)}


def _batch(run: TrainingRun) -> tuple[torch.Tensor, torch.Tensor]:
    """MR and CT patches of random training pairs, flipped left-right half of the time (the spine is
    roughly symmetric); 2D models get one sagittal slice each."""
    cfg, rng, mrs, cts = run.cfg, run.rng, [], []
    two_d = cfg.network.spatial_dims == 2
    for _ in range(cfg.batch_size):
        pair = run.train_pairs[int(rng.integers(len(run.train_pairs)))]
        mr, ct = network_inputs(pair, cfg.contrast, rng, run.mr_map, run.ct_map, cfg.mr_realism)
        if rng.uniform() < 0.5:
            mr, ct = mr[..., ::-1], ct[..., ::-1]
        size = list(cfg.patch_size) + ([1] if two_d else [])
        p_mr, p_ct = random_patch([mr, ct], size, rng, [-1.0, run.ct_map.forward(np.float32(-1024.0))])
        mrs.append(p_mr[..., 0] if two_d else p_mr)
        cts.append(p_ct[..., 0] if two_d else p_ct)
    return (torch.from_numpy(np.stack(mrs)[:, None].copy()).to(run.device),
            torch.from_numpy(np.stack(cts)[:, None].copy()).to(run.device))


def _unpaired_batch(run: TrainingRun) -> tuple[torch.Tensor, torch.Tensor]:
    """MR patches and CT patches drawn independently from the two pools (flipped left-right at random)."""
    cfg, rng = run.cfg, run.rng
    two_d = cfg.network.spatial_dims == 2
    size = list(cfg.patch_size) + ([1] if two_d else [])
    out = []
    for pool, pad in ((run.domains.mr, -1.0), (run.domains.ct, float(run.ct_map.forward(np.float32(-1024.0))))):
        patches = []
        for _ in range(cfg.batch_size):
            vol = pool[int(rng.integers(len(pool)))]
            vol = vol[..., ::-1] if rng.uniform() < 0.5 else vol
            p = random_patch([vol], size, rng, [pad])[0]
            patches.append(p[..., 0] if two_d else p)
        out.append(torch.from_numpy(np.stack(patches)[:, None].copy()).to(run.device))
    return out[0], out[1]


def _cut_loss(run: TrainingRun, mr: torch.Tensor, ct: torch.Tensor) -> torch.Tensor:
    """CUT: the discriminator's step (real CT against generated), then the generator's loss: least squares
    adversarial + PatchNCE (MR vs its output) + identity PatchNCE (CT vs its output)."""
    from ..diffusion.pix2pix import lsgan_loss

    cfg, disc = run.cfg, run.disc_model
    n, weight = int(cfg.network.extra.get("nce_patches", 256)), float(cfg.network.extra.get("nce_weight", 1.0))
    fake, nce = run.model(mr, ct, n, int(run.rng.integers(2**31)))
    # real and generated CT in one forward pass: DDP reduces gradients once per forward and backward
    scores = disc(torch.cat([ct, fake.detach()], 0))
    d_loss = 0.5 * (lsgan_loss(scores[: ct.shape[0]], True) + lsgan_loss(scores[ct.shape[0]:], False))
    run.optimizers["opt_d"].zero_grad(set_to_none=True)
    backward_step(d_loss, run.optimizers["opt_d"], run.scaler)
    return lsgan_loss(disc(fake), True) + weight * nce


def _syndiff_loss(run: TrainingRun, mr: torch.Tensor, ct: torch.Tensor) -> torch.Tensor:
    """SynDiff: the discriminators' step (a real diffusion step against the generator's, real MR against
    the CT's MR estimate), then the generators' loss: both non-saturating adversarial terms + the cycle's
    L1 (the CT recovered from its own MR estimate)."""
    from ..diffusion.syndiff import SynDiffSchedule, nonsaturating

    schedule = SynDiffSchedule(syndiff_steps(run.cfg))
    gen = torch.Generator().manual_seed(int(run.rng.integers(2**31)))
    n = ct.shape[0]
    i = torch.randint(1, schedule.steps + 1, (n,), generator=gen)
    prev, x_i = schedule.noisy_pair(ct, i, gen)
    mr_estimate, x0 = run.model(ct, x_i, i.to(ct.device))
    fake_prev = schedule.posterior(x0.float(), x_i, i, gen)
    critics = run.disc_model
    d_diff, d_mr = critics(torch.cat([prev, fake_prev.detach()]), torch.cat([x_i, x_i]), torch.cat([i, i]),
                           torch.cat([mr, mr_estimate.detach()]))
    d_loss = (nonsaturating(d_diff[:n], True) + nonsaturating(d_diff[n:], False)
              + nonsaturating(d_mr[:n], True) + nonsaturating(d_mr[n:], False))
    run.optimizers["opt_d"].zero_grad(set_to_none=True)
    backward_step(d_loss, run.optimizers["opt_d"], run.scaler)
    g_diff, g_mr = critics(fake_prev, x_i, i, mr_estimate)
    cycle = float(run.cfg.network.extra.get("cycle_weight", 0.5))
    return nonsaturating(g_diff, True) + nonsaturating(g_mr, True) + cycle * torch.nn.functional.l1_loss(x0.float(), ct)


def _step(run: TrainingRun, step: int) -> tuple[float, float]:
    """One optimisation step (the discriminator's first, for Pix2Pix and CUT); the loss and learning rate."""
    cfg, sched = run.cfg, run.schedule
    mr, ct = _unpaired_batch(run) if run.domains is not None else _batch(run)
    lr = cfg.lr_at(step)
    for o in run.optimizers.values():
        for group in o.param_groups:
            group["lr"] = lr
    with run.precision.autocast():
        if cfg.network.kind == "cut":
            loss = _cut_loss(run, mr, ct)
        elif cfg.network.kind == "syndiff":
            loss = _syndiff_loss(run, mr, ct)
        elif cfg.network.kind == "diffusion":
            t = torch.randint(0, sched.num_steps, (mr.shape[0],), device=run.device)
            noise = torch.randn_like(ct)
            pred = run.model(sched.add_noise(ct, noise, t), mr, t)
            loss = torch.nn.functional.l1_loss(pred.float(), sched.target(cfg.network.prediction, ct, noise, t))
        else:
            from ..diffusion.pix2pix import lsgan_loss

            disc, fake = run.disc_model, run.model(mr)
            # real and fake pairs in one forward pass: DDP reduces gradients once per forward and backward
            scores = disc(torch.cat([torch.cat([mr, ct], 1), torch.cat([mr, fake.detach()], 1)], 0))
            real, fake_scores = scores[: mr.shape[0]], scores[mr.shape[0]:]
            d_loss = 0.5 * (lsgan_loss(real, True) + lsgan_loss(fake_scores, False))
            run.optimizers["opt_d"].zero_grad(set_to_none=True)
            backward_step(d_loss, run.optimizers["opt_d"], run.scaler)
            l1_weight = float(cfg.network.extra.get("l1_weight", 10.0))
            loss = lsgan_loss(disc(torch.cat([mr, fake], 1)), True) + l1_weight * torch.nn.functional.l1_loss(fake, ct)
    run.optimizers["opt"].zero_grad(set_to_none=True)
    backward_step(loss, run.optimizers["opt"], run.scaler)
    run.ema.update(run.net)
    check_finite(loss.item(), step, run.precision)
    return loss.item(), lr


def _validate_and_checkpoint(run: TrainingRun, done: int, metrics: dict) -> dict:
    """After ``done`` steps: validate and checkpoint when due (always after the last); the latest metrics."""
    cfg, last = run.cfg, done == run.cfg.steps
    if cfg.val_every > 0 and run.val_pairs and (done % cfg.val_every == 0 or last):
        metrics = validate(run.ema.model, cfg, run.val_pairs, run.mr_map, run.ct_map, run.device)
        log.info("step %d validation %s", done, metrics)
        run.run_log.validation(done, "val", metrics)
    if done % cfg.checkpoint_every == 0 or last:
        save_checkpoint(run.out / "checkpoint", run.modules, run.optimizers, done, {"config": cfg.to_json()},
                        run.own_rng)
    return metrics


def _finish(run: TrainingRun, metrics: dict) -> Path:
    """The model folder (EMA weights and the card), written by the first process; processes joined."""
    folder = run.out / "model"
    if run.rank == 0:
        n_train = len(run.train_pairs) if run.domains is None else len(set(run.domains.mr_subjects)
                                                                         | set(run.domains.ct_subjects))
        card = model_card(run.cfg, run.mr_map, run.ct_map, n_train, {"validation": metrics},
                          run.precision.name)
        save_model(folder, run.ema.model.state_dict(), card)
    run.run_log.close()
    if run.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return folder
