"""How much bfloat16 autocast speeds up or slows down a 3D convolution, with and without native bf16.

Run: ``python Testing/benchmarks/precision_cpu.py [--channels 32] [--size 32]``.

Each setting runs in its own process, because oneDNN reads its ISA cap once: as this CPU is, with
oneDNN capped at AVX-512 without BF16 (``ONEDNN_MAX_CPU_ISA=AVX512_CORE``, like a Skylake server),
and capped at AVX2 with PyTorch's own kernels at AVX2 too (``ATEN_CPU_CAPABILITY=avx2``, like a CPU
without AVX-512). The caps stand in for CPUs this machine is not; a real AVX2 CPU may emulate bf16
faster than oneDNN's capped fallback does (a tester's AVX2-only EPYC measured 10x). For each it prints
what ``precision auto`` picks there, the fp32 and bf16 times of one Conv3d and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

SETTINGS = {
    "this CPU as it is": {},
    "oneDNN capped at AVX-512 without BF16": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
    "capped at AVX2 (oneDNN and ATen)": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"},
}


def child(channels: int, size: int) -> None:
    import time

    import torch

    from MRtoCTTranslationLib.precision import CPUFeatures, Precision, choose_precision, quiet

    conv = torch.nn.Conv3d(channels, channels, 3, padding=1).eval()
    x = torch.randn(1, channels, size, size, size)

    def seconds(p: Precision, repeats: int = 3) -> float:
        with torch.inference_mode(), p.autocast():
            conv(x)
            t0 = time.perf_counter()
            for _ in range(repeats):
                conv(x)
            return (time.perf_counter() - t0) / repeats

    fp32 = seconds(Precision("fp32", "cpu", "fp32", True, "benchmark"))
    bf16 = seconds(Precision("bf16", "cpu", "bf16", True, "benchmark"), repeats=1)
    with quiet():
        auto = choose_precision("auto", "cpu").name
    print(json.dumps({"cpu": CPUFeatures.detect().describe(), "auto": auto, "fp32_ms": 1e3 * fp32,
                      "bf16_ms": 1e3 * bf16, "bf16_over_fp32": bf16 / fp32}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--size", type=int, default=32)
    args = ap.parse_args()
    call = f"from precision_cpu import child; child({args.channels}, {args.size})"
    here = os.path.dirname(os.path.abspath(__file__))
    print(f"Conv3d({args.channels}, {args.channels}, 3) on {args.size}^3 voxels, one process per setting")
    for name, env in SETTINGS.items():
        r = subprocess.run([sys.executable, "-c", call], capture_output=True, text=True, cwd=here,
                           env={**os.environ, **env}, timeout=1200)
        if r.returncode != 0:
            print(f"{name}: failed: {r.stderr[-300:]}")
            continue
        m = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"{name:40s} auto -> {m['auto']:4s}  fp32 {m['fp32_ms']:8.1f} ms  bf16 {m['bf16_ms']:8.1f} ms  "
              f"bf16/fp32 {m['bf16_over_fp32']:6.2f}x   ({m['cpu']})", flush=True)


if __name__ == "__main__":
    main()
