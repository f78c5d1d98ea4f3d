"""What kind of image a volume is (a CT in Hounsfield units or an MR), from evidence that decides where
it exists, and the mark the project's own outputs carry so that the next step never has to guess.

Evidence, strongest first:
- the mark: every image the project writes names its kind in ``ITK_FileNotes``, which SimpleITK keeps
  in NRRD and MHA and writes as the NIfTI header's ``descrip`` (and reads back from it);
- HU anchors: a CT in HU has fat near -100 HU, soft tissue near 40 HU and bone above 300 HU, and air
  near -1000 HU where its field of view holds any; arbitrary MR units land on those three places only
  by chance, and an MR's darkest values (its background) form a mode of their own, which a CT without
  air does not have;
- magnitude: an image with no value below 0 holds no fat and no air in HU, so it is not a CT in HU.
Anything else is undecided: a caller warns and goes on, it never refuses on a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

NOTE_KEY = "ITK_FileNotes"  # NIfTI 'descrip' (79 characters), a key of its own in NRRD and MHA
MARK = "spinemrtoct:"
IMAGE_KINDS = ("ct", "mr", "labels")
PADDING_HU = -1200.0  # below this: a scanner's outside-the-field value (-2048, -3024), not tissue
SAMPLE = 2_000_000  # voxels looked at: enough for fractions of 0.1 %


@dataclass(frozen=True)
class KindEvidence:
    """``kind`` is ``ct``, ``mr`` or None (undecided); ``why`` says what decided, in a few words;
    ``ct_signs``: undecided, but with values where a CT's air lies (worth a warning even for an MR)."""

    kind: str | None
    decisive: bool
    why: str
    ct_signs: bool = False


def mark_kind(image: sitk.Image, kind: str, what: str = "") -> sitk.Image:
    """Write ``kind`` (and a short ``what``) into the image's notes, kept by NIfTI, NRRD and MHA."""
    if kind not in IMAGE_KINDS:
        raise ValueError(f"kind {kind!r} is not one of {IMAGE_KINDS}")
    image.SetMetaData(NOTE_KEY, f"{MARK}{kind} {what}".strip()[:79])
    return image


def marked_kind(image: sitk.Image) -> str | None:
    """The kind an image of the project's own says it is, or None."""
    if not image.HasMetaDataKey(NOTE_KEY):
        return None
    note = image.GetMetaData(NOTE_KEY).strip()
    if not note.lower().startswith(MARK):
        return None
    kind = note[len(MARK):].split(maxsplit=1)[0].lower() if note[len(MARK):].strip() else ""
    return kind if kind in IMAGE_KINDS else None


def _sample(values: np.ndarray) -> np.ndarray:
    flat = np.asarray(values).reshape(-1)
    step = max(1, flat.size // SAMPLE)
    return flat[::step].astype(np.float32)


def hu_anchors(values: np.ndarray) -> dict[str, float]:
    """Shares of voxels at the HU anchors (padding below -1200 left out): air, fat (and its core against
    its rim), soft tissue, bone, the body's share of [-200, 200] among non-air voxels; the largest 10 HU
    bin of soft tissue and where it is (muscle is a narrow mode at 20-70 HU); the share of the darkest
    fiftieth of the value range (an MR's background piles up there, a CT's fat lies above its few
    darkest voxels); the 0.1 and 99.9 percentiles."""
    v = _sample(values)
    v = v[v >= PADDING_HU] if (v >= PADDING_HU).any() else v
    lo, hi = np.percentile(v, [0.1, 99.9])
    tissue = v[v > -900]

    def share(low: float, high: float) -> float:
        return float(((v >= low) & (v < high)).mean())

    counts, edges = np.histogram(v, bins=np.arange(-30, 125, 10))
    return {"air": share(-1100, -900), "fat": share(-200, -30), "fat_core": share(-150, -50),
            "fat_rim": share(-250, -150), "soft": share(-30, 120), "bone": float((v > 300).mean()),
            "body": float(((tissue >= -200) & (tissue <= 200)).mean()) if tissue.size else 0.0,
            "soft_peak": float(counts.max() / v.size), "soft_peak_at": float(edges[counts.argmax()] + 5),
            "darkest": float((v <= lo + 0.02 * (hi - lo)).mean()) if hi > lo else 1.0,
            "p001": float(lo), "p999": float(hi)}


def judge(values: np.ndarray) -> KindEvidence:
    """The kind that the voxel values alone decide, or an undecided verdict that says what was seen.
    How the thresholds were measured: docs/validation.md."""
    v = np.asarray(values)
    if float(v.min()) >= 0:
        return KindEvidence("mr", True, "no value below 0, so no fat or air in HU")
    a = hu_anchors(v)
    fat_mode = a["fat_core"] > 1.5 * a["fat_rim"]  # fat is a mode or a shoulder near -100 HU, not a tail
    in_range = a["p001"] >= PADDING_HU and a["p999"] <= 4000
    tissues = in_range and a["fat"] >= 0.02 and fat_mode and a["soft"] >= 0.10
    if tissues and a["air"] >= 0.02 and a["body"] >= 0.5 and a["bone"] <= 0.15:  # a body is not mostly bone
        return KindEvidence("ct", True, "air near -1000 HU, fat near -100 HU and soft tissue near 40 HU")
    muscle = a["soft_peak"] >= 0.10 and 20 <= a["soft_peak_at"] <= 70  # a narrow mode at muscle's HU
    no_background = a["darkest"] <= 0.02  # an MR's background would pile up at its lowest values
    spread = (a["body"] >= 0.8 and no_background) or (muscle and a["body"] >= 0.6)  # a tight crop is mostly bone
    if tissues and a["bone"] >= 0.002 and spread:
        return KindEvidence("ct", True, "fat near -100 HU, soft tissue near 40 HU and bone above 300 HU")
    if a["air"] >= 0.02:
        return KindEvidence(None, False, "values near -1000 HU as in a CT's air, but no fat and soft tissue "
                                         "in HU beside them", ct_signs=True)
    return KindEvidence(None, False, "values below 0, but not fat, soft tissue and bone at their HU")


def image_kind(image: sitk.Image, values: np.ndarray | None = None) -> KindEvidence:
    """The mark if there is one, else what the values decide."""
    marked = marked_kind(image)
    if marked is not None:
        return KindEvidence(marked, True, f"it is marked as {marked.upper()} by SpineMRtoCT")
    return judge(sitk.GetArrayViewFromImage(image) if values is None else values)
