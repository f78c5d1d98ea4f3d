"""Which floating-point precision sampling and training run in: one rule for every entry point.

Why a rule and not a default: reduced precision is only faster where the hardware computes it
natively. On a CPU with AVX-512 BF16 or AMX, bfloat16 autocast runs the project's 3D convolutions
about 2x faster than float32; on a CPU without them PyTorch's oneDNN emulates bfloat16, and the
same convolution becomes 2x (AVX-512 without BF16) to 10-400x (AVX2 only) slower
(``docs/precision.md`` has the measurements and the CPUs they come from). So ``auto`` asks the
hardware, never one machine's experience:

* CPU: bf16 where the CPU has native bf16 (AVX-512 BF16 or AMX tiles, as PyTorch's cpuinfo reports
  them through ``torch.cpu._is_avx512_bf16_supported`` / ``_is_amx_tile_supported``) and oneDNN is
  allowed to use it (``ONEDNN_MAX_CPU_ISA`` not capped below it, ``torch.ops.mkldnn`` bf16 support);
  fp32 otherwise.
* CUDA: bf16 where the GPU has native bf16 (compute capability 8.0 and newer), fp16 on older GPUs
  with tensor cores (7.x), fp32 before that.

An explicit ``bf16`` or ``fp16`` is honoured, with a warning naming the expected slowdown when the
hardware would emulate it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used, so the Slicer panel can list the choices without it
    import torch

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "fp16")

# oneDNN ISA caps (ONEDNN_MAX_CPU_ISA) at which oneDNN still runs bf16 natively
_ONEDNN_BF16_ISAS = ("ALL", "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16",
                     "AVX10_1_512", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "AVX10_2_512", "AVX10_2_512_AMX_2")
EMULATED_SLOWDOWN = {
    "bf16": "about 2x slower than fp32 with AVX-512 and 10x or more (up to several hundred times) with AVX2 only",
    "fp16": "several times slower than fp32",
}


def _flag(name: str) -> bool:
    """A ``torch.cpu._is_*_supported()`` check; False where this PyTorch lacks it."""
    import torch

    check = getattr(torch.cpu, name, None)
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:
        return False


@dataclass(frozen=True)
class CPUFeatures:
    """What this CPU and this PyTorch build can compute natively."""

    capability: str  # torch.backends.cpu.get_cpu_capability(): DEFAULT, AVX2, AVX512, ...
    avx512_bf16: bool
    amx_tile: bool
    amx_fp16: bool
    onednn_bf16: bool  # oneDNN runs bf16 at all (an ISA of AVX-512 or newer, not capped below it)
    onednn_isa_cap: str  # ONEDNN_MAX_CPU_ISA (or DNNL_MAX_CPU_ISA), "ALL" when unset

    @classmethod
    def detect(cls) -> CPUFeatures:
        import torch

        cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "ALL").upper()
        try:
            onednn = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            onednn = False
        return cls(torch.backends.cpu.get_cpu_capability(), _flag("_is_avx512_bf16_supported"),
                   _flag("_is_amx_tile_supported"), _flag("_is_amx_fp16_supported"), onednn, cap)

    @property
    def native_bf16(self) -> bool:
        return (self.avx512_bf16 or self.amx_tile) and self.onednn_bf16 and self.onednn_isa_cap in _ONEDNN_BF16_ISAS

    @property
    def native_fp16(self) -> bool:
        return self.amx_fp16 and self.onednn_isa_cap in ("ALL", "AVX512_CORE_AMX_FP16", "AVX10_1_512_AMX_FP16",
                                                         "AVX10_2_512_AMX_2")

    def describe(self) -> str:
        native = [n for n, ok in (("AVX-512 BF16", self.avx512_bf16), ("AMX", self.amx_tile)) if ok]
        text = f"CPU capability {self.capability}, " + (
            f"{' and '.join(native)} present" if native else "no AVX-512 BF16 or AMX")
        if self.onednn_isa_cap != "ALL":
            text += f", oneDNN capped at {self.onednn_isa_cap}"
        return text


@dataclass(frozen=True)
class Precision:
    """The precision one run uses, and why."""

    name: str  # fp32 | bf16 | fp16
    device_type: str  # cpu | cuda
    requested: str  # what the user asked for: auto | fp32 | bf16 | fp16
    native: bool  # the hardware computes ``name`` natively (fp32 always is)
    reason: str

    @property
    def dtype(self) -> torch.dtype:
        import torch

        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.name]

    @property
    def reduced(self) -> bool:
        return self.name != "fp32"

    def autocast(self) -> contextlib.AbstractContextManager:
        """Autocast to this precision (explicitly off for fp32, so an outer autocast cannot leak in)."""
        import torch

        if not self.reduced:
            return torch.autocast(self.device_type, enabled=False)
        return torch.autocast(self.device_type, dtype=self.dtype)

    def describe(self) -> str:
        return f"precision {self.name} on {self.device_type} ({self.requested}: {self.reason})"

    def grad_scaler(self) -> torch.amp.GradScaler:
        """Loss scaling for training: on in fp16 only, whose small range lets gradients underflow to zero
        (bf16 has fp32's range and needs none)."""
        import torch

        return torch.amp.GradScaler(self.device_type, enabled=self.name == "fp16")


def check_finite(loss: float, step: int, precision: Precision) -> None:
    """Stop a diverged run at once, saying what to change (a NaN loss would otherwise train on silently
    and leave NaN weights)."""
    if not math.isfinite(loss):
        hint = "train again with precision fp32" if precision.reduced else "lower the learning rate"
        raise ValueError(f"training diverged: the loss is {loss} at step {step} in {precision.name}; {hint}")


def backward_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer,
                  scaler: torch.amp.GradScaler | None = None) -> None:
    """``loss.backward()`` and ``optimizer.step()``, through ``scaler`` when it is enabled (fp16)."""
    if scaler is None or not scaler.is_enabled():
        loss.backward()
        optimizer.step()
        return
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()


