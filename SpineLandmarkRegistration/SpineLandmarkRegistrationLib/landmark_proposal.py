"""Propose ``<level>-body`` and ``<level>-spinous`` landmarks from a vertebra label map.

Annotators then move proposed points instead of placing every point from scratch. The
proposal is a geometric heuristic on the labels alone (no image intensities):

* **Levels.** Every vertebra label present (VerSe/TPTBox IDs 1-28 that name a level; discs
  100+, cord 60, canal 61 and anything else are ignored) with at least ``MIN_VOLUME_MM3`` of
  voxels, ordered cranial to caudal by anatomy (T12, T13, L1, ..., L5, L6, S1). Vertebrae cut
  by the edge of the image are kept, so their points can be biased (see limits).
* **Vertebra frame.** Each vertebra gets its own cranio-caudal axis ``s``, from the centroids
  of its neighbouring vertebrae (cranial minus caudal; the vertebra itself stands in for a
  missing neighbour), or the image's S axis for a lone vertebra. A second pass uses the
  neighbours' body centroids, which follow the spine curve better than whole-vertebra
  centroids. Its antero-posterior axis ``a`` is patient anterior made orthogonal to ``s``;
  ``r = a x s`` points to the patient's right.
* **Body centre.** With a subregion map (TPTBox/SPINEPS), the centroid of the vertebra's
  corpus voxels (``CORPUS_LABELS``: 50 and also 49, which some SPINEPS releases write for the
  corpus itself). Without one (or when a vertebra has no corpus voxels), the body is the part of
  the vertebra anterior to the vertebral canal: along ``a``, in a thin band around the
  vertebra's mid-sagittal plane, the first gap of at least ``CANAL_GAP_MM`` behind the
  anterior surface is the canal; every voxel of the vertebra in front of that gap counts as
  body (this includes the first millimetres of the pedicles, about 1 mm of bias). Without a
  gap the anterior 40 % of the vertebra's depth is used.
* **Spinous process.** Near the mid-sagittal plane (within ``MIDLINE_HALF_WIDTH_MM`` of the
  body centre along ``r``; only subregion 42 when the subregion map has it for this vertebra),
  the voxels within a few mm of the vertebra's most posterior extent along ``a`` mark the tip.
  The process axis is the line through the centroids of two slabs cut across ``a`` 4-12 mm
  and 12-20 mm in front of the tip (for a straight process of symmetric cross-section each
  slab centroid lies on its axis, whatever its caudal tilt). The point is placed on that axis
  ``SPINOUS_INSET_MM`` (or a third of the process, whichever is less) inside where the axis
  leaves the label (a run of at least ``EXIT_RUN_MM`` outside it, so a stray voxel of a touching
  neighbour does not end the process), the project's definition of the spinous landmark. If
  the axis cannot be estimated, the tip-voxel centroid is used. The AP axis used here is first
  turned towards the line from the tip to the body centre (up to ``ROTATION_LIMIT_DEG``), which
  follows the vertebra's axial rotation.
* Every point that falls outside its vertebra's label is moved to the nearest voxel of it.

All geometry is done in physical RAS millimetres (``geometry.Grid``), so any image orientation
(axial CT, sagittal MR) and anisotropic spacing (thick slices) work the same way.

**Limits.** The heuristic assumes a roughly upright, supine-labelled spine (patient anterior
is the vertebrae's anterior within about 30 degrees), a segmentation in which the canal is
not filled in, and a spinous process that is the posterior-most part of the vertebra near
the midline. Vertebrae cut by the field of view (typically the first and last one of a scan,
or a sagittal MR slab narrower than the body) get biased points, as do vertebrae with
fractures, fusions or severe rotation (scoliosis), transitional or sacral shapes (S1 has no
canal gap of the same kind) and cervical vertebrae with bifid or very short processes.
Images with negative values or more than ``MAX_DISTINCT_LABELS`` distinct values are refused
as intensity images; an 8-bit intensity image can still slip through and give nonsense.
Points are proposals for an annotator to correct, described as ``"proposed"`` and unlocked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from SpineCoreLib.geometry import Grid, array_from_image
from SpineCoreLib.levels import ID_LEVELS, check_level, landmark_name, ordered_levels
from SpineCoreLib.markups_io import Landmark, LandmarkSet

log = logging.getLogger(__name__)

MAX_VERTEBRA_ID = 28
CORPUS_LABELS = (49, 50)  # TPTBox Vertebra_Corpus (50); some SPINEPS releases write 49 for the corpus
SPINOUS_LABEL = 42  # TPTBox Spinosus_Process
MIN_VOLUME_MM3 = 500.0
MAX_DISTINCT_LABELS = 300  # VerSe/TPTBox maps with discs, endplates and subregions use far fewer
CANAL_GAP_MM = 4.0
MIN_BODY_DEPTH_MM = 8.0
MIDLINE_HALF_WIDTH_MM = 8.0
WIDE_HALF_WIDTH_MM = 15.0
ROTATION_LIMIT_DEG = 25.0
TIP_BAND_MM = 3.0
SPINOUS_INSET_MM = 6.0
EXIT_RUN_MM = 2.5
DESCRIPTION = "proposed"

_INTEGER_PIXEL_IDS = {
    sitk.sitkUInt8, sitk.sitkInt8, sitk.sitkUInt16, sitk.sitkInt16,
    sitk.sitkUInt32, sitk.sitkInt32, sitk.sitkUInt64, sitk.sitkInt64,
}
_SUPERIOR = np.array([0.0, 0.0, 1.0])
_ANTERIOR = np.array([0.0, 1.0, 0.0])


def check_label_image(image: sitk.Image, what: str = "label map") -> None:
    """Raise ValueError unless ``image`` is a 3D, single-component, integer image."""
    if not isinstance(image, sitk.Image):
        raise ValueError(f"{what} must be a SimpleITK image, got {type(image).__name__}")
    if image.GetDimension() != 3:
        raise ValueError(f"{what} must be a 3D image, got a {image.GetDimension()}D one")
    if min(image.GetSize()) < 2:
        raise ValueError(f"{what} has size {image.GetSize()}: a 3D volume needs at least 2 voxels along every axis")
    if image.GetNumberOfComponentsPerPixel() != 1 or image.GetPixelID() not in _INTEGER_PIXEL_IDS:
        raise ValueError(
            f"{what} has pixel type {image.GetPixelIDTypeAsString()!r}: a label map needs integer voxels "
            "(one label ID per voxel)"
        )


def _check_label_values(arr: np.ndarray, what: str) -> None:
    """Reject integer images that are intensities (CT in HU, MR) rather than label IDs."""
    lowest = int(arr.min())
    if lowest < 0:
        raise ValueError(
            f"{what} has negative values (down to {lowest}): it looks like an intensity image (CT, MR), "
            "not a label map of vertebra IDs"
        )
    sample = arr.ravel()[:: max(1, arr.size // 2_000_000)]
    distinct = np.unique(sample).size
    if distinct > MAX_DISTINCT_LABELS:
        raise ValueError(
            f"{what} has more than {MAX_DISTINCT_LABELS} distinct values ({distinct} in a sample): it looks "
            "like an intensity image (CT, MR), not a label map of vertebra IDs"
        )


@dataclass
class _Vertebra:
    level: str
    label: int
    points: np.ndarray  # (n, 3) RAS voxel centres
    corpus: np.ndarray | None  # boolean mask over points, or None
    spinous: np.ndarray | None  # boolean mask over points, or None
    centroid: np.ndarray
    body: np.ndarray | None = None
    axis_s: np.ndarray | None = None


def _voxel_extent(grid: Grid, direction: np.ndarray) -> float:
    """Length of one voxel projected on a unit ``direction`` (mm)."""
    d = grid.direction_matrix
    return float(np.sum(np.abs(d.T @ direction) * np.array(grid.spacing)))


def _same_geometry(a: sitk.Image, b: sitk.Image) -> bool:
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=1e-4)
        and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=1e-3)
        and np.allclose(a.GetDirection(), b.GetDirection(), atol=1e-5)
    )


def _frame(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(s, a, r): cranio-caudal axis, patient anterior made orthogonal to it, and a x s (right)."""
    s = s / np.linalg.norm(s)
    a = _ANTERIOR - (_ANTERIOR @ s) * s
    if np.linalg.norm(a) < 1e-3:  # spine along the AP axis: no sensible frame, keep something orthogonal
        a = np.cross(s, np.array([1.0, 0.0, 0.0]))
    a = a / np.linalg.norm(a)
    return s, a, np.cross(a, s)


