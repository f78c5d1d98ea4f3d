"""Training checkpoints without pickle: tensors in safetensors, everything else in JSON.

The optimizer state is flattened to ``optim.<param index>.<key>`` tensors plus JSON scalars,
so resuming restores Adam's moments exactly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from SpineLandmarkRegistrationLib.atomic_io import atomic_output, write_json


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, ema: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, step: int, extra: dict) -> Path:
    d = Path(path)
    d.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors |= {f"ema.{k}": v for k, v in ema.state_dict().items()}
    opt = optimizer.state_dict()
    scalars: dict = {"param_groups": opt["param_groups"], "state": {}}
    for idx, st in opt["state"].items():
        for key, val in st.items():
            if torch.is_tensor(val):
                tensors[f"optim.{idx}.{key}"] = val
            else:
                scalars["state"].setdefault(str(idx), {})[key] = val
    with atomic_output(d / "checkpoint.safetensors") as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
    write_json(d / "checkpoint.json", {"step": step, "optimizer": scalars, **extra})
    return d


def load_checkpoint(path: str | os.PathLike, model: torch.nn.Module, ema: torch.nn.Module,
                    optimizer: torch.optim.Optimizer) -> int:
    """Restore a checkpoint in place; return the step to continue from."""
    d = Path(path)
    tensors = load_file(str(d / "checkpoint.safetensors"))
    meta = json.loads((d / "checkpoint.json").read_text())
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    state: dict = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, idx, key = k.split(".", 2)
            state.setdefault(int(idx), {})[key] = v
    for idx, st in meta["optimizer"]["state"].items():
        state.setdefault(int(idx), {}).update(st)
    optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer"]["param_groups"]})
    return int(meta["step"])
