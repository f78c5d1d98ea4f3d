"""How the CT/MR decision of ``SpineCoreLib.image_kind`` fares: the verdict on real CTs and MRs (from
``../shared/data/real`` and, where given, the ``tptbox`` wheel's sample crops), on phantom CTs whole and cut
to the spine, and the false 'CT' verdicts over MRs remapped as converters and pipelines store them (each
MR scaled to a peak of 250..8000 and shifted by -1500..-25 in steps of 25).

Run from the repository root: ``python Testing/benchmarks/image_kind_sweep.py [--tptbox DIR]`` where DIR
holds ``TPTBox/tests/sample_ct`` and ``sample_mri`` (unpack the wheel from PyPI there).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.image_kind import judge
from SpineCoreLib.phantom import PhantomOptions, generate_case
from SpineCoreLib.resample import crop_to_labels

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
SCALES = (0.25, 0.5, 1, 2, 4, 8)  # peak = 1000 x scale
OFFSETS = range(-1500, 0, 25)


def images(tptbox: Path | None, tmp: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(CTs, MRs) by name."""
    read = lambda p: sitk.GetArrayFromImage(sitk.ReadImage(str(p)))  # noqa: E731
    cts, mrs = {}, {}
    if REAL.is_dir():
        cts |= {"real abdomen CT": read(REAL / "totalseg_example_ct.nii.gz"),
                "real abdomen CT slab": read(REAL / "totalseg_example_ct_sm.nii.gz")}
        mrs |= {"real lumbar T2w MR": read(REAL / "sct_t2_lumbar.nii.gz"),
                "real abdomen MR": read(REAL / "totalseg_example_mr_sm.nii.gz")}
    if tptbox is not None:
        cts["real lumbar CT crop (tptbox)"] = read(tptbox / "TPTBox/tests/sample_ct/sub-ct_label-22_ct.nii.gz")
        mrs["real cervical T2w MR crop (tptbox)"] = read(tptbox / "TPTBox/tests/sample_mri/sub-mri_label-6_T2w.nii.gz")
    for seed, spacing in ((900, 2.0), (901, 3.0)):
        case = generate_case(tmp, f"kind{seed}", seed, PhantomOptions(ct_spacing=spacing))["truth"].parent
        ct, seg = sitk.ReadImage(str(case / "ct.nii.gz")), sitk.ReadImage(str(case / "ct_seg.nii.gz"))
        cts[f"phantom CT {spacing:g} mm"] = sitk.GetArrayFromImage(ct)
        for margin in (0, 3, 8):
            cts[f"phantom CT {spacing:g} mm cut to the spine +{margin}"] = sitk.GetArrayFromImage(crop_to_labels(ct, seg, margin))
        mrs |= {f"phantom {c} {seed}": read(case / f"mr_{c}.nii.gz") for c in ("t2w", "t1w")}
    return cts, mrs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tptbox", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cts, mrs = images(args.tptbox, Path(tmp))
    for name, a in {**cts, **mrs}.items():
        e = judge(a)
        print(f"{name:45s} {str(e.kind):5s} {'decisive' if e.decisive else 'undecided'}: {e.why}")
    missed = [n for n, a in cts.items() if judge(a).kind != "ct"]
    wrong = [n for n, a in mrs.items() if judge(a).kind == "ct"]
    false_ct, total = [], 0
    for name, a0 in mrs.items():
        a0 = a0.astype(np.float32)
        for scale in SCALES:
            for offset in OFFSETS:
                total += 1
                if judge(a0 / a0.max() * 1000 * scale + offset).kind == "ct":
                    false_ct.append(f"{name} x{scale} {offset:+d}")
    print(f"CTs not decided as CT: {len(missed)} of {len(cts)} {missed}")
    print(f"MRs decided as CT: {len(wrong)} of {len(mrs)}; remapped MRs decided as CT: {len(false_ct)} of {total} "
          f"{false_ct}")


if __name__ == "__main__":
    main()
