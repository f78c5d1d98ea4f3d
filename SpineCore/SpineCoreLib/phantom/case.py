"""One paired phantom case: sample the anatomy, place it in the CT and MR worlds, render, write.

The MR world differs from the CT world by a global rigid motion and, optionally, by
per-vertebra changes (a change of lordosis plus small independent motions of each level), so
``truth.json`` holds both the global transform and one exact rigid transform per vertebra.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from SpineCoreLib.atomic_io import write_image, write_json
from SpineCoreLib.geometry import Grid, image_from_array
from SpineCoreLib.levels import HELD_OUT_KINDS, LANDMARK_KINDS, landmark_names
from SpineCoreLib.markups_io import Landmark, LandmarkSet, write_markups_json

from .acquisition import acquire_ct, acquire_mr, bias_field, block_mode
from .anatomy import (
    align_chain,
    build_chain,
    normalise_chain,
    rendered_levels,
    sample_curvature,
    sample_shape,
)
from .render import render, supersampled
from .shapes import vertebra_geometry
from .texture import LATTICE, make_texture
from .tissues import SEQUENCES, TissueValues
from .transforms import invert_rigid, rigid, rot_x, rot_y, rot_z
from .world import CaseSoftTissue, World

log = logging.getLogger(__name__)

CT_DIRECTION_RAS = ((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0))  # LPS identity, axial CT
# Sagittal MR: i runs posterior, j inferior, k to the right (one column per index axis).
MR_DIRECTION_RAS = ((0.0, 0.0, 1.0), (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0))
MR_SLICES = 15

FILES = {
    "mr_t1w": "mr_t1w.nii.gz",
    "mr_t2w": "mr_t2w.nii.gz",
    "mr_seg": "mr_seg.nii.gz",
    "mr_tissues": "mr_tissues.nii.gz",
    "ct": "ct.nii.gz",
    "ct_seg": "ct_seg.nii.gz",
    "mr_landmarks": "mr_landmarks.mrk.json",
    "ct_landmarks": "ct_landmarks.mrk.json",
    "ct_mrworld": "ct_mrworld.nii.gz",
    "ct_mrworld_seg": "ct_mrworld_seg.nii.gz",
    "truth": "truth.json",
}


WHOLE_SPINE = ["C1", "C2", "C3", "C4", "C5", "C6", "C7", *[f"T{n}" for n in range(1, 13)], "L1", "L2", "L3", "L4", "L5"]


@dataclass
class PhantomOptions:
    """What to generate; spacings in mm. MR spacing is (in-plane AP, in-plane SI, slice LR)."""

    levels: list[str] = field(default_factory=lambda: ["L1", "L2", "L3", "L4", "L5"])
    ct_spacing: float = 2.0
    mr_spacing: tuple[float, float, float] = (1.0, 1.0, 3.0)
    curvature_change: bool = True
    extra_contrasts: tuple[str, ...] = ()
    images: bool = True  # False: landmarks and truth.json only (fast, for registration studies)


@dataclass
class CaseLayout:
    """Sampled anatomy and the two worlds of one case."""

    ct: World
    mr: World
    values: TissueValues
    lattice: np.ndarray
    degenerated: list[bool]
    ct_to_mr: np.ndarray
    parameters: dict


def _factor(spacing: tuple[float, float, float]) -> tuple[int, int, int]:
    """Sub-voxels per axis so that rendering happens at 1 mm or finer."""
    return tuple(max(1, math.ceil(s / 1.0 - 1e-6)) for s in spacing)


def sample_layout(rng: np.random.Generator, opts: PhantomOptions) -> CaseLayout:
    """Draw one case's anatomy, tissue values and the two worlds."""
    levels = rendered_levels(opts.levels)
    first, last = levels.index(opts.levels[0]), levels.index(opts.levels[-1])
    shapes = [sample_shape(lv, rng) for lv in levels]
    geos = [vertebra_geometry(s) for s in shapes]
    n = len(shapes)
    curv = sample_curvature(rng)
    coronal = np.cumsum(rng.normal(0, 0.7, n))
    coronal -= coronal.mean()
    axial = rng.uniform(-3, 3, n)
    ct_poses = normalise_chain(build_chain(shapes, curv, np.zeros(n - 1), coronal, axial), first, last)

    change = {"lordosis_change_deg": 0.0}
    if opts.curvature_change:
        delta = float(rng.uniform(5, 10))
        extra = -delta * np.ones(n - 1) / max(n - 1, 1)
        mr_poses = build_chain(shapes, curv, extra, coronal, axial)
        perturbed = []
        for p in mr_poses:
            r = rot_x(np.radians(rng.normal(0, 2))) @ rot_y(np.radians(rng.normal(0, 2))) @ rot_z(np.radians(rng.normal(0, 2)))
            perturbed.append(p @ rigid(r, rng.normal(0, 1.0, 3)))
        mr_poses = align_chain(perturbed, ct_poses, shapes)
        change = {"lordosis_change_deg": delta, "per_level_rotation_sd_deg": 2.0, "per_level_translation_sd_mm": 1.0}
    else:
        mr_poses = [p.copy() for p in ct_poses]

    t_ct = rigid(np.eye(3), rng.uniform(-30, 30, 3))
    sign = rng.choice([-1.0, 1.0])
    g_rot = rot_x(np.radians(sign * rng.uniform(5, 10))) @ rot_y(np.radians(rng.uniform(-3, 3))) @ rot_z(np.radians(rng.uniform(-3, 3)))
    g_dir = rng.normal(size=3)
    g = rigid(g_rot, g_dir / np.linalg.norm(g_dir) * rng.uniform(10, 20))
    soft = CaseSoftTissue.sample(rng)
    offsets = rng.uniform(0, LATTICE, (n, 3))
    ct = World("ct", t_ct, geos, ct_poses, soft, offsets)
    mr = World("mr", g, geos, mr_poses, soft, offsets)
    values = TissueValues.sample(rng)
    lattice = make_texture(rng)
    degenerated = [bool(rng.uniform() < 0.2) for _ in range(n - 1)]
    params = {
        "rendered_levels": levels,
        "curvature_deg": curv,
        "curvature_change": change,
        "shapes": {s.level: s.to_json() for s in shapes},
        "soft_tissue": {"skin_post_lumbar_mm": soft.skin_post_lumbar, "fat_mm": soft.fat, "trunk_scale": soft.trunk_scale},
        "degenerated_discs": [f"{levels[i]}-{levels[i + 1]}" for i, d in enumerate(degenerated) if d],
        "tissues": values.to_json(),
    }
    return CaseLayout(ct, mr, values, lattice, degenerated, g @ invert_rigid(t_ct), params)


