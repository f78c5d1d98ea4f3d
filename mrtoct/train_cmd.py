"""``mrtoct train``: train a translation model from a YAML config on a manifest."""

from __future__ import annotations

import argparse
from pathlib import Path

from MRtoCTTranslationLib.diffusion.config import UNPAIRED
from SpineCoreLib.validation import existing_file

from .errors import CLIError
from .precision_option import add_precision_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a translation model on a manifest (one GPU, several via torchrun, or CPU)",
                       description="Runs under torchrun for several GPUs or nodes (DDP), e.g. "
                       "torchrun --nproc_per_node 4 -m mrtoct.main train --config C.yaml")
    p.add_argument("--config", required=True, help="YAML training config (see Resources/Models/*/train.yaml)")
    p.add_argument("--no-resume", action="store_true", help="start over even if out_dir has a checkpoint")
    p.add_argument("--steps", type=int, default=None,
                   help="override the number of training steps (latent configs: of every stage that has steps)")
    add_precision_option(p, default=None, default_text="the config's precision, auto unless it says otherwise")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """A ``kind: latent`` config trains the three-stage latent model (one process); any other the
    image-space diffusion or Pix2Pix model (one process, or several under torchrun)."""
    import sys

    import torch

    from MRtoCTTranslationLib.latent.config import LatentTrainConfig, is_latent_config
    from MRtoCTTranslationLib.latent.trainer import train_latent
    from MRtoCTTranslationLib.precision import choose_precision, quiet
    from MRtoCTTranslationLib.training.config import TrainConfig
    from MRtoCTTranslationLib.training.trainer import train

    existing_file(args.config, "--config")
    config_cls, train_fn = (LatentTrainConfig, train_latent) if is_latent_config(args.config) else (TrainConfig, train)
    try:
        cfg = config_cls.from_yaml(args.config)
        if args.steps is not None:
            cfg.override_steps(args.steps)
        if args.precision is not None:
            cfg.precision = args.precision
        cfg.validate()
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    if not Path(cfg.manifest).is_file():
        raise CLIError(f"the config's manifest {cfg.manifest} does not exist")
    if getattr(getattr(cfg, "network", None), "kind", "") in UNPAIRED:  # both domains present, before any work
        from MRtoCTTranslationLib.training.unpaired import unpaired_rows

        try:
            unpaired_rows(cfg.manifest, cfg.input_column, cfg.target_column, "train")
        except ValueError as exc:
            raise CLIError(str(exc)) from exc
    with quiet():  # the trainer itself warns about an emulated precision
        prec = choose_precision(cfg.precision, "cuda" if torch.cuda.is_available() else "cpu", training=True)
    print(f"mrtoct train: {prec.describe()}", file=sys.stderr)
    try:
        folder = train_fn(cfg, resume=not args.no_resume)
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    print(f"model written to {folder}")
    return 0
