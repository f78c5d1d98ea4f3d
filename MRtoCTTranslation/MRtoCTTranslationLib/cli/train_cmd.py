"""``mrtoct train``: train a translation model from a YAML config on a manifest."""

from __future__ import annotations

import argparse
from pathlib import Path

from .errors import CLIError
from .precision_option import add_precision_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a translation model on a manifest (one GPU, several via torchrun, or CPU)",
                       description="Runs under torchrun for several GPUs or nodes (DDP), e.g. "
                       "torchrun --nproc_per_node 4 -m MRtoCTTranslationLib.cli.main train --config C.yaml")
    p.add_argument("--config", required=True, help="YAML training config (see Resources/Models/*/train.yaml)")
    p.add_argument("--no-resume", action="store_true", help="start over even if out_dir has a checkpoint")
    p.add_argument("--steps", type=int, default=None,
                   help="override the number of training steps (latent configs: of every stage that has steps)")
    add_precision_option(p, default=None, default_text="the config's precision, auto unless it says otherwise")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..training.config import TrainConfig
    from ..training.trainer import train

    if not Path(args.config).is_file():
        raise CLIError(f"--config {args.config} does not exist")
    from ..latent.config import is_latent_config

    if is_latent_config(args.config):
        return _run_latent(args)
    try:
        cfg = TrainConfig.from_yaml(args.config)
        if args.steps is not None:
            if args.steps < 1:
                raise CLIError("--steps must be at least 1")
            cfg.steps = args.steps
        if args.precision is not None:
            cfg.precision = args.precision
        cfg.validate()
        return _train_and_report(train, cfg, args)
    except ValueError as exc:
        raise CLIError(str(exc)) from exc


def _train_and_report(train_fn, cfg, args: argparse.Namespace) -> int:
    """Check the config's manifest, train, and say where the model is (both kinds of config)."""
    import sys

    import torch

    from ..precision import choose_precision, quiet

    if not Path(cfg.manifest).is_file():
        raise CLIError(f"the config's manifest {cfg.manifest} does not exist")
    with quiet():  # the trainer itself warns about an emulated precision
        prec = choose_precision(cfg.precision, "cuda" if torch.cuda.is_available() else "cpu")
    print(f"mrtoct train: {prec.describe()}", file=sys.stderr)
    folder = train_fn(cfg, resume=not args.no_resume)
    print(f"model written to {folder}")
    return 0


def _run_latent(args: argparse.Namespace) -> int:
    """A ``kind: latent`` config: the three-stage latent trainer (one process)."""
    from ..latent.config import LatentTrainConfig
    from ..latent.trainer import train_latent

    try:
        cfg = LatentTrainConfig.from_yaml(args.config)
        if args.steps is not None:
            if args.steps < 0:
                raise CLIError("--steps must be at least 0")
            for stage in cfg.stages.values():
                if stage.steps > 0:
                    stage.steps = args.steps
        if args.precision is not None:
            cfg.precision = args.precision
        cfg.validate()
        return _train_and_report(train_latent, cfg, args)
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
