"""Classify every point of a voxel grid into a tissue class and a label, in one world.

Order of painting: soft tissue and the canal everywhere (from a per-z table that follows the
spine curve), then discs between adjacent vertebrae, then bone, each vertebra only inside
its own bounding box. Bone carries the trabecular texture value used by the acquisitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from SpineCoreLib.geometry import Grid
from SpineCoreLib.levels import CANAL_LABEL, CORD_LABEL, DISC_OFFSET, LEVEL_IDS

from .shapes import vertebra_sdf
from .texture import sample_texture
from .tissues import Tissue
from .transforms import apply, invert_rigid
from .world import TABLE_STEP, World

F = np.float32
SLAB = 16  # fine slices per chunk of the soft-tissue pass


@dataclass
class Rendered:
    """Tissue class, label, bone partial volume and trabecular texture on one grid, arrays [k, j, i].

    Bone surfaces are anti-aliased: ``cortical`` and ``cancellous`` hold the fraction of each
    sub-voxel in that bone compartment (a box filter of the signed distance over one voxel),
    and ``under`` the soft tissue or disc the rest of it holds. ``tissue`` is the majority class.
    """

    grid: Grid
    tissue: np.ndarray  # uint8
    label: np.ndarray  # uint16
    texture: np.ndarray  # float32, trabecular texture (unit std) inside bone, else 0
    under: np.ndarray  # uint8, tissue class before bone was painted
    cortical: np.ndarray  # float32 fraction
    cancellous: np.ndarray  # float32 fraction

    def mix(self, per_tissue: np.ndarray, cancellous_value: np.ndarray) -> np.ndarray:
        """Voxel values from one value per tissue class, with bone fractions blended in.

        ``cancellous_value`` is an array (texture already applied) or a scalar.
        """
        v = np.asarray(per_tissue, dtype=np.float32)
        bone = self.cortical + self.cancellous
        return (1.0 - bone) * v[self.under] + self.cortical * v[Tissue.CORTICAL] + self.cancellous * cancellous_value


def supersampled(grid: Grid, factor: tuple[int, int, int]) -> Grid:
    """The grid whose ``factor`` (i, j, k) sub-voxels tile each voxel of ``grid``."""
    f = np.array(factor, dtype=float)
    sp = np.array(grid.spacing) / f
    shift = (np.array(grid.spacing) - sp) / 2.0
    origin = np.array(grid.origin) - grid.direction_matrix @ shift
    return Grid(
        size=tuple(int(s * k) for s, k in zip(grid.size, factor, strict=True)),
        spacing=tuple(float(v) for v in sp),
        origin=tuple(float(v) for v in origin),
        direction=grid.direction,
    )


def _anatomy_coords(world: World, grid: Grid, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, ...]:
    """Anatomy-frame x, y, z (float32, shape [k, j, i]) of the index box [lo, hi) (i, j, k)."""
    m = world.world_to_anatomy @ grid.ijk_to_ras
    ii = np.arange(lo[0], hi[0], dtype=F)
    jj = np.arange(lo[1], hi[1], dtype=F)
    kk = np.arange(lo[2], hi[2], dtype=F)
    out = []
    for row in range(3):
        out.append(
            F(m[row, 3])
            + kk[:, None, None] * F(m[row, 2])
            + jj[None, :, None] * F(m[row, 1])
            + ii[None, None, :] * F(m[row, 0])
        )
    return tuple(out)


def _soft_tissue(world: World, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = world.table
    n = len(t["cx"])
    zi = np.clip(((z - F(world.table_z0)) * F(1.0 / TABLE_STEP)).astype(np.int32), 0, n - 1)

    def col(name: str) -> np.ndarray:
        return t[name][zi]

    dx = x - col("cx")
    dy = y - col("cy")
    tb = col("trunk_b")
    ty = dy + col("skin_post") - tb
    rt = np.sqrt((dx / col("trunk_a")) ** 2 + (ty / tb) ** 2)
    depth = (1.0 - rt) * tb  # depth below the skin, mm (AP scale)
    tissue = np.zeros(x.shape, dtype=np.uint8)
    label = np.zeros(x.shape, dtype=np.uint16)
    inside = rt <= 1.0
    tissue[inside] = Tissue.SKIN
    tissue[inside & (depth >= 2.0)] = Tissue.FAT
    core = inside & (depth >= 2.0 + col("fat"))
    adx = np.abs(dx)
    anterior = dy > col("wall_y")
    tissue[core & anterior] = Tissue.VISCERA
    musc = ((adx - col("musc_x")) / col("musc_a")) ** 2 + ((dy - col("musc_y")) / col("musc_b")) ** 2 <= 1.0
    tissue[core & ~anterior & musc] = Tissue.MUSCLE
    pr = col("psoas_r")
    psoas = (pr > 0) & (((adx - col("psoas_x")) ** 2 + (dy * F(1.1)) ** 2) <= pr * pr)
    tissue[core & psoas] = Tissue.MUSCLE
    la = col("lung_a")
    lung = (la > 0) & (((adx - col("lung_x")) / np.maximum(la, 1)) ** 2 + ((dy - col("lung_y")) / np.maximum(col("lung_b"), 1)) ** 2 <= 1.0)
    tissue[core & lung] = Tissue.LUNG
    cxr = x - col("canal_x")
    cyr = y - col("canal_y")
    canal = (cxr / col("canal_a")) ** 2 + (cyr / col("canal_b")) ** 2 <= 1.0
    tissue[canal] = Tissue.CSF
    label[canal] = CANAL_LABEL
    cord = canal & (col("cord") > 0.5) & ((cxr / F(5.0)) ** 2 + ((cyr - F(1.0)) / F(4.0)) ** 2 <= 1.0)
    tissue[cord] = Tissue.CORD
    label[cord] = CORD_LABEL
    return tissue, label


def _index_box(world: World, grid: Grid, local_to_anatomy: np.ndarray, extent: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Index range [lo, hi) of ``grid`` covering a local bounding box, or None if outside."""
    corners = np.array([[extent[0, a], extent[1, b], extent[2, c]] for a in (0, 1) for b in (0, 1) for c in (0, 1)])
    world_pts = apply(world.anatomy_to_world @ local_to_anatomy, corners)
    idx = grid.ras_to_index(world_pts)
    lo = np.maximum(np.floor(idx.min(axis=0)).astype(int), 0)
    hi = np.minimum(np.ceil(idx.max(axis=0)).astype(int) + 1, np.array(grid.size))
    if np.any(hi <= lo):
        return None
    return lo, hi