def check_precision(requested: str) -> str:
    """The requested precision, lower-cased; ValueError naming the choices otherwise."""
    name = str(requested).strip().lower()
    if name not in PRECISIONS:
        raise ValueError(f"precision {requested!r} is not one of {', '.join(PRECISIONS)}")
    return name


def _cuda_native(device: torch.device) -> tuple[set[str], str]:
    import torch

    major, minor = torch.cuda.get_device_capability(device)
    native = {"fp32"} | ({"fp16"} if major >= 7 else set()) | ({"bf16"} if major >= 8 else set())
    return native, f"{torch.cuda.get_device_name(device)}, compute capability {major}.{minor}"


def choose_precision(requested: str = "auto", device: torch.device | str = "cpu",
                     features: CPUFeatures | None = None, training: bool = False) -> Precision:
    """The precision to run in on ``device``: ``auto`` picks the fastest the hardware computes natively
    (module docstring); an explicit choice is honoured, with a warning when it would be emulated.

    ``training``: on a CPU, ``auto`` trains in fp32 even where bf16 is native, because bf16 autocast
    training on the CPU gave non-finite weights intermittently with PyTorch 2.13 (the same tiny run,
    one time in a few; docs/speed.md); bf16 training stays available when asked for."""
    import torch

    name = check_precision(requested)
    dev = torch.device(device)
    if dev.type == "cuda":
        native, why = _cuda_native(dev)
        auto = "bf16" if "bf16" in native else "fp16" if "fp16" in native else "fp32"
    elif dev.type == "cpu":
        feats = features or CPUFeatures.detect()
        native = {"fp32"} | ({"bf16"} if feats.native_bf16 else set()) | ({"fp16"} if feats.native_fp16 else set())
        why = feats.describe()
        auto = "bf16" if "bf16" in native and not training else "fp32"
        if training and "bf16" in native:
            why += "; training on the CPU stays in fp32 unless bf16 is asked for"
    else:  # other backends (mps, xpu): nothing measured here, so the safe choice
        native, why, auto = {"fp32"}, f"device type {dev.type}: reduced precision not measured", "fp32"
    chosen = auto if name == "auto" else name
    is_native = chosen in native
    reason = why + ("" if is_native else f"; {chosen} is emulated here")
    prec = Precision(chosen, dev.type, name, is_native, reason)
    if not is_native:
        slowdown = EMULATED_SLOWDOWN[chosen] if dev.type == "cpu" else "slower than fp32 or fp16"
        log.warning("%s is not native on this %s (%s): expect it to run %s; use precision auto or fp32",
                    chosen, dev.type, why, slowdown)
    return prec


def as_precision(precision: Precision | str | None, device: torch.device | str) -> Precision:
    """A ``Precision`` from a chosen one, a name, or None (auto)."""
    if isinstance(precision, Precision):
        return precision
    return choose_precision(precision or "auto", device)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence this module's warnings (for reports that state the choice themselves)."""
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def report(device: torch.device | str = "cpu") -> str:
    """One line for CI logs and ``mrtoct bench``: what the hardware offers and what ``auto`` picks."""
    with quiet():
        return choose_precision("auto", device).describe()
