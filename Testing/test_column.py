"""The spine column on tiny shapes: disc choice, segments, and the path through stacked bodies that ignores
a thick blob off the midline."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.levels import LEVEL_IDS
from SpineCoreLib.segmentation.bone import fill_to_canal
from SpineCoreLib.segmentation.column import (
    Column,
    choose_discs,
    column_markers,
    find_column,
    fit_plane,
    limit_sacrum,
)
from SpineCoreLib.segmentation.volume import Volume


def test_discs_are_the_strongest_minima_a_body_height_apart():
    k = np.arange(20)
    scores = np.zeros(20)
    scores[[3, 6, 12, 19]] = [0.9, 0.5, 1.0, 0.3]  # 6 and 19 are too close (18 and 21 mm) to a stronger one
    assert choose_discs(k, scores, step_mm=3.0) == [3, 12]
    scores[:] = 0.1  # nothing disc-like enough
    assert choose_discs(k, scores, step_mm=3.0) == []


def test_segments_lie_between_discs_and_beyond_the_end_ones():
    col = Column(np.arange(30), np.zeros((30, 2)), [10, 20])
    assert col.segments() == [(0, 9), (11, 19), (21, 29)]
    np.testing.assert_allclose(col.centre_at(np.array([-5, 40])), np.zeros((2, 2)))


def test_the_column_goes_through_the_bodies_not_the_blob_beside_them():
    """Four "bodies" (bone cylinders of radius 15 mm, 24 mm tall, the top one cut by the edge) stacked
    with 6 mm gaps (discs), on a 2 mm grid in LPS order (k up the patient), and a thicker ball 60 mm
    to the side (a femoral head)."""
    shape, spacing = (50, 40, 80), 2.0
    k, j, i = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    r_body = np.hypot((j - 20) * spacing, (i - 30) * spacing)
    bodies = (r_body <= 15) & ((k * spacing) % 30 < 24) & (k > 1)
    head = np.sqrt(((k - 10) * spacing) ** 2 + ((j - 20) * spacing) ** 2 + ((i - 60) * spacing) ** 2) <= 22
    hu = np.where(bodies | head, 300.0, 20.0).astype(np.float32)
    image = sitk.GetImageFromArray(hu)
    image.SetSpacing((spacing,) * 3)
    vol = Volume.of(image)
    col = find_column(bodies | head, hu, vol)
    assert col is not None
    assert np.allclose(col.centre[:, 1], 30, atol=1.0) and np.allclose(col.centre[:, 0], 20, atol=1.0)
    gaps = [n for n in range(2, shape[0]) if (n * spacing) % 30 >= 24]  # slices of the 'discs'
    assert all(any(abs(d - g) <= 1 for g in gaps) for d in col.discs) and len(col.discs) == 3, col.discs


def test_a_tilted_disc_gets_its_own_plane_not_the_paths_guess():
    """A 6 mm dark slab (a disc, 80 HU) tilted 30 degrees forward between bone (250 HU), on a 1.5 mm grid:
    from a guess straight up the column, the fitted plane's normal lies within 5 degrees of the slab's
    and its centre within 1.5 mm of the slab's mid-plane."""
    shape, spacing = (40, 40, 40), 1.5
    image = sitk.GetImageFromArray(np.zeros(shape, np.float32))
    image.SetSpacing((spacing,) * 3)
    image.SetOrigin((-30.0, -30.0, -30.0))
    vol = Volume.of(image)
    kji = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1).reshape(-1, 3).astype(float)
    ras = vol.kji_to_ras(kji)
    tilt = np.radians(30.0)
    truth = np.array([0.0, np.sin(tilt), np.cos(tilt)])  # leaning anterior, as the L5/S1 disc
    hu = np.where(np.abs(ras @ truth) <= 3.0, 80.0, 250.0).reshape(shape).astype(np.float32)
    centre, normal = fit_plane(hu, vol, np.zeros(3), np.array([0.0, 0.0, 1.0]))
    assert np.degrees(np.arccos(abs(float(normal @ truth)))) < 5.0, normal
    assert abs(float(centre @ truth)) <= 1.5, centre