def _box_grid(centre: np.ndarray, extent: np.ndarray, spacing: np.ndarray, direction: tuple) -> Grid:
    """Grid of the given spacing (i, j, k) covering a box of ``extent`` (i, j, k) mm around ``centre``."""
    size = np.maximum(np.ceil(extent / spacing - 1e-6).astype(int), 1)
    d = np.array(direction, dtype=float)
    origin = centre - d @ ((size - 1) * spacing / 2.0)
    return Grid(tuple(int(s) for s in size), tuple(float(s) for s in spacing), tuple(float(v) for v in origin), direction)


def case_grids(layout: CaseLayout, opts: PhantomOptions, rng: np.random.Generator) -> dict[str, Grid]:
    """CT grid (axial, whole trunk width), MR grid (sagittal slab) and the isotropic CT grid over the MR FOV."""
    ct = layout.ct
    # cover every requested vertebral body and spinous process (thoracic ones reach far down)
    z_top, z_bot, y_spin = -np.inf, np.inf, 0.0
    for lv in opts.levels:
        i = ct.levels.index(lv)
        geo, pose = ct.geometries[i], ct.poses[i]
        h = geo.shape.body_h / 2
        for p in (np.array([0.0, 0.0, h]), np.array([0.0, 0.0, -h])):
            z = (pose[:3, :3] @ p + pose[:3, 3])[2]
            z_top, z_bot = max(z_top, z), min(z_bot, z)
        sp = pose[:3, :3] @ geo.points["spinous"] + pose[:3, 3]
        z_top = max(z_top, sp[2] + geo.shape.spinous_half_h)
        z_bot = min(z_bot, sp[2] - geo.shape.spinous_half_h - 6.0)
        y_spin = min(y_spin, sp[1])
    z_top, z_bot = z_top + 15.0, z_bot - 15.0
    skin = float(layout.ct.table["skin_post"].max())
    y_post, y_ant = min(-skin, y_spin - 20.0) - 12.0, 85.0
    centre_anat = np.array([0.0, (y_post + y_ant) / 2, (z_top + z_bot) / 2])
    ext_ras = np.array([180.0, y_ant - y_post, z_top - z_bot])  # R, A, S extents

    ct_centre = layout.ct.anatomy_to_world[:3, :3] @ centre_anat + layout.ct.anatomy_to_world[:3, 3]
    ct_sp = np.full(3, opts.ct_spacing)
    grids = {"ct": _box_grid(ct_centre, ext_ras, ct_sp, CT_DIRECTION_RAS)}

    mr_centre = layout.mr.anatomy_to_world @ np.append(centre_anat, 1.0)
    mr_centre = mr_centre[:3] + np.array([rng.uniform(-3, 3), rng.uniform(-5, 5), rng.uniform(-5, 5)])
    mr_sp = np.array(opts.mr_spacing, dtype=float)
    mr_ext = np.array([ext_ras[1], ext_ras[2], MR_SLICES * mr_sp[2]])  # i: AP, j: SI, k: LR
    grids["mr"] = _box_grid(mr_centre, mr_ext, mr_sp, MR_DIRECTION_RAS)
    grids["ct_mrworld"] = _box_grid(mr_centre, mr_ext, ct_sp, MR_DIRECTION_RAS)
    return grids


