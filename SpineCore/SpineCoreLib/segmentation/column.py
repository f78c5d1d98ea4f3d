"""The spine first: find the column of vertebral bodies, its discs and a corridor around it, so that a CT
of any field of view (ribs, pelvis, contrast, table) is segmented only where the vertebrae are.

On an axial-like grid (``Volume`` in LPS orientation, k running up the patient), the body of a
vertebra is, slice by slice, the thickest bone near the midline: the maximum of the in-slice
distance to the bone surface. A dynamic programme links those maxima from slice to slice into the
smoothest, thickest path (the column), which leaves out femoral heads (off the midline), iliac
wings and ribs (thin) and contrast-filled bowel (not on a continuous vertical path). Along the path,
a disc is a run of slices where little of the body's cross-section is bone and its mean HU is low;
discs are chosen as the strongest such minima at least ``MIN_DISC_PITCH_MM`` apart (a vertebral body
is 20-40 mm tall), which also rejects the dark interior of an osteoporotic body, whose minimum lies
too close to the real discs above and below it. The bodies are the segments between discs.

The lowest segment is the sacrum (named S1) when its bone joins the pelvis (reaches more than
``SACRUM_REACH_MM`` from the midline); the levels are then counted up from it, and otherwise up
from the caller's ``caudal_level`` for the lowest segment lying wholly in the image.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from SpineCoreLib.levels import LEVEL_IDS, VARIANT_LEVELS, ordered_levels

from .seeds import add_neighbour_seeds
from .volume import Volume

log = logging.getLogger(__name__)

MIN_BODY_DEPTH_MM = 7.0  # in-slice distance to the bone surface at a body's centre (bodies: 15-25 mm)
MAX_OFF_MIDLINE_MM = 35.0
MIN_DISC_PITCH_MM = 24.0
MIN_DISC_SCORE = 0.25
PROFILE_RADIUS_MM = 8.0
SACRUM_REACH_MM = 70.0
MAX_END_HEIGHT = 1.2  # body heights


@dataclass
class Column:
    """The path of body centres and the discs along it, on a ``Volume`` whose axis 0 runs up the patient."""

    k: np.ndarray  # slices the path covers, ascending
    centre: np.ndarray  # (len(k), 2) continuous (j, i) of the body centre on each of them
    discs: list[int]  # slices of the disc centres, ascending
    planes: list[tuple[np.ndarray, np.ndarray]] | None = None  # (centre, normal) in RAS per disc, when fitted

    def centre_at(self, k: np.ndarray) -> np.ndarray:
        """(j, i) of the path at any slices, held constant beyond its ends."""
        return np.stack([np.interp(k, self.k, self.centre[:, n]) for n in (0, 1)], axis=-1)

    def segments(self) -> list[tuple[int, int]]:
        """(first, last) slices of each body between discs (and beyond the end discs), caudal first."""
        bounds = [int(self.k[0]) - 1, *self.discs, int(self.k[-1]) + 1]
        return [(lo + 1, hi - 1) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True) if hi - lo > 2]


def section(shape: tuple[int, ...], centre_ji: np.ndarray, spacing: np.ndarray, radius_mm: float) -> np.ndarray:
    """Boolean disk of ``radius_mm`` around a (j, i) centre in one slice of a volume of ``shape``."""
    jj, ii = np.ogrid[: shape[1], : shape[2]]
    j, i = centre_ji
    return ((jj - j) * spacing[1]) ** 2 + ((ii - i) * spacing[2]) ** 2 <= radius_mm**2


def slice_depth(bone: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Per-slice (axis 0) distance to the bone surface in mm."""
    out = np.zeros(bone.shape, np.float32)
    for k in range(bone.shape[0]):
        if bone[k].any():
            out[k] = ndimage.distance_transform_edt(bone[k], sampling=spacing[1:])
    return out


def _candidates(depth: np.ndarray, vol: Volume) -> list[tuple[int, float, float, float, np.ndarray]]:
    """(k, j, i, depth, RAS) of in-slice depth maxima thick enough for a vertebral body."""
    out = []
    for k in range(depth.shape[0]):
        peak = (depth[k] == ndimage.maximum_filter(depth[k], size=5)) & (depth[k] >= MIN_BODY_DEPTH_MM)
        for j, i in np.argwhere(peak):
            out.append((k, float(j), float(i), float(depth[k, j, i]), vol.kji_to_ras(np.array([k, j, i], float))))
    return out


