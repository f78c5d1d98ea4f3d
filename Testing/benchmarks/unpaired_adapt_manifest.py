"""The adaptation experiments' manifest (syndiff_adapt_real.yaml, cut_adapt_real.yaml): the public real
T2w MR as the only MR of the training split, the CT of the phantom's CT-only training subjects, and
the phantom's paired validation rows (so validation still measures against the truth). Needs ``../shared/data/real/`` and
``data/train40/manifest_unpaired.csv``; writes ``data/unpaired_adapt/manifest.csv``."""

from __future__ import annotations

import sys
from pathlib import Path

from SpineCoreLib.manifest import read_manifest, write_manifest

ROOT = Path(__file__).resolve().parents[2]
REAL_MR = ROOT.parent / "shared" / "data" / "real" / "sct_t2_lumbar.nii.gz"


def main() -> int:
    if not REAL_MR.is_file():
        print(f"{REAL_MR} is absent: the experiment needs the development scans")
        return 0
    rows = read_manifest(ROOT / "data" / "train40" / "manifest_unpaired.csv")
    ct_only = [{"subject": r["subject"], "split": "train", "ct_mrworld": r["ct_mrworld"]}
               for r in rows if r["split"] == "train" and r["ct_mrworld"] and not r["mr_t2w"]]
    val = [r for r in rows if r["split"] == "val"]
    real = {"subject": "real-sct-t2-lumbar", "split": "train", "mr_t2w": str(REAL_MR)}
    folder = ROOT / "data" / "unpaired_adapt"
    folder.mkdir(parents=True, exist_ok=True)
    out = write_manifest(folder / "manifest.csv", [real, *ct_only, *val])
    print(f"{out}: 1 real MR, {len(ct_only)} phantom CT, {len(val)} paired validation rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
