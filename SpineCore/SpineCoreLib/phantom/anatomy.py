"""Randomised spine anatomy: per-vertebra dimensions and the sagittal chain of poses.

Each vertebra has a local frame (x right, y anterior, z superior, origin at the vertebral body
centre). A pose maps local points to the anatomy frame. Dimensions and curvatures are drawn
from the textbook ranges in ``shared/notes/data-and-phantom.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from SpineCoreLib.levels import ordered_levels, region

from .transforms import kabsch, rigid, rot_x, rot_y, rot_z, rotation


@dataclass
class VertebraShape:
    """Dimensions of one vertebra in mm (local frame), and its posterior-element geometry."""

    level: str
    body_w: float  # left-right
    body_d: float  # antero-posterior
    body_h: float  # cranio-caudal
    disc_below: float
    canal_w: float
    canal_d: float
    pedicle_w: float
    lamina_t: float
    spinous_len: float
    spinous_angle_deg: float  # caudal tilt of the spinous process
    spinous_half_t: float  # left-right half thickness
    spinous_half_h: float  # cranio-caudal half height
    transverse_len: float
    shell_body: float
    shell_post: float

    @property
    def canal_y(self) -> float:
        """Local y of the canal centre (behind the posterior body wall)."""
        return -(self.body_d / 2 + self.canal_d / 2 + 1.0)

    def to_json(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


# (low, high) per region: body W, D, H, disc, canal W, canal D, pedicle W, spinous length,
# spinous tilt, spinous half height, transverse process length.
_RANGES = {
    "cervical": dict(w=(15, 20), d=(14, 16), h=(13, 15), disc=(4, 6), cw=(22, 25), cd=(13, 15), pw=(5, 6),
                     sl=(10, 25), sa=(10, 30), sh=(3.5, 4.5), tp=(6, 10)),
    "thoracic": dict(w=(25, 40), d=(20, 30), h=(18, 23), disc=(4, 6), cw=(15, 18), cd=(14, 16), pw=(5, 8),
                     sl=(35, 45), sa=(40, 60), sh=(4.0, 5.5), tp=(15, 22)),
    "lumbar": dict(w=(40, 50), d=(30, 35), h=(25, 28), disc=(8, 12), cw=(20, 25), cd=(15, 18), pw=(8, 15),
                   sl=(25, 35), sa=(0, 10), sh=(7.0, 9.0), tp=(15, 25)),
    "sacral": dict(w=(45, 52), d=(32, 36), h=(28, 32), disc=(8, 12), cw=(20, 24), cd=(12, 15), pw=(10, 14),
                   sl=(8, 14), sa=(20, 40), sh=(5.0, 7.0), tp=(10, 15)),
}


def sample_shape(level: str, rng: np.random.Generator) -> VertebraShape:
    """Random dimensions for ``level`` within its region's ranges."""
    r = _RANGES[region(level)]

    def u(key: str) -> float:
        return float(rng.uniform(*r[key]))

    body_w, body_d, body_h = u("w"), u("d"), u("h")
    canal_d = u("cd")
    spinous_len = u("sl")
    spinous_angle = u("sa")
    # the thoraco-lumbar transition: spinous processes turn horizontal gradually, so a steep one
    # never runs into the flatter one below it
    transition = {"T10": ((40, 50), None), "T11": ((25, 35), (30, 36)), "T12": ((10, 20), (28, 34)),
                  "T13": ((10, 20), (28, 34))}
    if level in transition:
        angles, lengths = transition[level]
        spinous_angle = float(rng.uniform(*angles))
        if lengths:
            spinous_len = float(rng.uniform(*lengths))
    if region(level) == "lumbar":
        # tip 70-80 mm behind the body centre (notes), whatever the body and canal depth
        base = body_d / 2 + canal_d + 4.0
        spinous_len = float(rng.uniform(70, 80)) - base
    return VertebraShape(
        level=level,
        body_w=body_w,
        body_d=body_d,
        body_h=body_h,
        disc_below=u("disc"),
        canal_w=u("cw"),
        canal_d=canal_d,
        pedicle_w=u("pw"),
        lamina_t=float(rng.uniform(5.0, 7.0)),
        spinous_len=spinous_len,
        spinous_angle_deg=spinous_angle,
        spinous_half_t=float(rng.uniform(3.5, 4.5)),
        spinous_half_h=u("sh"),
        transverse_len=u("tp"),
        shell_body=float(rng.uniform(0.8, 1.3)),
        shell_post=float(rng.uniform(1.5, 2.2)),
    )


def rendered_levels(levels: list[str]) -> list[str]:
    """The requested levels plus one neighbour on each side, where one exists."""
    order = ordered_levels(include_variants=any(lv in ("T13", "L6") for lv in levels))
    a, b = order.index(levels[0]), order.index(levels[-1])
    return order[max(a - 1, 0) : min(b + 2, len(order))]