def _axes(refs: list[np.ndarray]) -> list[np.ndarray]:
    """Cranio-caudal axis of each vertebra from its neighbours' reference points (cranial first)."""
    out = []
    n = len(refs)
    for i in range(n):
        if n == 1:
            out.append(_SUPERIOR.copy())
            continue
        up = refs[i - 1] if i > 0 else refs[i]
        down = refs[i + 1] if i < n - 1 else refs[i]
        v = up - down
        norm = np.linalg.norm(v)
        out.append(v / norm if norm > 1e-6 else _SUPERIOR.copy())
    return out


def _first_gap(t: np.ndarray, extent: float) -> tuple[float, float] | None:
    """(anterior, posterior) edges of the first gap >= CANAL_GAP_MM behind a covered run >= MIN_BODY_DEPTH_MM.

    ``t`` are depths along the anterior axis (anterior positive); each voxel covers ``extent`` mm.
    """
    if t.size == 0:
        return None
    step = 0.25
    hi, lo = float(t.max()) + extent / 2, float(t.min()) - extent / 2
    n = int(np.ceil((hi - lo) / step)) + 1
    start = np.clip(np.floor((hi - (t + extent / 2)) / step).astype(int), 0, n - 1)
    stop = np.clip(np.ceil((hi - (t - extent / 2)) / step).astype(int), 0, n - 1)
    # coverage of intervals by a difference array, bins counted from the anterior end
    diff = np.zeros(n + 1, dtype=np.int64)
    np.add.at(diff, start, 1)
    np.add.at(diff, stop + 1, -1)
    covered = np.cumsum(diff)[:n] > 0
    i = 0
    while i < n and covered[i]:
        i += 1
    while i < n:
        j = i
        while j < n and not covered[j]:
            j += 1
        if j >= n:
            return None  # the posterior end of the vertebra, not a canal
        if (j - i) * step >= CANAL_GAP_MM and i * step >= MIN_BODY_DEPTH_MM:
            return hi - i * step, hi - j * step
        i = j
        while i < n and covered[i]:
            i += 1
    return None