def find_path(depth: np.ndarray, vol: Volume) -> tuple[np.ndarray, np.ndarray] | None:
    """(slices, (j, i) centres) of the column: the path through the body candidates with the largest
    sum of depth, less half a millimetre of score per millimetre it moves sideways; None if none."""
    cands = _candidates(depth, vol)
    if len(cands) < 2:
        return None
    x = np.array([c[4][0] for c in cands])
    w = np.array([c[3] for c in cands])
    order = np.argsort(x)
    cum = np.cumsum(w[order])
    midline = x[order][np.searchsorted(cum, cum[-1] / 2)]  # weighted median: the spine, not the hips
    by_k: dict[int, list] = {}
    for c in cands:
        if abs(c[4][0] - midline) < MAX_OFF_MIDLINE_MM:
            by_k.setdefault(c[0], []).append(c)
    best: dict[tuple[int, int], tuple[float, tuple[int, int] | None]] = {}
    step_mm = float(vol.spacing[0])
    for k in sorted(by_k):
        for n, c in enumerate(by_k[k]):
            score, prev = c[3], None
            for kp in range(k - 1, max(k - 1 - int(np.ceil(15.0 / step_mm)), -1), -1):  # gaps of up to 15 mm
                for m, cp in enumerate(by_k.get(kp, [])):
                    moved = float(np.linalg.norm(c[4][:2] - cp[4][:2]))
                    if moved < 2.0 * (k - kp) * step_mm + 3.0:
                        s = best[(kp, m)][0] + c[3] - 0.5 * moved
                        if s > score:
                            score, prev = s, (kp, m)
            best[(k, n)] = (score, prev)
    node: tuple[int, int] | None = max(best, key=lambda key: best[key][0])
    chain = []
    while node is not None:
        chain.append(by_k[node[0]][node[1]])
        node = best[node][1]
    chain.reverse()
    if len(chain) < 2:
        return None
    k = np.array([c[0] for c in chain])
    ji = np.array([[c[1], c[2]] for c in chain])
    ji = ndimage.uniform_filter1d(ji, 3, axis=0)
    every = np.arange(k[0], k[-1] + 1)
    return every, np.stack([np.interp(every, k, ji[:, n]) for n in (0, 1)], axis=-1)


def disc_scores(bone: np.ndarray, hu: np.ndarray, k: np.ndarray, centre: np.ndarray, spacing: np.ndarray
                ) -> np.ndarray:
    """Per path slice: how disc-like the body's cross-section is (little bone, low HU)."""
    scores = np.zeros(len(k))
    for n, (kk, ji) in enumerate(zip(k, centre, strict=True)):
        disk = section(bone.shape, ji, spacing, PROFILE_RADIUS_MM)
        scores[n] = (1.0 - bone[kk][disk].mean()) + max(0.0, (130.0 - float(hu[kk][disk].mean())) / 100.0)
    return scores


def choose_discs(k: np.ndarray, scores: np.ndarray, step_mm: float) -> list[int]:
    """The set of local score maxima, at least ``MIN_DISC_PITCH_MM`` apart, with the largest total score."""
    cand = [n for n in range(len(k)) if scores[n] >= MIN_DISC_SCORE and scores[n] == scores[max(0, n - 1):n + 2].max()]
    best, prev = [0.0] * len(cand), [None] * len(cand)
    for a, n in enumerate(cand):
        best[a] = scores[n]
        for b in range(a):
            if (k[n] - k[cand[b]]) * step_mm >= MIN_DISC_PITCH_MM and best[b] + scores[n] > best[a]:
                best[a], prev[a] = best[b] + scores[n], b
    if not cand:
        return []
    a: int | None = int(np.argmax(best))
    out = []
    while a is not None:
        out.append(int(k[cand[a]]))
        a = prev[a]
    return sorted(out)


def find_column(bone: np.ndarray, hu: np.ndarray, vol: Volume) -> Column | None:
    """The column of ``vol`` (axis 0 up the patient) from its bone mask and smoothed HU; None if no path."""
    path = find_path(slice_depth(bone, vol.spacing), vol)
    if path is None:
        return None
    k, centre = path
    discs = choose_discs(k, disc_scores(bone, hu, k, centre, vol.spacing), float(vol.spacing[0]))
    return fit_planes(Column(k, centre, discs), vol, hu)


