"""The SynthRAD challenges' task-1 (MR to CT) data, as a manifest.

Layouts of the challenges' dataset descriptions: SynthRAD2023 (Thummerer et al., "SynthRAD2023 Grand
Challenge dataset: generating synthetic CT for radiotherapy", Med. Phys. 50, 2023;
doi:10.5281/zenodo.7260705) gives ``Task1/{brain,pelvis}/<subject>/{mr,ct,mask}.nii.gz`` (subjects such as
``1BA001``); SynthRAD2025 (Thummerer et al., "SynthRAD2025 Grand Challenge dataset", arXiv:2502.17609,
2025; synthrad2025.grand-challenge.org/data) gives ``Task1/{HN,TH,AB}/<subject>/{mr,ct,mask}.mha``
(subjects such as ``1ABA001``). In both the CT is registered to the MR and shares its grid, so it is
the manifest's ``ct_mrworld``; ``mask`` is the region their evaluation scores (``mrtoct evaluate
--mask``), ``region`` the anatomy.
"""

from __future__ import annotations

from pathlib import Path

from ..validation import InputError

LAYOUTS = {
    "synthrad2023": ("nii.gz", ("brain", "pelvis")),
    "synthrad2025": ("mha", ("HN", "TH", "AB")),
}


def _task1(src: Path) -> Path:
    """The ``Task1`` folder: ``src`` itself, or inside it."""
    for candidate in (src, src / "Task1"):
        if candidate.name == "Task1" and candidate.is_dir():
            return candidate
    return src / "Task1"


def import_synthrad(src: str | Path, edition: str) -> list[dict[str, str]]:
    """Manifest rows (subject, region, mr, ct_mrworld, mask) of every task-1 subject; InputError saying
    what was expected when ``src`` holds none."""
    ext, regions = LAYOUTS[edition]
    task1 = _task1(Path(src))
    rows = []
    for region in regions:
        for subject in sorted(p for p in (task1 / region).glob("*") if p.is_dir()):
            files = {k: subject / f"{k}.{ext}" for k in ("mr", "ct", "mask")}
            if not (files["mr"].is_file() and files["ct"].is_file()):
                continue
            rows.append({"subject": subject.name, "region": region, "mr": str(files["mr"]),
                         "ct_mrworld": str(files["ct"]),
                         **({"mask": str(files["mask"])} if files["mask"].is_file() else {})})
    if not rows:
        raise InputError("SRC", f"{src} holds no {edition} task-1 subjects: expected Task1/"
                                f"{{{','.join(regions)}}}/<subject>/mr.{ext} and ct.{ext} (and mask.{ext})")
    return rows


def import_synthrad2023(src: str | Path, out: Path | None = None) -> list[dict[str, str]]:
    return import_synthrad(src, "synthrad2023")


def import_synthrad2025(src: str | Path, out: Path | None = None) -> list[dict[str, str]]:
    return import_synthrad(src, "synthrad2025")
