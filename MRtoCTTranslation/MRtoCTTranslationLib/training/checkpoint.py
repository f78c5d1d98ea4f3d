"""Training checkpoints without pickle: tensors in safetensors, everything else in JSON.

Every named module is stored as ``module.<name>.<key>``; every named optimizer's state is
flattened to ``optim.<name>.<param index>.<key>`` tensors plus JSON scalars, so resuming restores
Adam's moments exactly (the Pix2Pix discriminator and its optimizer included). The random state
(the batch sampler's numpy generator as JSON, torch's CPU generator as a tensor) is stored too, so
a resumed single-process run draws the batches and noise the uninterrupted run would have drawn.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from SpineCoreLib.atomic_io import atomic_output, write_json


def save_checkpoint(path: str | os.PathLike, modules: dict[str, torch.nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer], step: int, extra: dict,
                    rng: np.random.Generator | None = None) -> Path:
    d = Path(path)
    d.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        tensors |= {f"module.{name}.{k}": v for k, v in module.state_dict().items()}
    scalars: dict = {}
    for name, optimizer in optimizers.items():
        opt = optimizer.state_dict()
        scalars[name] = {"param_groups": opt["param_groups"], "state": {}}
        for idx, st in opt["state"].items():
            for key, val in st.items():
                if torch.is_tensor(val):
                    tensors[f"optim.{name}.{idx}.{key}"] = val
                else:
                    scalars[name]["state"].setdefault(str(idx), {})[key] = val
    random_state = {}
    if rng is not None:
        tensors["rng.torch"] = torch.get_rng_state()
        random_state = {"numpy_rng": rng.bit_generator.state}
    with atomic_output(d / "checkpoint.safetensors") as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
    write_json(d / "checkpoint.json", {"step": step, "optimizers": scalars, **random_state, **extra})
    return d


def load_checkpoint(path: str | os.PathLike, modules: dict[str, torch.nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer], rng: np.random.Generator | None = None) -> int:
    """Restore a checkpoint in place (and the random state into ``rng`` and torch, when both were saved);
    return the step to continue from."""
    d = Path(path)
    tensors = load_file(str(d / "checkpoint.safetensors"))
    meta = json.loads((d / "checkpoint.json").read_text())
    if "optimizers" not in meta:
        raise ValueError(f"{d} is a checkpoint from an older version of this project: "
                         "delete it to train from the start")
    for name, module in modules.items():
        prefix = f"module.{name}."
        module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
    for name, optimizer in optimizers.items():
        prefix = f"optim.{name}."
        state: dict = {}
        for k, v in tensors.items():
            if k.startswith(prefix):
                idx, key = k[len(prefix):].split(".", 1)
                state.setdefault(int(idx), {})[key] = v
        saved = meta["optimizers"][name]
        for idx, st in saved["state"].items():
            state.setdefault(int(idx), {}).update(st)
        optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
    if rng is not None and "numpy_rng" in meta and "rng.torch" in tensors:
        rng.bit_generator.state = meta["numpy_rng"]
        torch.set_rng_state(tensors["rng.torch"])
    return int(meta["step"])
