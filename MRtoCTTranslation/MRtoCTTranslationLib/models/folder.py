"""A model is a folder: ``model.safetensors`` (weights) and ``model.json`` (its card, ``models.card``).

The card records the architecture, input and output modality, spacing, intensity mapping,
training data, metrics, license and the SHA256 of the weights; loading checks that hash and
never unpickles anything.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from SpineCoreLib.atomic_io import atomic_output, sha256_file

from .card import WEIGHTS, ModelCard, ModelError, read_card, write_card


def save_model(folder: str | os.PathLike, state: dict[str, torch.Tensor], card: ModelCard) -> Path:
    """Write weights and card atomically; the card's ``weights_sha256`` is filled in."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:  # never ship NaN weights
        raise ValueError(f"the weights hold NaN or infinite values ({', '.join(bad[:3])}): nothing was written; "
                         "train again (in fp32 if it ran in reduced precision)")
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    with atomic_output(d / WEIGHTS) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(tmp))
    write_card(d, card.replace(weights_sha256=sha256_file(d / WEIGHTS)))
    return d


def compact_model(folder: str | os.PathLike, dtype: torch.dtype = torch.float16) -> Path:
    """Rewrite a model's floating-point weights in ``dtype`` (half the size of float32) so that shipped
    models stay small; loading casts them back to the networks' float32 (``load_state_dict`` copies).
    The card records ``weights_dtype``; its held-out metrics must be measured on the compacted file."""
    d = Path(folder)
    card = read_card(d)
    state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in load_weights(d, card).items()}
    return save_model(d, state, card.replace(weights_dtype=str(dtype).removeprefix("torch.")))


def load_weights(folder: str | os.PathLike, card: ModelCard | None = None) -> dict[str, torch.Tensor]:
    """Weights of a model folder after checking their SHA256 against the card."""
    d = Path(folder)
    card = card or read_card(d)
    w = d / WEIGHTS
    if not w.is_file():
        raise ModelError(f"{d}: {WEIGHTS} is missing; download or copy the model again")
    digest = sha256_file(w)
    if digest != card.weights_sha256:
        raise ModelError(f"{w}: SHA256 {digest[:12]}... does not match the card's {card.weights_sha256[:12]}...; "
                         "the file is corrupted or was replaced: download or copy the model again")
    try:
        return load_file(str(w))
    except Exception as exc:  # safetensors raises its own error types
        raise ModelError(f"{w} cannot be read as safetensors ({exc}); download the model again") from exc


def load_into(net: torch.nn.Module, state: dict[str, torch.Tensor], folder: str | os.PathLike) -> None:
    """Load ``state`` into ``net``; ModelError in one line naming what does not fit (missing, unexpected
    or differently shaped tensors) when the weights belong to another architecture than the card's."""
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    shaped = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or extra or shaped:
        first = (f"{shaped[0]} is {tuple(state[shaped[0]].shape)} in the file, {tuple(own[shaped[0]].shape)} in the "
                 f"card's network" if shaped else f"{(missing or extra)[0]} is {'missing' if missing else 'unexpected'}")
        raise ModelError(f"{folder}: the weights do not fit the architecture in the card ({len(missing)} missing, "
                         f"{len(extra)} unexpected, {len(shaped)} of another shape; first: {first}): the card and "
                         "the weights come from different models")
    net.load_state_dict(state)
