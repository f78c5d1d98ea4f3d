"""Quality report of a landmark registration: residuals, leave-one-out errors, conditioning of
the point set, and suspected annotation mistakes with the correction each suggests.

Mistake checks use the rigid model whatever the chosen mode, so a flexible fit cannot hide them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .fitting import fit_rigid
from .matching import MatchedLandmarks
from .polyrigid import NEIGHBOUR_WEIGHT

COLLINEAR_RATIO = 0.25  # second / first singular value below this: points lie near one curve
COPLANAR_RATIO = 0.02
OUTLIER_MM = 5.0  # global check: leave-one-out error above this and 4x the others' median
LOCAL_OUTLIER_MM = 10.0  # local check: above this and 1.2x the largest of the others' once it is removed


@dataclass
class QualityReport:
    """What an annotator needs to judge a registration (all distances in mm)."""

    mode: str
    rms_mm: float
    residuals_mm: dict[str, float]
    loo_mm: dict[str, float]
    singular_values: list[float]
    matched: list[str]
    unmatched: dict[str, list[str]]
    unplaced: list[str]
    warnings: list[str] = field(default_factory=list)
    suggestions: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "mode": self.mode,
            "rms_mm": self.rms_mm,
            "residuals_mm": self.residuals_mm,
            "loo_mm": self.loo_mm,
            "smallest_singular_value_mm": self.singular_values[-1],
            "singular_values_mm": self.singular_values,
            "matched": self.matched,
            "unmatched": self.unmatched,
            "unplaced": self.unplaced,
            "warnings": self.warnings,
            "suggestions": self.suggestions,
        }


def rigid_rms(fixed: np.ndarray, moving: np.ndarray) -> float:
    m = fit_rigid(fixed, moving)
    res = moving @ m[:3, :3].T + m[:3, 3] - fixed
    return float(np.sqrt((res**2).sum(axis=1).mean()))


def conditioning_warnings(matched: MatchedLandmarks, sv: np.ndarray, mode: str = "rigid") -> list[str]:
    """Graf et al.'s (2023) reason to place two points per vertebra, when the set shows the problem."""
    out = []
    per_level: dict[str, int] = {}
    for lv in matched.levels:
        per_level[lv] = per_level.get(lv, 0) + 1
    one_each = all(n == 1 for n in per_level.values())
    if sv[1] < COLLINEAR_RATIO * sv[0] or (one_each and len(per_level) > 1):
        out.append(
            "degenerate landmark set: the points lie near one curve (singular values "
            f"{', '.join(f'{v:.1f}' for v in sv)} mm), so the rotation about the cranio-caudal axis is "
            "poorly determined; place two landmarks per vertebra, the body centroid and the spinous "
            "process (Graf et al. 2023)"
        )
    if mode == "affine" and sv[2] < COPLANAR_RATIO * sv[0]:
        out.append(f"the points are nearly coplanar (smallest singular value {sv[2]:.2f} mm): "
                   "an affine fit is unreliable out of that plane; use rigid or similarity")
    return out


def _swap(moving: np.ndarray, labels: list[str], a: str, b: str) -> np.ndarray | None:
    ia, ib = (labels.index(a) if a in labels else None), (labels.index(b) if b in labels else None)
    if ia is None or ib is None:
        return None
    out = moving.copy()
    out[[ia, ib]] = out[[ib, ia]]
    return out


def suspected_mistakes(matched: MatchedLandmarks) -> tuple[list[str], list[dict]]:
    """Swapped levels, swapped body/spinous, single outliers: each with the fix it suggests."""
    warnings: list[str] = []
    suggestions: list[dict] = []
    if len(matched.labels) < 4:
        return warnings, suggestions
    base = rigid_rms(matched.fixed, matched.moving)
    if base < 2.0:
        return warnings, suggestions
    best = _best_swap(matched)
    if best is not None and best[2] < 0.5 * base:
        kind, what, rms = best
        if kind == "swapped-levels":
            msg = (f"{what[0]} and {what[1]} look swapped between the two images (RMS {base:.1f} -> {rms:.1f} mm "
                   f"if exchanged): check the level labels and rename {what[0]} <-> {what[1]} in one image")
        else:
            msg = (f"{what[0]}-body and {what[0]}-spinous look swapped in one image (RMS {base:.1f} -> {rms:.1f} mm "
                   "if exchanged): rename them")
        warnings.append(msg)
        suggestions.append({"kind": kind, "labels": list(what), "rms_after_mm": rms})
        return warnings, suggestions
    # 1) globally rigid data: one pair that the others' rigid fit cannot explain
    glob = global_loo(matched)
    g = int(np.argmax(glob))
    others = float(np.median(np.delete(glob, g)))
    if glob[g] > OUTLIER_MM and glob[g] > 4.0 * max(others, 0.5):
        return _outlier(matched, g, base, f"{glob[g]:.1f} mm from where the other landmarks put it "
                        f"(others median {others:.1f} mm)", warnings, suggestions)
    # 2) curvature differs between the images: compare each point with its own vertebra and neighbours
    local = _local_outlier(matched)
    if local is not None:
        worst, err, ref = local
        return _outlier(matched, worst, base, f"{err:.1f} mm from where its vertebra and neighbours put "
                        f"it (without it the others agree within {ref:.1f} mm)", warnings, suggestions)
    return warnings, suggestions