def _body_centre(v: _Vertebra, grid: Grid, s: np.ndarray) -> tuple[np.ndarray, float | None]:
    """Body centroid of one vertebra and, when found, the depth of the canal's posterior edge along -a."""
    _, a, r = _frame(s)
    rel = v.points - v.centroid
    t, lat = rel @ a, rel @ r
    half = max(3.0, 0.6 * _voxel_extent(grid, r))
    band = np.abs(lat - np.median(lat)) <= half
    gap = _first_gap(t[band], _voxel_extent(grid, a))
    canal_back = None
    if v.corpus is not None and v.corpus.any():
        body = v.corpus
    elif gap is not None:
        body = t >= gap[0]
    else:
        t_max, t_min = float(t.max()), float(t.min())
        body = t >= t_max - 0.4 * (t_max - t_min)
    centre = v.points[body].mean(axis=0)
    if gap is not None:
        canal_back = float(-(gap[1] + (v.centroid - centre) @ a))  # posterior depth relative to the body centre
    return centre, canal_back


def _inside_label(point: np.ndarray, label: int, arr: np.ndarray, grid: Grid) -> bool:
    ijk = np.rint(grid.ras_to_index(point)).astype(int)
    if np.any(ijk < 0) or np.any(ijk >= np.array(grid.size)):
        return False
    return int(arr[ijk[2], ijk[1], ijk[0]]) == label


