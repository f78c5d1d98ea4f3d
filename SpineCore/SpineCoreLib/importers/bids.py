"""A BIDS-style folder of anatomical MR (and CT) scans, as a manifest.

Layout of the Brain Imaging Data Structure specification (Gorgolewski et al., Sci. Data 3, 160044,
2016; bids-specification.readthedocs.io, "Magnetic Resonance Imaging / Anatomy imaging data"):
``sub-<label>/[ses-<label>/]anat/sub-<label>[_ses-<label>][_<entity>-<value>...]_<suffix>.nii[.gz]``
with the suffixes ``T1w`` and ``T2w``. BIDS defines no CT suffix; a file with the suffix ``ct`` or
``CT`` next to them is taken as the subject's CT (the convention VerSe's BIDS-like release uses). Each
subject (and session) becomes one manifest row; when a suffix appears in several runs, the first in
name order is used and the others are named in the log.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ..validation import InputError

log = logging.getLogger(__name__)
SUFFIXES = {"T1w": "mr_t1w", "T2w": "mr_t2w", "ct": "ct", "CT": "ct"}
_NAME = re.compile(r"^(sub-[A-Za-z0-9]+)(?:_(ses-[A-Za-z0-9]+))?(?:_[A-Za-z0-9]+-[A-Za-z0-9]+)*_(T1w|T2w|ct|CT)"
                   r"\.nii(?:\.gz)?$")


def _anat_folders(src: Path) -> list[Path]:
    subjects = sorted(p for p in src.glob("sub-*") if p.is_dir())
    return [a for s in subjects for a in [s / "anat", *sorted(s.glob("ses-*/anat"))] if a.is_dir()]


def import_bids(src: str | Path, out: Path | None = None) -> list[dict[str, str]]:
    """Manifest rows (subject, mr_t1w, mr_t2w, ct) of every subject and session with an anatomical scan;
    InputError saying what was expected when ``src`` holds none."""
    src = Path(src)
    rows: dict[str, dict[str, str]] = {}
    for anat in _anat_folders(src):
        for f in sorted(anat.iterdir()):
            m = _NAME.match(f.name)
            if not m:
                continue
            subject = "_".join(x for x in (m.group(1), m.group(2)) if x)
            column = SUFFIXES[m.group(3)]
            row = rows.setdefault(subject, {"subject": subject})
            if column in row:
                log.info("%s: %s already has %s; %s is not used", src, subject, column, f.name)
                continue
            row[column] = str(f)
    if not rows:
        raise InputError("SRC", f"{src} holds no BIDS anatomical scans: expected sub-<label>/[ses-<label>/]anat/"
                                "sub-<label>[_ses-<label>]_T1w.nii.gz (or _T2w, or _ct for a CT)")
    return list(rows.values())