def disc_and_body_hu(hu: np.ndarray, column: Column, spacing: np.ndarray) -> tuple[float, float]:
    """Median HU of the column's cross-sections at the discs and in the middle of the bodies."""
    def mean_at(k: int) -> float:
        return float(hu[k][section(hu.shape, column.centre_at(np.array([k]))[0], spacing, PROFILE_RADIUS_MM)].mean())

    discs = [mean_at(k) for k in column.discs]
    bodies = [mean_at((lo + hi) // 2) for lo, hi in column.segments()]
    return float(np.median(discs)), float(np.median(bodies))


def corridor(column: Column, vol: Volume, lateral_mm: float = 38.0, anterior_mm: float = 30.0,
             posterior_mm: float = 95.0) -> np.ndarray:
    """Boolean mask of the space a vertebra can occupy around the path: bodies, arches, processes."""
    shape = vol.array.shape
    centre = column.centre_at(np.arange(shape[0]))
    jj, ii = np.meshgrid(np.arange(shape[1]), np.arange(shape[2]), indexing="ij")
    lps_dir = np.diag([-1.0, -1.0, 1.0]) @ vol.grid.direction_matrix  # RAS -> LPS rows: axis directions in LPS
    out = np.zeros(shape, bool)
    for k in range(shape[0]):
        dj, di = (jj - centre[k, 0]) * vol.spacing[1], (ii - centre[k, 1]) * vol.spacing[2]
        posterior = dj * lps_dir[1, 1] + di * lps_dir[1, 0]  # mm towards P of each voxel from the centre
        lateral = dj * lps_dir[0, 1] + di * lps_dir[0, 0]
        out[k] = (np.abs(lateral) <= lateral_mm) & (posterior >= -anterior_mm) & (posterior <= posterior_mm)
    return out


MARKER_RADIUS_MM = 12.0
SACRAL_EXTENT = 0.9  # body heights below the L5/S1 disc plane, along the column: how far S1 reaches
SACRAL_ARCH = 0.7  # below this (body heights), only S1's body (within the radius below) stays S1
SACRAL_BODY_RADIUS_MM = 25.0
SACRAL_HALF_WIDTH_MM = 30.0  # S1's body and arch (50-60 mm wide); the alae beyond belong to the sacrum


def complete_segments(column: Column, shape0: int) -> tuple[list[tuple[int, int]], list[bool], float]:
    """Body segments (caudal first), whether each lies wholly in the image, and the median body height
    in slices. A segment between two discs is complete; an end segment when it is at least 0.8 of that
    height tall and does not touch the image edge."""
    segs = column.segments()
    inner = [hi - lo + 1 for n, (lo, hi) in enumerate(segs) if 0 < n < len(segs) - 1]
    height = float(np.median(inner)) if inner else float(np.median([hi - lo + 1 for lo, hi in segs]))
    complete = []
    for n, (lo, hi) in enumerate(segs):
        between = 0 < n < len(segs) - 1
        touches = lo <= 0 or hi >= shape0 - 1
        complete.append(between or (hi - lo + 1 >= 0.8 * height and not touches))
    return segs, complete, height


def joins_pelvis(base: np.ndarray, seed: np.ndarray, vol: Volume, midline_x: float) -> bool:
    """Whether the bone connected to ``seed`` reaches farther than ``SACRUM_REACH_MM`` from the midline
    (the sacrum joins the iliac bones at the sacroiliac joints; a lumbar vertebra's processes end sooner)."""
    lab, _ = ndimage.label(base, structure=np.ones((3, 3, 3), bool))
    ids = np.unique(lab[seed & base])
    ids = ids[ids > 0]
    if not len(ids):
        return False
    idx = np.argwhere(np.isin(lab, ids))
    x = vol.kji_to_ras(idx[:: max(1, len(idx) // 20000)].astype(float))[:, 0]
    return bool(np.abs(x - midline_x).max() > SACRUM_REACH_MM)


def column_markers(column: Column, bone: np.ndarray, base: np.ndarray, vol: Volume, caudal_level: str
                   ) -> tuple[np.ndarray, dict[int, str], str]:
    """Marker image (VerSe IDs), the level of each segment and the anchor the levels were counted from."""
    shape = bone.shape
    segs, complete, height = complete_segments(column, shape[0])
    seeds = []
    for lo, hi in segs:
        seed = np.zeros(shape, bool)
        for k in range(max(lo + 1, 0), min(hi, shape[0] - 1)):
            seed[k] = section(shape, column.centre_at(np.array([k]))[0], vol.spacing, MARKER_RADIUS_MM) & bone[k]
        seeds.append(seed)
    midline_x = float(vol.kji_to_ras(np.array([column.k[len(column.k) // 2], *column.centre[len(column.k) // 2]]))[0])
    order = ordered_levels(include_variants=caudal_level in VARIANT_LEVELS)
    # the sacrum lies below the lowest disc: a lowest segment above it (a stub below that disc too short
    # to count) is a lumbar body, even when its bone reaches the pelvis through the sacrum under it
    below_lowest_disc = bool(column.discs) and segs[0][1] < column.discs[0]
    sacrum = below_lowest_disc and seeds[0].any() and joins_pelvis(base, seeds[0], vol, midline_x)
    if sacrum:
        base_index, anchor = order.index("S1"), "the sacrum (S1: below the lowest disc, joined to the pelvis)"
        first = 0
    else:
        first = complete.index(True) if True in complete else 0
        base_index, anchor = order.index(caudal_level), f"{caudal_level} (the lowest vertebral body wholly in the image)"
    markers = np.zeros(shape, np.uint16)
    names: dict[int, str] = {}
    for n, seed in enumerate(seeds):
        pos = base_index - (n - first)
        if 0 <= pos < len(order):
            names[n] = order[pos]
            markers[seed & (markers == 0)] = LEVEL_IDS[order[pos]]
    top = len(segs) - 1  # an end segment taller than a body holds the next vertebra's cut-off piece too
    if column.discs and top in names and segs[top][1] - column.discs[-1] > MAX_END_HEIGHT * height:
        pos = order.index(names[top]) - 1
        if pos >= 0:
            cut = int(np.ceil(column.discs[-1] + MAX_END_HEIGHT * height))
            beyond = np.zeros(shape, bool)
            beyond[cut:] = True
            markers[beyond & bone] = LEVEL_IDS[order[pos]]
    points = {}
    for n, seed in enumerate(seeds):
        if n in names and seed.any():
            points[names[n]] = {"body": vol.kji_to_ras(np.array(ndimage.center_of_mass(seed)))}
    add_neighbour_seeds(vol, bone, markers, points)  # a vertebra cut by the edge keeps its own bone
    if sacrum:  # everything in the corridor below the L5/S1 disc belongs to the sacrum
        below = np.zeros(shape, bool)
        below[: max(column.discs[0] - 1, 0)] = True
        markers[below & bone & (markers == 0)] = LEVEL_IDS["S1"]
    log.info("vertebral levels counted from %s; %d bodies between %d discs", anchor, len(segs), len(column.discs))
    return markers, names, anchor


def limit_sacrum(labels: np.ndarray, column: Column, height: float, vol: Volume) -> np.ndarray:
    """S1 labels kept only within ``SACRAL_EXTENT`` body heights below the L5/S1 disc, measured along its
    fitted plane's normal (the sacrum tilts forward: its lower segments lie behind and below S1), and
    below S1's articular processes only near the sacral axis (its body, not the posterior wall), and
    within ``SACRAL_HALF_WIDTH_MM`` of it left and right: the alae lateral to S1's body are the fused
    costal elements of the whole sacrum, as TotalSegmentator's S1 class leaves them."""
    if not column.discs:
        return labels
    out = labels.copy()
    s1 = np.argwhere(out == LEVEL_IDS["S1"])
    if not len(s1):
        return out
    centre, normal = disc_planes(column, vol)[0]
    rel = vol.kji_to_ras(s1.astype(float)) - centre
    below = -rel @ normal  # mm below the disc plane
    radial = np.linalg.norm(rel + below[:, None] * normal, axis=1)
    mm = height * float(vol.spacing[0])
    wall = (below > SACRAL_ARCH * mm) & (radial > SACRAL_BODY_RADIUS_MM)  # the sacrum's wall below S1's arch
    ala = np.abs(rel[:, 0]) > SACRAL_HALF_WIDTH_MM  # RAS x: the patient's left-right
    out[tuple(s1[(below > SACRAL_EXTENT * mm) | wall | ala].T)] = 0
    return out


DISC_HALF_MM = 3.0
DISC_HU = 130.0  # the upper end of disc tissue on CT; endplates and cortex are brighter
DISC_RADIUS_MM = 25.0


def path_planes(column: Column, vol: Volume) -> list[tuple[np.ndarray, np.ndarray]]:
    """(centre, unit normal) in RAS of each disc from the path alone: its centre there and the direction
    from the body below to the body above (a first guess: a wedge-shaped disc is tilted more)."""
    out = []
    mids = [(lo + hi) / 2 for lo, hi in column.segments()]
    for k in column.discs:
        below = max([m for m in mids if m < k], default=k - 1.0)
        above = min([m for m in mids if m > k], default=k + 1.0)
        ks = np.array([below, k, above], float)
        pts = vol.kji_to_ras(np.column_stack([ks, column.centre_at(ks)]))
        normal = pts[2] - pts[0]  # from the body below to the body above
        out.append((pts[1], normal / max(float(np.linalg.norm(normal)), 1e-6)))
    return out


PLANE_TILT_DEG = np.arange(-35.0, 35.1, 5.0)  # around the path's guess (sacral slopes reach 30-50 degrees)
PLANE_SHIFT_MM = np.arange(-6.0, 6.1, 1.5)
PLANE_SIDE_MM = 6.0  # the endplates either side, which the disc's plane is darkest against
PLANE_RADIUS_MM = 12.0  # inside the body's cross-section: the canal and the fat around stay out


def _basis(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to ``normal`` and to each other, the first in the sagittal plane."""
    u = np.cross(normal, [1.0, 0.0, 0.0])
    u = u / max(float(np.linalg.norm(u)), 1e-6)
    return u, np.cross(normal, u)


def fit_plane(hu: np.ndarray, vol: Volume, centre: np.ndarray, guess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The disk of ``PLANE_RADIUS_MM`` near a disc that is darkest against the parallel disks
    ``PLANE_SIDE_MM`` either side (mean HU clipped to soft tissue and cancellous bone): the disc's own
    plane, tilted and shifted from ``guess`` within the ranges above. The contrast, not the darkness
    alone, picks the plane: many tilts of a disk fit inside a thick disc, but only its own plane has
    bone on both sides all round."""
    u, v = _basis(guess)
    step = float(vol.spacing.min())
    grid = np.arange(-PLANE_RADIUS_MM, PLANE_RADIUS_MM + 1e-6, step)
    a, b = np.meshgrid(grid, grid, indexing="ij")
    keep = a**2 + b**2 <= PLANE_RADIUS_MM**2
    a, b = a[keep], b[keep]
    clipped = np.clip(hu, -50.0, 400.0)

    def mean(pts: np.ndarray) -> float:
        return float(ndimage.map_coordinates(clipped, vol.ras_to_kji(pts).T, order=1, mode="nearest").mean())

    best = (np.inf, centre, guess)
    for ta in np.tan(np.radians(PLANE_TILT_DEG)):
        for tb in np.tan(np.radians(PLANE_TILT_DEG)):
            n = guess + ta * u + tb * v
            n = n / np.linalg.norm(n)
            p, q = _basis(n)
            disk = a[:, None] * p + b[:, None] * q
            for shift in PLANE_SHIFT_MM:
                value = mean(centre + shift * n + disk)
                value -= 0.5 * (mean(centre + (shift + PLANE_SIDE_MM) * n + disk)
                                + mean(centre + (shift - PLANE_SIDE_MM) * n + disk))
                if value < best[0]:
                    best = (value, centre + shift * n, n)
    return best[1], best[2]


def fit_planes(column: Column, vol: Volume, hu: np.ndarray) -> Column:
    """``column`` with each disc's plane fitted to the image (:func:`fit_plane`) from the path's guess."""
    column.planes = [fit_plane(hu, vol, c, n) for c, n in path_planes(column, vol)]
    return column


def disc_planes(column: Column, vol: Volume) -> list[tuple[np.ndarray, np.ndarray]]:
    """(centre, unit normal) in RAS of each disc: fitted to the image when :func:`fit_planes` ran, so that
    a steep, wedge-shaped disc (L5/S1 over the sacral slope) is cut along its plane; else the path's guess."""
    return column.planes if column.planes is not None else path_planes(column, vol)


def disc_mask(column: Column, vol: Volume, hu: np.ndarray, below_hu: float = DISC_HU) -> np.ndarray:
    """Voxels of the discs: within ``DISC_HALF_MM`` of a disc plane and ``DISC_RADIUS_MM`` of its centre,
    darker than ``below_hu`` (the endplates either side stay bone)."""
    shape = hu.shape
    out = np.zeros(shape, bool)
    for centre, normal in disc_planes(column, vol):
        k0 = vol.ras_to_kji(centre)[0]
        reach = int(np.ceil((DISC_RADIUS_MM + DISC_HALF_MM) / vol.spacing[0]))
        lo, hi = max(int(k0) - reach, 0), min(int(k0) + reach + 1, shape[0])
        kji = np.stack(np.meshgrid(np.arange(lo, hi), np.arange(shape[1]), np.arange(shape[2]), indexing="ij"), -1)
        rel = vol.kji_to_ras(kji.astype(float)) - centre
        along = rel @ normal
        radial = np.linalg.norm(rel - along[..., None] * normal, axis=-1)
        out[lo:hi] |= (np.abs(along) <= DISC_HALF_MM) & (radial <= DISC_RADIUS_MM) & (hu[lo:hi] < below_hu)
    return out
