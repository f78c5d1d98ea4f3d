"""Where a latent model loses accuracy, per target, on held-out cases: the autoencoder alone, SPADE
alone, and the whole sampler, each scored against the real target image on the model grid.

Run: ``python Testing/benchmarks/latent_diag.py --model latent3d-multitarget
--manifest data/test8x/manifest.csv --cases 4 --source t2w [--steps 20]``.

- ``autoencoder``: decode(encode(real target)) -- the floor no translation can beat;
- ``spade only``: decode(SPADE(encode(source), target)) -- the latent translation without diffusion;
- ``sampler``: the model's own translation (encode, SPADE, DDIM or flow in latent space, decode);
- ``blur 4x``: the real target average-pooled 4x per axis and upsampled, for scale.

MAE and SSIM inside the body: HU for CT, the model's 0..1000 units for an MR target.
"""

from __future__ import annotations

import argparse

import numpy as np
import SimpleITK as sitk
import torch
from torch.nn import functional as F

from MRtoCTTranslationLib.latent.modalities import MR_UNITS
from MRtoCTTranslationLib.latent.sampling import sample_target
from MRtoCTTranslationLib.models.registry import resolve
from MRtoCTTranslationLib.translator import load_model
from SpineCoreLib.manifest import read_manifest
from SpineCoreLib.metrics import body_mask, mae, ssim
from SpineCoreLib.orientation import canonical, model_grid, pad_to_multiple, to_grid


def on_grid(path: str, grid: sitk.Image, default: float) -> np.ndarray:
    img = canonical(sitk.Cast(sitk.ReadImage(path), sitk.sitkFloat32))
    return sitk.GetArrayFromImage(to_grid(img, grid, default=default)).astype(np.float32)


def tensor(values: np.ndarray, multiple: int) -> tuple[torch.Tensor, tuple[slice, ...]]:
    padded, crop = pad_to_multiple(values, multiple)
    return torch.from_numpy(np.ascontiguousarray(padded, dtype=np.float32))[None, None], crop


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--cases", type=int, default=4)
    ap.add_argument("--source", default="t2w")
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    model = load_model(resolve(args.model), "cpu")
    nets, mult = model.nets, model.arch.multiple
    src_index = next(i for i, m in enumerate(model.modalities) if m.key == args.source)
    src_mod = model.modalities[src_index]
    rows: dict[str, dict[str, list[float]]] = {}
    for row in read_manifest(args.manifest)[: args.cases]:
        mr_img = sitk.ReadImage(row[f"mr_{args.source}"])
        grid = model_grid(mr_img, model.spacing)
        ct = on_grid(row["ct_mrworld"], grid, -1024.0)
        body = body_mask(ct)
        src_vals = src_mod.to_values_and_pad(on_grid(row[src_mod.column], grid, 0.0))[0]
        xs, crop = tensor(src_vals, mult)
        mu_s = nets.autoencoder.encode(xs)[0]
        for i, m in enumerate(model.modalities):
            if i == src_index:
                continue
            real = ct if m.is_ct else on_grid(row[m.column], grid, 0.0)
            vals = m.to_values_and_pad(real)[0]
            ref = real if m.is_ct else m.from_values(vals)
            xt, _ = tensor(vals, mult)
            target = torch.tensor([i])
            outs = {
                "autoencoder": nets.autoencoder.decode(nets.autoencoder.encode(xt)[0]),
                "spade only": nets.autoencoder.decode(nets.spade(mu_s, target)),
                "blur 4x": F.interpolate(F.avg_pool3d(xt, 4), scale_factor=4, mode="trilinear"),
                "sampler": sample_target(nets, xs, target, model.schedule, args.steps, 0.0, 0, "fp32"),
            }
            data_range = 2000.0 if m.is_ct else MR_UNITS
            for name, out in outs.items():
                pred = m.from_values(out[0, 0].float().numpy()[crop])
                r = rows.setdefault(f"{m.name:5s} {name}", {"mae": [], "ssim": []})
                r["mae"].append(mae(pred, ref, body))
                r["ssim"].append(ssim(pred, ref, body, data_range))
        print(f"{row['subject']} done", flush=True)
    print(f"source {src_mod.name}, {args.cases} cases, {args.steps} steps; MAE body (HU for CT, 0..1000 for MR), SSIM")
    for key, r in rows.items():
        print(f"  {key:20s} MAE {np.mean(r['mae']):7.1f}  SSIM {np.mean(r['ssim']):.3f}")


if __name__ == "__main__":
    main()