def _best_swap(matched: MatchedLandmarks) -> tuple[str, tuple[str, ...], float] | None:
    """The label exchange (two neighbouring levels, or a level's body and spinous) that lowers the rigid
    RMS most: (kind, levels, RMS after), or None when no exchange is possible."""
    labels, levels = matched.labels, list(dict.fromkeys(matched.levels))
    candidates = []
    for a, b in zip(levels, levels[1:], strict=False):
        moved, ok = matched.moving.copy(), False
        for kind in ("body", "spinous"):
            swapped = _swap(moved, labels, f"{a}-{kind}", f"{b}-{kind}")
            if swapped is not None:
                moved, ok = swapped, True
        if ok:
            candidates.append(("swapped-levels", (a, b), rigid_rms(matched.fixed, moved)))
    for lv in levels:
        swapped = _swap(matched.moving, labels, f"{lv}-body", f"{lv}-spinous")
        if swapped is not None:
            candidates.append(("swapped-body-spinous", (lv,), rigid_rms(matched.fixed, swapped)))
    return min(candidates, key=lambda c: c[2], default=None)


def _local_outlier(matched: MatchedLandmarks) -> tuple[int, float, float] | None:
    """A point its own vertebra and neighbours cannot explain: (index, its error, the others' worst without
    it), or None. A misplaced point also spoils its level-mates' predictions, so of the worst points the
    one whose removal leaves the others most consistent is blamed."""
    errs = local_loo(matched)
    if np.all(np.isnan(errs)):
        return None
    order = [int(i) for i in np.argsort(-np.nan_to_num(errs, nan=-1.0))[:3]]
    remaining = []
    for k in order:
        rest = np.delete(local_loo(matched, exclude=k), k)
        remaining.append(float(np.nanmedian(rest)) if np.any(~np.isnan(rest)) else np.inf)
    worst = order[int(np.argmin(remaining))]
    cleaned = np.delete(local_loo(matched, exclude=worst), worst)
    ref = float(np.nanmax(cleaned)) if np.any(~np.isnan(cleaned)) else 0.0
    if errs[worst] > LOCAL_OUTLIER_MM and errs[worst] > 1.2 * ref:
        return worst, float(errs[worst]), ref
    return None


def _outlier(matched: MatchedLandmarks, k: int, base: float, why: str, warnings: list[str],
             suggestions: list[dict]) -> tuple[list[str], list[dict]]:
    keep = np.ones(len(matched.labels), bool)
    keep[k] = False
    rms = rigid_rms(matched.fixed[keep], matched.moving[keep])
    label = matched.labels[k]
    warnings.append(f"{label} looks misplaced (it is {why}): move it, or leave it out (RMS {base:.1f} -> {rms:.1f} mm)")
    suggestions.append({"kind": "outlier", "labels": [label], "rms_after_mm": rms})
    return warnings, suggestions


def global_loo(matched: MatchedLandmarks) -> np.ndarray:
    """Error of each pair under the rigid fit of all the other pairs."""
    n = len(matched.labels)
    out = np.zeros(n)
    for k in range(n):
        keep = np.ones(n, bool)
        keep[k] = False
        m = fit_rigid(matched.fixed[keep], matched.moving[keep])
        out[k] = np.linalg.norm(matched.moving[k] @ m[:3, :3].T + m[:3, 3] - matched.fixed[k])
    return out


def local_loo(matched: MatchedLandmarks, exclude: int | None = None) -> np.ndarray:
    """Error of each point predicted by a rigid fit of the rest of its own vertebra and its neighbours.

    Local, so that a curvature change between the images (which a global rigid fit cannot
    follow) does not hide a misplaced point; NaN where the rest cannot determine a fit.
    """
    levels = list(dict.fromkeys(matched.levels))
    lv = np.array(matched.levels)
    out = np.full(len(matched.labels), np.nan)
    for k, level in enumerate(matched.levels):
        n = levels.index(level)
        w = np.where(lv == level, 1.0, 0.0)
        for nb in (n - 1, n + 1):
            if 0 <= nb < len(levels):
                w[lv == levels[nb]] = NEIGHBOUR_WEIGHT
        w[k] = 0.0
        if exclude is not None:
            w[exclude] = 0.0
        sel = w > 0
        pts = matched.fixed[sel]
        if len(pts) < 3 or np.linalg.svd(pts - pts.mean(0), compute_uv=False)[1] < 1.0:
            continue
        m = fit_rigid(matched.fixed[sel], matched.moving[sel], w[sel])
        out[k] = np.linalg.norm(matched.moving[k] @ m[:3, :3].T + m[:3, 3] - matched.fixed[k])
    return out
