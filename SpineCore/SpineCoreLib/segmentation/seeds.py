"""Seeds from landmarks: each annotated level is seeded along its body-to-spinous axis, so its
label comes from the landmark names; the levels just above and below the annotated range are
seeded by extrapolation, so that their bone is not annexed by the annotated levels next to them."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from SpineCoreLib.levels import LEVEL_IDS, ordered_levels

from .landmarks import LevelPoints
from .volume import Volume

SEED_RADIUS_MM = 3.0
BEYOND_STEP = 0.5  # an extrapolated seed lies over half a step past its annotated neighbour's body
MIN_DEPTH_MM = 2.0  # and in bone thicker than a cortex fragment


def _ball(vol: Volume, centre_kji: np.ndarray, radius_mm: float) -> tuple[tuple[slice, ...], np.ndarray]:
    """Bounding box and boolean ball of ``radius_mm`` around a continuous [k, j, i] index."""
    r = np.ceil(radius_mm / vol.spacing).astype(int)
    lo = np.maximum(np.floor(centre_kji).astype(int) - r, 0)
    hi = np.minimum(np.ceil(centre_kji).astype(int) + r + 1, vol.array.shape)
    if np.any(hi <= lo):
        return (slice(0, 0),) * 3, np.zeros((0, 0, 0), bool)
    axes = [(np.arange(a, b) - c) * s for a, b, c, s in zip(lo, hi, centre_kji, vol.spacing, strict=True)]
    zz, yy, xx = np.meshgrid(*axes, indexing="ij")
    return tuple(slice(a, b) for a, b in zip(lo, hi, strict=True)), zz**2 + yy**2 + xx**2 <= radius_mm**2


def _segment_voxels(vol: Volume, a_ras: np.ndarray, b_ras: np.ndarray) -> np.ndarray:
    """Integer [k, j, i] indices of voxels on the segment from ``a`` to ``b``, inside the image."""
    length = float(np.linalg.norm(b_ras - a_ras))
    n = max(2, int(np.ceil(length / (0.5 * vol.spacing.min()))) + 1)
    pts = a_ras + np.linspace(0.0, 1.0, n)[:, None] * (b_ras - a_ras)
    idx = np.rint(vol.ras_to_kji(pts)).astype(int)
    inside = np.all((idx >= 0) & (idx < vol.array.shape), axis=1)
    return np.unique(idx[inside], axis=0)


def extrapolated_levels(points: LevelPoints) -> dict[str, tuple[dict[str, np.ndarray], np.ndarray]]:
    """Predicted points of the levels just outside the annotated range, each with the body point
    of the annotated level next to it (one inter-level step back)."""
    order = ordered_levels(include_variants=any(lv in ("T13", "L6") for lv in points))
    annotated = [lv for lv in order if lv in points and "body" in points[lv]]
    out: dict[str, tuple[dict[str, np.ndarray], np.ndarray]] = {}
    if len(annotated) < 2:
        return out
    for end, inner, step in ((annotated[0], annotated[1], -1), (annotated[-1], annotated[-2], 1)):
        pos = order.index(end) + step
        if not 0 <= pos < len(order) or order[pos] in points:
            continue
        guess = {k: 2 * points[end][k] - points[inner][k] for k in ("body", "spinous")
                 if k in points[end] and k in points[inner]}
        out[order[pos]] = (guess, points[end]["body"])
    return out


def landmark_markers(vol: Volume, bone: np.ndarray, points: LevelPoints,
                     radius_mm: float = SEED_RADIUS_MM) -> tuple[np.ndarray, LevelPoints]:
    """Marker image (VerSe IDs, 0 = none) and the points actually seeded, extrapolated ones included.

    Annotated levels: balls at every point and voxels along the body-spinous segment, all within
    bone. The levels next to them are seeded by extrapolation (:func:`add_neighbour_seeds`).
    """
    markers = np.zeros(bone.shape, np.uint16)
    seeded: LevelPoints = {}
    for level, pts in points.items():
        label = LEVEL_IDS[level]
        for p in pts.values():
            box, ball = _ball(vol, vol.ras_to_kji(p), radius_mm)
            markers[box][ball & bone[box]] = label
        if "body" in pts and "spinous" in pts:
            idx = _segment_voxels(vol, pts["body"], pts["spinous"])
            idx = idx[bone[tuple(idx.T)]] if len(idx) else idx
            markers[tuple(idx.T)] = label
        seeded[level] = pts
    seeded.update(add_neighbour_seeds(vol, bone, markers, points, radius_mm))
    return markers, seeded


def add_neighbour_seeds(vol: Volume, bone: np.ndarray, markers: np.ndarray, points: LevelPoints,
                        radius_mm: float = SEED_RADIUS_MM) -> LevelPoints:
    """Seed (into ``markers``) the levels just outside those of ``points``; return their points.

    Each gets one ball at the thickest bone within a step of its predicted body centre and over
    half a step past its seeded neighbour, and only where such bone exists (it really is there).
    """
    seeded: LevelPoints = {}
    if not bone.any():
        return seeded
    depth = ndimage.distance_transform_edt(bone, sampling=vol.spacing)
    for level, (guess, anchor) in extrapolated_levels(points).items():
        if "body" not in guess:
            continue
        step = guess["body"] - anchor
        length = float(np.linalg.norm(step))
        box, ball = _ball(vol, vol.ras_to_kji(guess["body"]), length)
        if ball.size == 0:
            continue
        kji = np.stack(np.meshgrid(*[np.arange(s.start, s.stop) for s in box], indexing="ij"), axis=-1)
        rel = vol.kji_to_ras(kji) - anchor
        t = rel @ step / length**2  # position along the step, in steps from the anchor's body
        beyond = (t > BEYOND_STEP) & (np.linalg.norm(rel - t[..., None] * step, axis=-1) < 0.75 * length)
        local = np.where(ball & beyond & (markers[box] == 0), depth[box], 0.0)
        if local.max() < MIN_DEPTH_MM:
            continue
        best = np.array(np.unravel_index(int(np.argmax(local)), local.shape)) + [s.start for s in box]
        b2, ball2 = _ball(vol, best.astype(float), radius_mm)
        markers[b2][ball2 & bone[b2] & (markers[b2] == 0)] = LEVEL_IDS[level]
        seeded[level] = {**guess, "body": vol.kji_to_ras(best.astype(float))}
    return seeded


def limit_reach(labels: np.ndarray, vol: Volume, seeded: LevelPoints, reach_mm: float) -> np.ndarray:
    """Labels cleared farther than ``reach_mm`` from their level's body-spinous segment (ribs, pelvis)."""
    if reach_mm <= 0:
        return labels
    out = labels.copy()
    for level, pts in seeded.items():
        value = LEVEL_IDS[level]
        idx = np.argwhere(labels == value)
        if not len(idx):
            continue
        xyz = vol.kji_to_ras(idx)
        a = pts.get("body", pts.get("spinous"))
        b = pts.get("spinous", a)
        ab = b - a
        t = np.clip(((xyz - a) @ ab) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
        far = np.linalg.norm(xyz - (a + t[:, None] * ab), axis=1) > reach_mm
        out[tuple(idx[far].T)] = 0
    return out