def _landmark_set(world: World, levels: list[str], name: str) -> LandmarkSet:
    pts = world.named_points()
    return LandmarkSet([Landmark(lbl, pts[lbl]) for lbl in landmark_names(levels, LANDMARK_KINDS)], name=name)


def _matrix(m: np.ndarray) -> list[list[float]]:
    return [[float(v) for v in row] for row in m]


def _write_images(layout: CaseLayout, grids: dict[str, Grid], opts: PhantomOptions, paths: dict[str, Path],
                  case_dir: Path, rng: np.random.Generator) -> float:
    """Render both worlds and write the CT, the CT in the MR world, the MR contrasts and labels.

    Returns the MR noise level (fraction of the tissue maximum).
    """

    def save(arr: np.ndarray, grid: Grid, key: str) -> None:
        write_image(image_from_array(arr, grid), paths[key])

    # CT world
    f_ct = _factor(grids["ct"].spacing)
    r = render(layout.ct, supersampled(grids["ct"], f_ct), layout.lattice, layout.degenerated)
    save(acquire_ct(r, f_ct, layout.values, rng), grids["ct"], "ct")
    save(block_mode(r.label, f_ct), grids["ct"], "ct_seg")
    del r

    # MR world: the CT rendered in it, then the MR contrasts
    f_cm = _factor(grids["ct_mrworld"].spacing)
    r = render(layout.mr, supersampled(grids["ct_mrworld"], f_cm), layout.lattice, layout.degenerated)
    save(acquire_ct(r, f_cm, layout.values, rng), grids["ct_mrworld"], "ct_mrworld")
    save(block_mode(r.label, f_cm), grids["ct_mrworld"], "ct_mrworld_seg")
    del r

    f_mr = _factor(grids["mr"].spacing)
    r = render(layout.mr, supersampled(grids["mr"], f_mr), layout.lattice, layout.degenerated)
    g_mr = layout.mr.anatomy_to_world
    skin = float(layout.mr.table["skin_post"].max())
    bias = bias_field(grids["mr"], g_mr[:3, :3] @ np.array([0, -skin, 0]) + g_mr[:3, 3], g_mr[:3, :3] @ np.array([0, 1.0, 0]), rng)
    noise = float(rng.uniform(0.02, 0.04))
    for name in ("t1w", "t2w", *opts.extra_contrasts):
        img = acquire_mr(r, f_mr, layout.values, SEQUENCES[name], bias, rng, noise)
        key = f"mr_{name}"
        path = paths.get(key, case_dir / f"{key}.nii.gz")
        paths[key] = path
        write_image(image_from_array(img, grids["mr"]), path)
    save(block_mode(r.label, f_mr), grids["mr"], "mr_seg")
    save(block_mode(r.tissue, f_mr), grids["mr"], "mr_tissues")
    return noise


