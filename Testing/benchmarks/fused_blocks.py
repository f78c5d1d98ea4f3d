"""The denoiser with MONAI's own block forwards against the fused inference forwards, side by side.

Run from the repository root: ``python Testing/benchmarks/fused_blocks.py [--models ddim3d-default
ddim3d-1mm] [--repeats 5]``. For each bundled model, on its card's window with the default number of
windows a call, in fp32 and (where native) bf16 autocast: median time of a call with MONAI's forwards
(channels-last weights, as before fusing), with the fused ones, their ratio, and the largest
difference between the two outputs of one call: float rounding in fp32 for the 2 mm model's windows;
for the 1 mm model's it includes the attention's averaged keys (``diffusion.fused``), whose effect on
whole translations ``docs/speed.md`` gives.
"""

from __future__ import annotations

import argparse
import copy

import torch
from monai.networks.blocks.spatialattention import SpatialAttentionBlock
from monai.networks.nets.diffusion_model_unet import AttnMidBlock, DiffusionUNetResnetBlock

from mrtoct.bench import median_time
from MRtoCTTranslationLib.diffusion.fused import FusedAttentionBlock, FusedMidBlock, FusedResnetBlock
from MRtoCTTranslationLib.models.registry import resolve
from MRtoCTTranslationLib.options import TranslationOptions
from MRtoCTTranslationLib.precision import CPUFeatures, choose_precision
from MRtoCTTranslationLib.translator import load_model

UNFUSED = {FusedResnetBlock: DiffusionUNetResnetBlock, FusedMidBlock: AttnMidBlock,
           FusedAttentionBlock: SpatialAttentionBlock}


def unfused(net: torch.nn.Module) -> torch.nn.Module:
    """A copy of a loaded (fused) network running MONAI's own forwards."""
    plain = copy.deepcopy(net)
    for module in plain.modules():
        if type(module) in UNFUSED:
            module.__class__ = UNFUSED[type(module)]
    return plain


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["ddim3d-default", "ddim3d-1mm"])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    feats = CPUFeatures.detect()
    print(f"CPU: {feats.describe()}; {torch.get_num_threads()} threads")
    precisions = ["fp32"] + (["bf16"] if feats.native_bf16 else [])
    n = TranslationOptions().window_batch
    for name in args.models:
        model = load_model(resolve(name), "cpu")
        fused, plain = model.net, unfused(model.net)
        shape = (n, 1, *model.window)
        x, c, t = torch.randn(shape), torch.randn(shape), torch.full((n,), 500)
        for p in precisions:
            prec = choose_precision(p, "cpu")
            with torch.inference_mode(), prec.autocast():
                diff = float((plain(x, c, t).float() - fused(x, c, t).float()).abs().max())
                a = median_time(lambda: plain(x, c, t), repeats=args.repeats)  # noqa: B023
                b = median_time(lambda: fused(x, c, t), repeats=args.repeats)  # noqa: B023
            print(f"{name} {model.window} x{n} {p}: MONAI forwards {a:.3f} s, fused {b:.3f} s -> {a / b:.2f}x; "
                  f"largest difference {1000 * diff:.2f} HU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
