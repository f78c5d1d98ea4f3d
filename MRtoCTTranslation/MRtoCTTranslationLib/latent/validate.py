"""Whole-volume validation after each stage: reconstruction, latent translation, sampled targets.

Source: the first source modality of each validation subject; targets: every other modality. CT
is scored with the project's image metrics in HU, MR targets by their MAE in MR units (0..1000).
"""

from __future__ import annotations

import numpy as np
import torch

from SpineCoreLib.metrics import image_metrics
from SpineCoreLib.orientation import pad_to_multiple

from ..diffusion.schedule import CosineSchedule
from .config import LatentTrainConfig
from .data import Subject
from .networks import LatentNetworks
from .sampling import sample_target


def _tensor(values: np.ndarray, multiple: int, device: torch.device) -> tuple[torch.Tensor, tuple[slice, ...]]:
    padded, crop = pad_to_multiple(values, multiple)
    return torch.from_numpy(np.ascontiguousarray(padded, dtype=np.float32))[None, None].to(device), crop


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for r in rows for k in r})
    return {k: float(np.mean([r[k] for r in rows if k in r])) for k in keys}


@torch.no_grad()
def validate_stage(stage: str, nets: LatentNetworks, cfg: LatentTrainConfig, subjects: list[Subject],
                   schedule: CosineSchedule, device: torch.device) -> dict[str, float]:
    """Mean metrics of ``stage`` over the validation subjects (empty without any)."""
    mods = cfg.modality_list
    src = cfg.source_keys[0]
    rows = []
    for sub in subjects[: cfg.val_cases]:
        x, crop = _tensor(sub.values[src], nets.arch.multiple, device)
        row: dict[str, float] = {}
        if stage == "autoencoder":
            for m in mods:
                xm, _ = _tensor(sub.values[m.key], nets.arch.multiple, device)
                rec = nets.autoencoder.decode(nets.autoencoder.encode(xm)[0])[0, 0].cpu().numpy()[crop]
                row[f"recon_mae_{m.key}"] = float(np.abs(rec - sub.values[m.key]).mean())
        elif stage == "spade":
            mu_s = nets.autoencoder.encode(x)[0]
            for i, m in enumerate(mods):
                if m.key == src:
                    continue
                mu_t = nets.autoencoder.encode(_tensor(sub.values[m.key], nets.arch.multiple, device)[0])[0]
                like = nets.spade(mu_s, torch.tensor([i], device=device))
                row[f"latent_l1_{m.key}"] = float((like - mu_t).abs().mean())
        else:
            for i, m in enumerate(mods):
                if m.key == src:
                    continue
                out = sample_target(nets, x, torch.tensor([i], device=device), schedule, cfg.val_sampling_steps)
                pred = m.from_values(out[0, 0].cpu().numpy()[crop])
                if m.is_ct:
                    row |= {f"ct_{k}": v for k, v in image_metrics(pred, sub.raw[m.key]).items()}
                else:
                    row[f"{m.key}_mae_au"] = float(np.abs(pred - m.from_values(sub.values[m.key])).mean())
        rows.append(row)
    return _mean(rows) if rows else {}
