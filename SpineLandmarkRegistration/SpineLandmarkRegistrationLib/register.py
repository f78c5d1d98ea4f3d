"""Landmark registration: pair by name, fit a transform, and report its quality.

``register(fixed, moving, mode)`` is the one entry point the MRML layer, the Slicer module and
the command line share.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from SpineCoreLib.markups_io import LandmarkSet

from .fitting import check_configuration, fit, fit_rigid
from .matching import LandmarkError, MatchedLandmarks, match_landmarks
from .polyrigid import fit_polyrigid
from .quality import QualityReport, conditioning_warnings, local_loo, suspected_mistakes
from .transforms import LinearTransform, RegistrationTransform

MODES: tuple[str, ...] = ("rigid", "similarity", "affine", "piecewise")
log = logging.getLogger(__name__)


@dataclass
class Registration:
    """The fitted transform (moving onto fixed), its quality report and the pairs it used."""

    transform: RegistrationTransform
    report: QualityReport
    matched: MatchedLandmarks


def fit_transform(matched: MatchedLandmarks, mode: str) -> RegistrationTransform:
    """Fit ``mode`` to matched pairs (no checks beyond the fit's own)."""
    if mode == "piecewise":
        return fit_polyrigid(matched, fit_rigid(matched.fixed, matched.moving))
    return LinearTransform(fit(mode, matched.fixed, matched.moving), mode)


def leave_one_out(matched: MatchedLandmarks, mode: str) -> dict[str, float]:
    """Error of each pair under a fit made without it (NaN where the rest cannot be fitted).

    For the piecewise mode a pair's vertebra transform depends only on its own and neighbouring
    levels, so its leave-one-out error is that local rigid fit's prediction (quality.local_loo),
    which keeps the report fast on long spines.
    """
    if mode == "piecewise":
        return {k: float(v) for k, v in zip(matched.labels, local_loo(matched), strict=True)}
    out: dict[str, float] = {}
    n = len(matched.labels)
    for k in range(n):
        keep = np.ones(n, bool)
        keep[k] = False
        rest = matched.subset(keep)
        try:
            check_configuration(rest.fixed, "affine" if mode == "affine" else "rigid")
            t = fit_transform(rest, mode)
        except LandmarkError:
            out[matched.labels[k]] = float("nan")
            continue
        out[matched.labels[k]] = float(np.linalg.norm(t.moving_to_fixed(matched.moving[k]) - matched.fixed[k]))
    return out


def register(fixed: LandmarkSet, moving: LandmarkSet, mode: str = "rigid", with_loo: bool = True) -> Registration:
    """Register ``moving`` landmarks onto ``fixed`` ones by name with ``mode``.

    ``with_loo=False`` gives a fast report (residuals and conditioning only) for live updates;
    the default adds leave-one-out errors and the checks for annotation mistakes.

    Raises LandmarkError (a ValueError) with what to fix when the landmarks cannot determine the
    transform: too few matched pairs, collinear or (for affine) coplanar points, duplicate or
    unknown names, non-finite positions.
    """
    if mode not in MODES:
        raise ValueError(f"unknown registration mode {mode!r}: choose one of {', '.join(MODES)}")
    t0 = time.perf_counter()
    matched = match_landmarks(fixed, moving)
    sv = check_configuration(matched.fixed, "affine" if mode == "affine" else "rigid")
    transform = fit_transform(matched, mode)
    res = np.linalg.norm(transform.moving_to_fixed(matched.moving) - matched.fixed, axis=1)
    loo = leave_one_out(matched, mode) if with_loo else {}
    warnings = conditioning_warnings(matched, sv, mode)
    suggestions: list[dict] = []
    if with_loo:  # the full report; live updates while dragging skip these checks
        mistakes, suggestions = suspected_mistakes(matched)
        warnings += mistakes
    if matched.unmatched_fixed or matched.unmatched_moving:
        warnings.append(
            "landmarks placed in only one image are not used: "
            + ", ".join(matched.unmatched_fixed + matched.unmatched_moving)
        )
    report = QualityReport(
        mode=mode,
        rms_mm=float(np.sqrt((res**2).mean())),
        residuals_mm={k: float(r) for k, r in zip(matched.labels, res, strict=True)},
        loo_mm=loo,
        singular_values=[float(v) for v in sv],
        matched=matched.labels,
        unmatched={"fixed": matched.unmatched_fixed, "moving": matched.unmatched_moving},
        unplaced=matched.unplaced,
        warnings=warnings,
        suggestions=suggestions,
    )
    log.info("%s registration of %d pairs: RMS %.2f mm in %.3f s", mode, len(res), report.rms_mm,
             time.perf_counter() - t0)
    return Registration(transform, report, matched)
