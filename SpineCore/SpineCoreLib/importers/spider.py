"""SPIDER (lumbar spine MR, sagittal T1w and T2w, with vertebra, disc and spinal canal masks), as a
manifest plus masks relabelled to this project's label values.

Layout of the public release (van der Graaf et al., "Lumbar spine segmentation in MR images: a dataset
and a public benchmark", Sci. Data 11, 264, 2024; Zenodo records 8009680 / 10159290;
spider.grand-challenge.org, "Data"): ``images/<n>_<series>.mha`` and ``masks/<n>_<series>.mha`` with
the series ``t1``, ``t2`` and ``t2_SPACE`` (near-isotropic T2w). Mask values as the release documents
them: 1-25 vertebrae numbered from the bottom (1 = the most caudal vertebra, L5 in a typical spine),
100 the spinal canal, 101-125 vertebrae only partly in the field of view (numbered as 1-25), 201-225
the discs numbered from the bottom (201 = the disc below vertebra 1, L5/S1).

This project's label values (``levels``): vertebrae by VerSe ID (L5 = 24), a disc as 100 + the ID of
the vertebra above it (L5/S1 = 124), the canal as ``CANAL_LABEL``. A partly visible vertebra keeps
its level (it is that vertebra's bone, cut by the field of view). The numbering from the bottom
cannot see a transitional vertebra: give ``caudal_level`` (``mrtoct import spider --caudal-level S1``
or ``L6``) when vertebra 1 is not L5. The relabelled masks are written next to the manifest, since
nothing in this project reads SPIDER's own values; images are referred to, not copied.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..levels import CANAL_LABEL, DISC_OFFSET, LEVEL_IDS, check_level, ordered_levels
from ..validation import InputError

log = logging.getLogger(__name__)
SERIES = {"t1": "mr_t1w", "t2": "mr_t2w", "t2_SPACE": "mr_t2w_space"}
SEG_COLUMNS = {"mr_t1w": "mr_t1w_seg", "mr_t2w": "mr_seg", "mr_t2w_space": "mr_t2w_space_seg"}
_NAME = re.compile(r"^(\d+)_(t1|t2|t2_SPACE)\.mha$")
SPIDER_CANAL = 100


def spider_lookup(caudal_level: str = "L5") -> dict[int, int]:
    """SPIDER mask value -> this project's label value, with vertebra 1 at ``caudal_level``."""
    check_level(caudal_level)
    order = [lv for lv in ordered_levels(include_variants=True) if lv not in ("L6", "T13") or lv == caudal_level]
    upward = order[: order.index(caudal_level) + 1][::-1]  # vertebra 1, 2, ... cranially
    table = {0: 0, SPIDER_CANAL: CANAL_LABEL}
    for n, level in enumerate(upward[:25], start=1):
        table[n] = table[100 + n] = LEVEL_IDS[level]
        table[200 + n] = DISC_OFFSET + LEVEL_IDS[level]  # disc n lies below vertebra n
    return table


def relabel(mask: sitk.Image, table: dict[int, int], source: str) -> sitk.Image:
    """``mask`` with SPIDER values replaced through ``table``; values outside it become background
    (named in the log), the geometry is kept."""
    arr = sitk.GetArrayFromImage(mask).astype(np.int64)
    if arr.min() < 0:
        raise InputError(source, "has negative values: not a SPIDER mask (values 0-225)")
    values = np.unique(arr)
    unknown = [int(v) for v in values if int(v) not in table]
    if unknown:
        log.warning("%s: values %s are not SPIDER labels and become background", source, unknown)
    lut = np.zeros(int(values.max()) + 1, np.uint16)
    for k, v in table.items():
        if k < lut.size:
            lut[k] = v
    out = sitk.GetImageFromArray(lut[arr])
    out.CopyInformation(mask)
    return out


def import_spider(src: str | Path, out: Path | None = None, caudal_level: str = "L5") -> list[dict[str, str]]:
    """Manifest rows (subject, mr_t1w, mr_t2w, mr_t2w_space and each one's relabelled mask: mr_t1w_seg,
    mr_seg for the T2w, mr_t2w_space_seg) of every SPIDER study; the relabelled masks are written to
    ``<out>/<n>/`` (only when ``out`` is given). InputError saying what was expected when ``src`` holds
    no SPIDER images."""
    src = Path(src)
    images = sorted((f for f in (src / "images").glob("*.mha") if _NAME.match(f.name)),
                    key=lambda f: (int(_NAME.match(f.name).group(1)), f.name)) if (src / "images").is_dir() else []
    if not images:
        raise InputError("SRC", f"{src} holds no SPIDER images: expected images/<n>_t1.mha, images/<n>_t2.mha "
                                "(or _t2_SPACE) and masks/ with the same names")
    table = spider_lookup(caudal_level)
    rows: dict[str, dict[str, str]] = {}
    for image in images:
        number, series = _NAME.match(image.name).groups()
        column = SERIES[series]
        row = rows.setdefault(number, {"subject": f"spider{number}"})
        row[column] = str(image)
        mask = src / "masks" / image.name
        if not mask.is_file():
            log.info("%s has no mask %s: listed without one", image, mask)
            continue
        if out is not None:
            folder = out / f"spider{number}"
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{column}_seg.nii.gz"
            sitk.WriteImage(relabel(sitk.ReadImage(str(mask)), table, str(mask)), str(target), True)
            row[SEG_COLUMNS[column]] = str(target)
    return list(rows.values())