def segment_angle_deg(upper: str, lower: str, curv: dict[str, float]) -> float:
    """Sagittal angle of the motion segment between ``upper`` and ``lower`` (positive = kyphotic).

    ``curv`` holds the case's total lordosis/kyphosis; segments share it as in adults (lumbar
    lordosis grows caudally, thoracic kyphosis spreads over T4-T12).
    """
    lumbar_weights = {"L1": 0.10, "L2": 0.15, "L3": 0.20, "L4": 0.25, "L5": 0.30, "L6": 0.30, "T12": 0.0}
    reg = region(upper)
    if reg == "lumbar" or upper == "T12":
        return -curv["lordosis"] * lumbar_weights.get(upper, 0.2)
    if reg == "thoracic":
        n = int(upper[1:])
        return curv["kyphosis"] / 8.0 if 4 <= n <= 11 else curv["kyphosis"] / 40.0
    if reg == "cervical":
        return -curv["cervical"] / 5.0 if upper != "C1" else 0.0
    return 0.0


def sample_curvature(rng: np.random.Generator) -> dict[str, float]:
    """Total lordosis (L1-S1), kyphosis (T4-T12) and cervical lordosis in degrees."""
    return {
        "lordosis": float(rng.uniform(40, 60)),
        "kyphosis": float(rng.uniform(20, 50)),
        "cervical": float(rng.uniform(15, 35)),
    }


def build_chain(
    shapes: list[VertebraShape],
    curv: dict[str, float],
    extra_deg: np.ndarray,
    coronal_deg: np.ndarray,
    axial_deg: np.ndarray,
) -> list[np.ndarray]:
    """Poses (local -> anatomy 4x4) of a chain of vertebrae, cranial first.

    Walks caudally endplate to endplate; ``extra_deg`` adds to each segment's sagittal angle
    (length len(shapes)-1), ``coronal_deg``/``axial_deg`` rotate each vertebra about its own
    anterior-posterior and cranio-caudal axes.
    """
    poses: list[np.ndarray] = []
    phi = 0.0  # sagittal tilt of the current vertebra, degrees
    centre = np.zeros(3)
    for i, s in enumerate(shapes):
        seg = 0.0
        if i > 0:
            seg = segment_angle_deg(shapes[i - 1].level, s.level, curv) + float(extra_deg[i - 1])
            phi += seg
        r = rot_x(np.radians(phi)) @ rot_y(np.radians(coronal_deg[i])) @ rot_z(np.radians(axial_deg[i]))
        if i > 0:
            prev, rp = shapes[i - 1], poses[i - 1][:3, :3]
            inferior = poses[i - 1][:3, 3] + rp @ np.array([0, 0, -prev.body_h / 2])
            mid = rot_x(np.radians(phi - seg / 2)) @ np.array([0.0, 0.0, -1.0])  # disc axis: halfway
            centre = inferior + prev.disc_below * mid - r @ np.array([0, 0, s.body_h / 2])
        poses.append(rigid(r, centre))
    return poses


def normalise_chain(poses: list[np.ndarray], first: int, last: int) -> list[np.ndarray]:
    """Re-place a chain so the requested levels' mid-point is the origin and their axis is vertical."""
    top, bottom = poses[first][:3, 3], poses[last][:3, 3]
    axis = top - bottom
    if np.linalg.norm(axis) < 1e-9:  # a single level: use its own cranio-caudal axis
        axis = poses[first][:3, 2].copy()
    axis /= np.linalg.norm(axis)
    z = np.array([0.0, 0.0, 1.0])
    v = np.cross(axis, z)
    if np.linalg.norm(v) < 1e-12:
        r = np.eye(3)
    else:
        r = rotation(v, np.arccos(np.clip(axis @ z, -1, 1)))
    m = rigid(r, -(r @ ((top + bottom) / 2)))
    return [m @ p for p in poses]


def align_chain(moving: list[np.ndarray], fixed: list[np.ndarray], shapes: list[VertebraShape]) -> list[np.ndarray]:
    """Rigidly align ``moving`` poses onto ``fixed`` by their body centres and spinous bases.

    Used so that the MR world's curvature change carries no global motion of its own: the global
    part lives in the separate global rigid transform.
    """
    def pts(poses: list[np.ndarray]) -> np.ndarray:
        out = []
        for p, s in zip(poses, shapes, strict=True):
            out.append(p[:3, 3])
            out.append(p[:3, :3] @ np.array([0.0, s.canal_y * 2, 0.0]) + p[:3, 3])
        return np.array(out)

    m = kabsch(pts(moving), pts(fixed))
    return [m @ p for p in moving]