def _axis_exit(start: np.ndarray, u: np.ndarray, label: int, arr: np.ndarray, grid: Grid) -> np.ndarray | None:
    """Point where the ray from ``start`` (inside the label) along ``u`` leaves the label."""
    if not _inside_label(start, label, arr, grid):
        return None
    step = 0.25
    ts = np.arange(step, 80.0, step)
    pts = start + ts[:, None] * u
    ijk = np.rint(grid.ras_to_index(pts)).astype(int)
    ok = np.all((ijk >= 0) & (ijk < np.array(grid.size)), axis=1)
    vals = np.full(len(ts), -1, dtype=np.int64)
    vals[ok] = arr[ijk[ok, 2], ijk[ok, 1], ijk[ok, 0]]
    # the first run of >= EXIT_RUN_MM outside the label: single voxels of a touching neighbour
    # (an overlapping process of the next vertebra) do not end the process
    run = int(np.ceil(EXIT_RUN_MM / step))
    out = np.append(vals != label, np.ones(run, dtype=bool))
    csum = np.concatenate([[0], np.cumsum(out)])
    full = np.nonzero(csum[run:] - csum[:-run] == run)[0]
    if full.size == 0 or full[0] >= len(ts):
        return None
    return start + (ts[full[0]] - step / 2) * u


def _spinous_point(
    v: _Vertebra, grid: Grid, s: np.ndarray, body: np.ndarray, canal_back: float | None, arr: np.ndarray
) -> np.ndarray:
    _, a, r = _frame(s)
    pts = v.points
    if v.spinous is not None and v.spinous.any():
        pts = pts[v.spinous]
    # the vertebra's own AP axis: from the posterior-most voxels near the midline to the body
    # centre (follows axial rotation); kept only within ROTATION_LIMIT_DEG of patient anterior
    rel = pts - body
    depth = -(rel @ a)
    wide = np.abs(rel @ r) <= WIDE_HALF_WIDTH_MM
    if wide.any():
        d_max = float(depth[wide].max())
        back = pts[wide & (depth >= d_max - max(TIP_BAND_MM, _voxel_extent(grid, a)))].mean(axis=0)
        a_own = body - back
        a_own -= (a_own @ s) * s
        if np.linalg.norm(a_own) > 1e-6:
            a_own /= np.linalg.norm(a_own)
            if a_own @ a >= np.cos(np.radians(ROTATION_LIMIT_DEG)):
                a = a_own
                r = np.cross(a, s)
    rel = pts - body
    depth, lat = -(rel @ a), rel @ r
    half = max(MIDLINE_HALF_WIDTH_MM, 0.6 * _voxel_extent(grid, r))
    mid = np.abs(lat) <= half
    if not mid.any():
        mid = np.ones(len(pts), dtype=bool)
    pts, depth = pts[mid], depth[mid]
    d_max = float(depth.max())
    band = max(TIP_BAND_MM, _voxel_extent(grid, a))
    tip_centroid = pts[depth >= d_max - band].mean(axis=0)

    near = (depth >= d_max - 12.0) & (depth < d_max - 4.0)
    far = (depth >= d_max - 20.0) & (depth < d_max - 12.0)
    if near.sum() < 3 or far.sum() < 3:
        return tip_centroid
    c_near, c_far = pts[near].mean(axis=0), pts[far].mean(axis=0)
    u = c_near - c_far
    if np.linalg.norm(u) < 1e-6:
        return tip_centroid
    u /= np.linalg.norm(u)
    if -(u @ a) < 0.3:  # the "axis" does not point backwards: not a process we understand
        return tip_centroid
    tip = _axis_exit(c_near, u, v.label, arr, grid)
    if tip is None:
        return tip_centroid
    inset = SPINOUS_INSET_MM
    if canal_back is not None:
        inset = min(inset, max((d_max - canal_back) / 3.0, 2.0))
    return tip - inset * u


def _pull_inside(point: np.ndarray, v: _Vertebra, arr: np.ndarray, grid: Grid) -> np.ndarray:
    if _inside_label(point, v.label, arr, grid):
        return point
    d2 = np.sum((v.points - point) ** 2, axis=1)
    return v.points[int(np.argmin(d2))].copy()