def _stacked_bodies_with_pelvis(discs: list[int]) -> tuple[Column, np.ndarray, Volume]:
    """Bone cylinders (radius 15 mm) between the given disc slices on a 2 mm grid, and a plate 160 mm wide
    (a pelvis) joined to the lowest body in slices 4-10."""
    shape, spacing = (40, 40, 80), 2.0
    k, j, i = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    bone = (np.hypot((j - 20) * spacing, (i - 40) * spacing) <= 15) & ~np.isin(k, discs)
    bone |= (k >= 4) & (k <= 10) & (np.abs(j - 20) <= 5)
    image = sitk.GetImageFromArray(np.where(bone, 300.0, 20.0).astype(np.float32))
    image.SetSpacing((spacing,) * 3)
    column = Column(np.arange(shape[0]), np.tile([20.0, 40.0], (shape[0], 1)), discs)
    return column, bone, Volume.of(image)


def test_the_sacrum_is_the_segment_below_the_lowest_disc_not_a_body_above_it():
    """A crop that ends just below the L5/S1 disc (a stub too short to be a segment): the lowest segment is
    then above that disc, and its bone reaching the pelvis does not make it the sacrum; it is the caller's
    caudal level. With the lowest segment below the lowest disc and joined to the pelvis, it is S1."""
    column, bone, vol = _stacked_bodies_with_pelvis([1, 14, 27])
    assert column.segments()[0] == (2, 13)
    _, names, anchor = column_markers(column, bone, bone, vol, "L5")
    assert names[0] == "L5" and anchor.startswith("L5"), (names, anchor)
    column, bone, vol = _stacked_bodies_with_pelvis([14, 27])
    _, names, anchor = column_markers(column, bone, bone, vol, "L5")
    assert names[0] == "S1" and names[1] == "L5" and "sacrum" in anchor, (names, anchor)


def test_a_bodys_open_back_is_filled_up_to_the_canal_and_no_further():
    """One axial slice (1 mm, +j posterior) of an osteoporotic body: a bright cortex (400 HU) around its
    front half only, marrow of 80 HU behind it (below any bone threshold, the back wall open), the canal
    (10 HU) behind the marrow, and muscle (50 HU) around. The marrow up to the canal is added (with the
    soft tissue between the body's wall and the canal's side, where a real spine has its pedicles);
    the canal, anything wider than it behind the body and the muscle beside the body are not; where
    nothing is dark within reach (no canal), nothing is added."""
    shape, spacing = (1, 100, 100), np.ones(3)
    _, j, i = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    r = np.hypot(j - 40, i - 50)
    hu = np.full(shape, 50.0)
    marrow = (r <= 15) & (j > 40)
    hu[marrow] = 80.0
    front = (r <= 15) & (j <= 40)
    hu[front] = 400.0
    canal = np.hypot(j - 63, i - 50) <= 8  # touching the body's back (j = 55)
    hu[canal] = 10.0
    arch = (np.hypot(j - 63, i - 50) > 8) & (np.hypot(j - 63, i - 50) <= 11) & (j > 65)
    hu[arch] = 400.0
    bone = front | arch
    out = fill_to_canal(bone, hu, {0: np.array([40.0, 50.0])}, spacing)
    towards_canal = marrow & ~canal & (np.abs(i - 50) <= np.tan(np.radians(12.0)) * (j - 40))
    assert towards_canal.sum() > 30 and out[towards_canal].all()  # the back of the body, in line with the canal
    assert not out[canal].any() and not (out & ~bone & (r > 16) & (np.abs(i - 50) > 8)).any()  # or beside it
    beside = np.degrees(np.arctan2(np.abs(i - 50), j - 40)) > 60.0
    assert not (out & ~bone & beside).any()  # muscle beside the body
    no_canal = np.where(canal, 80.0, hu)
    assert (fill_to_canal(bone, no_canal, {0: np.array([40.0, 50.0])}, spacing) == bone).all()


def test_s1_keeps_its_body_and_arch_not_the_alae_beyond_them():
    """S1 labels 100 mm wide just below a flat L5/S1 disc: those more than 30 mm left or right of the
    column are the alae and are dropped; the body in between stays S1."""
    column, bone, vol = _stacked_bodies_with_pelvis([14, 27])
    labels = np.zeros(bone.shape, np.uint16)
    labels[10:13, 15:25, 15:65] = LEVEL_IDS["S1"]  # columns 15-64 at 2 mm: 50 mm either side of i = 40
    out = limit_sacrum(labels, column, 12.0, vol)
    x = np.abs(np.arange(bone.shape[2]) - 40) * 2.0
    kept = (out[10:13, 15:25] == LEVEL_IDS["S1"]).any(axis=(0, 1))
    assert kept[(x <= 28) & (np.arange(bone.shape[2]) >= 15)].all()
    assert not kept[x > 30.5].any()
