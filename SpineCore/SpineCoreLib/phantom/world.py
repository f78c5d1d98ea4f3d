"""A world (CT or MR) of one phantom case: vertebra poses, soft-tissue layout and texture.

Everything a renderer needs to classify any physical point of that world lives here; the
two worlds of a case share the anatomy and differ only in poses and the global placement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from SpineCoreLib.levels import LEVEL_IDS, region

from .shapes import VertebraGeometry
from .transforms import apply, invert_rigid

TABLE_STEP = 0.5  # mm between rows of the soft-tissue table along the anatomy z axis

SOFT_FIELDS = (
    "cx", "cy", "canal_x", "canal_y", "canal_a", "canal_b", "cord", "skin_post", "trunk_a", "trunk_b",
    "fat", "musc_x", "musc_y", "musc_a", "musc_b", "psoas_x", "psoas_r", "lung_x", "lung_y", "lung_a",
    "lung_b", "wall_y",
)


@dataclass
class CaseSoftTissue:
    """Per-case soft-tissue sizes (mm) that do not depend on the world."""

    skin_post_lumbar: float
    fat: float
    trunk_scale: float

    @classmethod
    def sample(cls, rng: np.random.Generator) -> CaseSoftTissue:
        return cls(float(rng.uniform(100, 120)), float(rng.uniform(10, 25)), float(rng.uniform(0.9, 1.1)))


def _vertebra_soft_row(geo: VertebraGeometry, pose: np.ndarray, soft: CaseSoftTissue, cord: bool) -> dict:
    s = geo.shape
    reg = region(s.level)
    canal = apply(pose, np.array([0.0, s.canal_y, 0.0]))
    c = pose[:3, 3]
    k = soft.trunk_scale
    skin = {"cervical": 0.55, "thoracic": 0.8, "lumbar": 1.0, "sacral": 1.0}[reg] * soft.skin_post_lumbar
    trunk_a = {"cervical": 60.0, "thoracic": 165.0, "lumbar": 155.0, "sacral": 170.0}[reg] * k
    trunk_b = {"cervical": 55.0, "thoracic": 110.0, "lumbar": 110.0, "sacral": 110.0}[reg] * k
    # (centre offset from the midline, half width, half depth): erector spinae and multifidus
    # meet at the midline around the spinous processes
    musc = {"cervical": (12, 18, 20), "thoracic": (18, 28, 28), "lumbar": (22, 32, 36), "sacral": (18, 28, 24)}[reg]
    lumbar_n = int(s.level[1:]) if reg == "lumbar" else 0
    psoas_r = 6.0 + 3.0 * lumbar_n if reg == "lumbar" else (20.0 if reg == "sacral" else 0.0)
    lung = reg == "thoracic" and s.level not in ("T1",)
    return {
        "cx": c[0], "cy": c[1], "canal_x": canal[0], "canal_y": canal[1],
        "canal_a": s.canal_w / 2, "canal_b": s.canal_d / 2, "cord": 1.0 if cord else 0.0,
        "skin_post": skin, "trunk_a": trunk_a, "trunk_b": trunk_b,
        "fat": soft.fat * (0.5 if reg == "cervical" else 1.0),
        "musc_x": musc[0], "musc_y": s.canal_y - musc[2] * 0.75, "musc_a": musc[1], "musc_b": musc[2],
        "psoas_x": s.body_w / 2 + psoas_r * 0.8, "psoas_r": psoas_r,
        "lung_x": s.body_w / 2 + 50.0, "lung_y": 25.0,  # lungs shrink in place where they end
        "lung_a": 45.0 if lung else 0.0, "lung_b": 65.0 if lung else 0.0,
        "wall_y": -s.body_d / 2,
    }


@dataclass
class World:
    """One world of a case: anatomy -> world transform, vertebra poses (local -> anatomy)."""

    name: str
    anatomy_to_world: np.ndarray
    geometries: list[VertebraGeometry]
    poses: list[np.ndarray]
    soft: CaseSoftTissue
    texture_offsets: np.ndarray  # (n_vertebrae, 3) offset into the shared texture lattice
    table_z0: float = 0.0
    table: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        levels = [g.shape.level for g in self.geometries]
        conus = LEVEL_IDS["L1"]  # the cord ends at L1-L2 (conus medullaris)
        rows = [
            _vertebra_soft_row(g, p, self.soft, cord=LEVEL_IDS[lv] <= conus or lv in ("T13",))
            for g, p, lv in zip(self.geometries, self.poses, levels, strict=True)
        ]
        zc = np.array([p[2, 3] for p in self.poses])
        order = np.argsort(zc)
        zs = zc[order]
        lo, hi = zs[0] - 200.0, zs[-1] + 200.0
        self.table_z0 = float(lo)
        zgrid = np.arange(lo, hi + TABLE_STEP, TABLE_STEP)
        for f in SOFT_FIELDS:
            vals = np.array([rows[i][f] for i in order], dtype=float)
            self.table[f] = np.interp(zgrid, zs, vals).astype(np.float32)
        # the cord stops half-way down the L1-L2 disc rather than fading out
        self.table["cord"] = (self.table["cord"] > 0.5).astype(np.float32)
        self.world_to_anatomy = invert_rigid(self.anatomy_to_world)

    @property
    def levels(self) -> list[str]:
        return [g.shape.level for g in self.geometries]

    def vertebra_to_world(self, index: int) -> np.ndarray:
        """Local -> world 4x4 pose of vertebra ``index``."""
        return self.anatomy_to_world @ self.poses[index]

    def named_points(self) -> dict[str, np.ndarray]:
        """World RAS of every vertebra's named points, keyed ``<level>-<kind>``."""
        out = {}
        for i, g in enumerate(self.geometries):
            m = self.vertebra_to_world(i)
            for kind, p in g.points.items():
                out[f"{g.shape.level}-{kind}"] = apply(m, p)
        return out