def _collect(arr: np.ndarray, grid: Grid, sub: np.ndarray | None) -> list[_Vertebra]:
    vert = np.where((arr >= 1) & (arr <= MAX_VERTEBRA_ID), arr, 0).astype(np.int32)
    voxel_volume = float(np.prod(grid.spacing))
    order = ordered_levels(include_variants=True)
    found = []
    for idx, box in enumerate(ndimage.find_objects(vert), start=1):
        if box is None or idx not in ID_LEVELS:
            continue
        mask = vert[box] == idx
        n = int(mask.sum())
        if n * voxel_volume < MIN_VOLUME_MM3:
            log.info("label %d (%s) has only %.0f mm3: skipped", idx, ID_LEVELS[idx], n * voxel_volume)
            continue
        kji = np.array(np.nonzero(mask)).T + np.array([sl.start for sl in box])
        points = grid.index_to_ras(kji[:, ::-1])
        corpus = spinous = None
        if sub is not None:
            sv = sub[box][mask]
            corpus = np.isin(sv, CORPUS_LABELS)
            spinous = sv == SPINOUS_LABEL
        found.append(_Vertebra(ID_LEVELS[idx], idx, points, corpus, spinous, points.mean(axis=0)))
    found.sort(key=lambda v: order.index(v.level))
    return found


def _no_vertebra_message(arr: np.ndarray) -> str:
    """Why a label map gave no vertebra: labels too small, or no vertebra IDs at all."""
    present = sorted(int(v) for v in np.unique(arr) if v != 0)
    small = [ID_LEVELS[v] for v in present if v <= MAX_VERTEBRA_ID and v in ID_LEVELS]
    if small:
        return (f"no vertebra labels large enough in the label map: {', '.join(small)} cover less than "
                f"{MIN_VOLUME_MM3:.0f} mm3 each")
    return (f"no vertebra labels in the label map (found {present[:12] or 'only background'}): expected "
            "VerSe/TPTBox vertebra IDs 1-28 (C1-C7 = 1-7, T1-T12 = 8-19, L1-L5 = 20-24, S1 = 26)")


def propose_landmarks(
    labels: sitk.Image, subregions: sitk.Image | None = None, levels: list[str] | None = None
) -> LandmarkSet:
    """Proposed ``<level>-body`` and ``<level>-spinous`` points (RAS) of every vertebra in ``labels``.

    ``labels``: vertebra label map with VerSe/TPTBox IDs (any orientation and spacing).
    ``subregions``: optional TPTBox/SPINEPS subregion map (corpus 50 or 49, spinous process 42),
    resampled onto ``labels`` (nearest neighbour) if its grid differs.
    ``levels``: only these levels (each must be in the label map); default all found.
    Points come cranial to caudal, two per level, described ``"proposed"`` and unlocked.
    See the module docstring for the heuristic and its limits. Raises ValueError for a label
    map that is not 3D, not integer, has no vertebra labels, or lacks a requested level.
    """
    check_label_image(labels, "label map")
    arr, grid = array_from_image(labels)
    _check_label_values(arr, "label map")
    sub = None
    if subregions is not None:
        check_label_image(subregions, "subregion map")
        if not _same_geometry(labels, subregions):
            subregions = sitk.Resample(subregions, labels, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                                       subregions.GetPixelID())
        sub = sitk.GetArrayFromImage(subregions)
        _check_label_values(sub, "subregion map")

    vertebrae = _collect(arr, grid, sub)
    if not vertebrae:
        raise ValueError(_no_vertebra_message(arr))
    found = [v.level for v in vertebrae]
    if levels is not None:
        wanted = [check_level(lv) for lv in levels]
        missing = [lv for lv in wanted if lv not in found]
        if missing:
            raise ValueError(f"level(s) {', '.join(missing)} not in the label map (it has {', '.join(found)})")

    # pass 1: axes from whole-vertebra centroids; pass 2: from body centroids
    for refs in ([v.centroid for v in vertebrae], None):
        if refs is None:
            refs = [v.body for v in vertebrae]
        canal = []
        for v, s in zip(vertebrae, _axes(refs), strict=True):
            v.axis_s = s
            v.body, back = _body_centre(v, grid, s)
            canal.append(back)

    out = LandmarkSet(name="proposed landmarks")
    for v, back in zip(vertebrae, canal, strict=True):
        if levels is not None and v.level not in levels:
            continue
        body = _pull_inside(v.body, v, arr, grid)
        spin = _pull_inside(_spinous_point(v, grid, v.axis_s, v.body, back, arr), v, arr, grid)
        for kind, p in (("body", body), ("spinous", spin)):
            out.landmarks.append(Landmark(landmark_name(v.level, kind), np.asarray(p, dtype=float), DESCRIPTION, False))
    return out