def _local(world: World, grid: Grid, pose: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, ...]:
    x, y, z = _anatomy_coords(world, grid, lo, hi)
    inv = invert_rigid(pose)
    r, t = inv[:3, :3].astype(F), inv[:3, 3].astype(F)
    return tuple(r[row, 0] * x + r[row, 1] * y + r[row, 2] * z + t[row] for row in range(3))


def _discs(world: World, grid: Grid, tissue: np.ndarray, label: np.ndarray, degenerated: list[bool]) -> None:
    geos, poses = world.geometries, world.poses
    for v in range(len(geos) - 1):
        su, sl = geos[v].shape, geos[v + 1].shape
        a = (su.body_w + sl.body_w) / 4 + 1.0
        b = (su.body_d + sl.body_d) / 4 + 1.0
        ext = np.array([[-a - 2, a + 2], [-b - 2, b + 2], [-su.body_h / 2 - su.disc_below - 8, -su.body_h / 2 + 2]])
        box = _index_box(world, grid, poses[v], ext)
        if box is None:
            continue
        lo, hi = box
        xu, yu, zu = _local(world, grid, poses[v], lo, hi)
        _, _, zl = _local(world, grid, poses[v + 1], lo, hi)
        rho2 = (xu / F(a)) ** 2 + (yu / F(b)) ** 2
        disc = (zu < -su.body_h / 2) & (zl > sl.body_h / 2) & (rho2 <= 1.0)
        nucleus = disc & ((xu / F(0.65 * a)) ** 2 + ((yu + F(2.0)) / F(0.65 * b)) ** 2 <= 1.0)
        sub_t = tissue[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]
        sub_l = label[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]
        sub_t[disc] = Tissue.ANNULUS
        sub_t[nucleus] = Tissue.NUCLEUS_DEGENERATED if degenerated[v] else Tissue.NUCLEUS
        sub_l[disc] = DISC_OFFSET + LEVEL_IDS[su.level]


def _bones(world: World, grid: Grid, out: Rendered, lattice: np.ndarray) -> None:
    width = F(max(grid.spacing))  # anti-aliasing width: one sub-voxel
    for v, (geo, pose) in enumerate(zip(world.geometries, world.poses, strict=True)):
        box = _index_box(world, grid, pose, geo.extent)
        if box is None:
            continue
        lo, hi = box
        x, y, z = _local(world, grid, pose, lo, hi)
        sd, shell = vertebra_sdf(geo, x, y, z)
        frac_bone = np.clip(F(0.5) - sd / width, 0, 1)
        touched = frac_bone > 0
        frac_core = np.clip(F(0.5) - (sd + shell) / width, 0, 1)
        bone = sd < 0
        cortical = bone & (sd > -shell)
        cancellous = bone & ~cortical
        sl = (slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0]))
        out.tissue[sl][cortical] = Tissue.CORTICAL
        out.tissue[sl][cancellous] = Tissue.CANCELLOUS
        out.label[sl][bone] = LEVEL_IDS[geo.shape.level]
        out.cortical[sl][touched] = (frac_bone - frac_core)[touched]
        out.cancellous[sl][touched] = frac_core[touched]
        out.texture[sl][touched] = sample_texture(lattice, x[touched], y[touched], z[touched], world.texture_offsets[v])


def render(world: World, grid: Grid, lattice: np.ndarray, degenerated: list[bool]) -> Rendered:
    """Tissue class, label and texture of every voxel centre of ``grid`` in ``world``."""
    shape = grid.array_shape
    tissue = np.zeros(shape, dtype=np.uint8)
    label = np.zeros(shape, dtype=np.uint16)
    texture = np.zeros(shape, dtype=np.float32)
    nk = grid.size[2]
    for k0 in range(0, nk, SLAB):
        k1 = min(k0 + SLAB, nk)
        lo = np.array([0, 0, k0])
        hi = np.array([grid.size[0], grid.size[1], k1])
        x, y, z = _anatomy_coords(world, grid, lo, hi)
        tissue[k0:k1], label[k0:k1] = _soft_tissue(world, x, y, z)
    _discs(world, grid, tissue, label, degenerated)
    out = Rendered(grid, tissue, label, texture, tissue.copy(), np.zeros(shape, np.float32), np.zeros(shape, np.float32))
    _bones(world, grid, out, lattice)
    return out