BASE_BYTES, BYTES_PER_VOXEL = 400e6, 48.0  # measured: 270 MB over the interpreter for 1.8 M voxels, 29 B/voxel at 10 M


def estimate_case_bytes(opts: PhantomOptions) -> float:
    """Memory one case needs, from its grids (computed without rendering), with a 20 % margin for the
    layouts of other seeds: rendering starts at a fixed cost and then grows with the voxel count."""
    rng = np.random.default_rng(0)
    grids = case_grids(sample_layout(rng, opts), opts, rng)
    voxels = sum(float(np.prod(g.size, dtype=float)) for g in grids.values())
    return 1.2 * (BASE_BYTES + BYTES_PER_VOXEL * voxels)


def generate_case(out_dir: Path, subject: str, seed: int, opts: PhantomOptions) -> dict[str, Path]:
    """Render and write one case into ``out_dir/subject``; return its files by manifest column."""
    rng = np.random.default_rng(seed)
    layout = sample_layout(rng, opts)
    grids = case_grids(layout, opts, rng)
    case_dir = Path(out_dir) / subject
    case_dir.mkdir(parents=True, exist_ok=True)
    paths = {k: case_dir / v for k, v in FILES.items()}

    noise = None
    if opts.images:
        noise = _write_images(layout, grids, opts, paths, case_dir, rng)
    else:
        paths = {k: v for k, v in paths.items() if k in ("mr_landmarks", "ct_landmarks", "truth")}

    write_markups_json(paths["ct_landmarks"], _landmark_set(layout.ct, opts.levels, "ct_landmarks"))
    write_markups_json(paths["mr_landmarks"], _landmark_set(layout.mr, opts.levels, "mr_landmarks"))
    ct_pts, mr_pts = layout.ct.named_points(), layout.mr.named_points()
    held = landmark_names(opts.levels, HELD_OUT_KINDS)
    per_vertebra = {
        lv: _matrix(layout.mr.vertebra_to_world(i) @ invert_rigid(layout.ct.vertebra_to_world(i)))
        for i, lv in enumerate(layout.ct.levels)
        if lv in opts.levels
    }
    truth = {
        "subject": subject,
        "seed": seed,
        "coordinate_system": "RAS",
        "units": "mm",
        "levels": opts.levels,
        "ct_to_mr_global": _matrix(layout.ct_to_mr),
        "ct_to_mr_global_exact": not opts.curvature_change,
        "ct_to_mr_per_vertebra": per_vertebra,
        "landmarks": {
            "ct": {k: [float(v) for v in ct_pts[k]] for k in landmark_names(opts.levels)},
            "mr": {k: [float(v) for v in mr_pts[k]] for k in landmark_names(opts.levels)},
        },
        "held_out": {
            "ct": {k: [float(v) for v in ct_pts[k]] for k in held},
            "mr": {k: [float(v) for v in mr_pts[k]] for k in held},
        },
        "grids": {k: {"size": g.size, "spacing": g.spacing} for k, g in grids.items()},
        "mr_noise_fraction": noise,
        "parameters": layout.parameters,
    }
    write_json(paths["truth"], truth)
    log.info("phantom case %s written to %s", subject, case_dir)
    return paths
