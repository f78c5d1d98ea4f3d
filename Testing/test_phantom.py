"""The paired phantom: landmarks inside their vertebrae, exact ground-truth transforms,
tissue statistics in the ranges of the notes, and reproducibility from a seed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from SpineCoreLib.geometry import Grid
from SpineCoreLib.levels import LEVEL_IDS, landmark_names
from SpineCoreLib.manifest import COLUMNS, read_manifest
from SpineCoreLib.markups_io import read_markups_json
from SpineCoreLib.phantom import PhantomOptions, generate_cohort
from SpineCoreLib.phantom.tissues import Tissue


@pytest.fixture(scope="session")
def lumbar_cohort(tmp_path_factory) -> list[dict[str, str]]:
    """Two five-level lumbar cases at the default 2 mm CT and 1x1x3 mm MR, with curvature change."""
    out = tmp_path_factory.mktemp("lumbar")
    return read_manifest(generate_cohort(out, 2, seed=11, opts=PhantomOptions()))


@pytest.fixture(scope="session")
def rigid_case(tmp_path_factory) -> list[dict[str, str]]:
    """A thoraco-lumbar case whose worlds differ by the global rigid motion only."""
    out = tmp_path_factory.mktemp("rigid")
    opts = PhantomOptions(levels=["T11", "T12", "L1", "L2"], ct_spacing=2.5, mr_spacing=(1.5, 1.5, 3.0),
                          curvature_change=False)
    return read_manifest(generate_cohort(out, 1, seed=3, opts=opts))


def _read(path: str) -> tuple[np.ndarray, Grid]:
    img = sitk.ReadImage(path)
    return sitk.GetArrayFromImage(img), Grid.from_image(img)


def _label_at(seg: np.ndarray, grid: Grid, ras: np.ndarray) -> int | None:
    i, j, k = np.rint(grid.ras_to_index(ras)).astype(int)
    if not (0 <= i < grid.size[0] and 0 <= j < grid.size[1] and 0 <= k < grid.size[2]):
        return None
    return int(seg[k, j, i])


def test_manifest_lists_every_file(lumbar_cohort):
    assert len(lumbar_cohort) == 2
    for row in lumbar_cohort:
        assert tuple(row) == COLUMNS
        for col in COLUMNS[2:]:
            assert Path(row[col]).is_file(), col


@pytest.mark.parametrize("world,seg_cols", [("ct", ("ct_seg",)), ("mr", ("mr_seg", "ct_mrworld_seg"))])
def test_landmarks_lie_inside_their_vertebra(lumbar_cohort, rigid_case, world, seg_cols):
    for row in lumbar_cohort + rigid_case:
        lms = read_markups_json(row[f"{world}_landmarks"]).defined()
        truth = json.loads(Path(row["truth"]).read_text())
        assert list(lms) == landmark_names(truth["levels"])
        for col in seg_cols:
            seg, grid = _read(row[col])
            for name, pos in lms.items():
                assert _label_at(seg, grid, pos) == LEVEL_IDS[name.split("-")[0]], (row["subject"], col, name)
        # held-out pedicle points are inside their vertebra wherever the image covers them
        seg, grid = _read(row[seg_cols[0]])
        inside = [
            _label_at(seg, grid, np.array(p)) == LEVEL_IDS[n.split("-")[0]]
            for n, p in truth["held_out"][world].items()
            if _label_at(seg, grid, np.array(p)) is not None
        ]
        assert inside and all(inside)


def _apply(m: list[list[float]], p: list[float]) -> np.ndarray:
    a = np.array(m)
    return a[:3, :3] @ np.array(p) + a[:3, 3]


def test_per_vertebra_truth_maps_ct_points_onto_mr_points(lumbar_cohort, rigid_case):
    for row in lumbar_cohort + rigid_case:
        truth = json.loads(Path(row["truth"]).read_text())
        for group in ("landmarks", "held_out"):
            for name, p_ct in truth[group]["ct"].items():
                m = truth["ct_to_mr_per_vertebra"][name.split("-")[0]]
                err = np.linalg.norm(_apply(m, p_ct) - np.array(truth[group]["mr"][name]))
                assert err < 1e-3, (row["subject"], name, err)


def test_global_truth_is_exact_without_curvature_change(lumbar_cohort, rigid_case):
    truth = json.loads(Path(rigid_case[0]["truth"]).read_text())
    assert truth["ct_to_mr_global_exact"]
    g = truth["ct_to_mr_global"]
    for group in ("landmarks", "held_out"):
        for name, p_ct in truth[group]["ct"].items():
            assert np.linalg.norm(_apply(g, p_ct) - np.array(truth[group]["mr"][name])) < 1e-3
    r = np.array(g)[:3, :3]
    assert np.allclose(r @ r.T, np.eye(3), atol=1e-12) and np.isclose(np.linalg.det(r), 1.0)
    # with a curvature change the global rigid part alone leaves millimetre residuals
    curved = json.loads(Path(lumbar_cohort[0]["truth"]).read_text())
    res = [
        np.linalg.norm(_apply(curved["ct_to_mr_global"], p) - np.array(curved["landmarks"]["mr"][n]))
        for n, p in curved["landmarks"]["ct"].items()
    ]
    assert max(res) > 1.0


def _core(mask: np.ndarray) -> np.ndarray:
    """Voxels whose in-plane neighbours share the class (away from partial volume)."""
    from scipy import ndimage

    return ndimage.binary_erosion(mask, structure=np.ones((1, 3, 3), bool))


def test_ct_numbers_per_tissue_match_the_notes(lumbar_cohort):
    row = lumbar_cohort[0]
    ct_img = sitk.ReadImage(row["ct_mrworld"])
    tissues = sitk.Resample(sitk.ReadImage(row["mr_tissues"]), ct_img, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    hu, tis = sitk.GetArrayFromImage(ct_img).astype(float), sitk.GetArrayFromImage(tissues)
    ranges = {  # notes' ranges widened by noise and partial volume at 2 mm
        Tissue.FAT: (-130, -70), Tissue.MUSCLE: (30, 70), Tissue.CANCELLOUS: (140, 290),
        Tissue.CSF: (-10, 30), Tissue.VISCERA: (20, 60),
    }
    for t, (lo, hi) in ranges.items():
        sel = _core(tis == t)
        assert sel.sum() > 50, t
        med = float(np.median(hu[sel]))
        assert lo <= med <= hi, (t.name, med)
    bone = hu[(tis == Tissue.CORTICAL) | (tis == Tissue.CANCELLOUS)]
    assert 400 <= np.percentile(bone, 99) <= 1800  # cortex after partial volume (notes: 400-900 at 1 mm)
    assert hu.min() >= -1024 and hu.max() <= 3071


def test_mr_contrast_follows_the_spin_echo_table(lumbar_cohort):
    for row in lumbar_cohort:
        tis = sitk.GetArrayFromImage(sitk.ReadImage(row["mr_tissues"]))
        med = {}
        for name in ("mr_t1w", "mr_t2w"):
            img = sitk.GetArrayFromImage(sitk.ReadImage(row[name])).astype(float)
            med[name] = {t: float(np.median(img[_core(tis == t)])) for t in
                         (Tissue.FAT, Tissue.MUSCLE, Tissue.CSF, Tissue.CANCELLOUS)}
        t1, t2 = med["mr_t1w"], med["mr_t2w"]
        # notes: T1w fat 1.00, marrow 0.70, muscle 0.32, CSF 0.16; T2w CSF 1.00, fat 0.88, marrow ~0.45, muscle 0.11
        assert 2.0 < t1[Tissue.FAT] / t1[Tissue.MUSCLE] < 5.0
        assert 3.0 < t1[Tissue.FAT] / t1[Tissue.CSF] < 10.0
        assert 0.5 < t1[Tissue.CANCELLOUS] / t1[Tissue.FAT] < 0.95
        assert 5.0 < t2[Tissue.CSF] / t2[Tissue.MUSCLE] < 15.0
        assert 0.3 < t2[Tissue.CANCELLOUS] / t2[Tissue.CSF] < 0.7
        assert t2[Tissue.CSF] > t1[Tissue.CSF] * 3


def test_mr_grid_is_sagittal_and_thick_sliced(lumbar_cohort):
    grid = Grid.from_image(sitk.ReadImage(lumbar_cohort[0]["mr_t2w"]))
    assert grid.spacing == (1.0, 1.0, 3.0)
    assert np.allclose(np.abs(grid.direction_matrix[:, 2]), [1, 0, 0])  # slices stack left-right
    iso = Grid.from_image(sitk.ReadImage(lumbar_cohort[0]["ct_mrworld"]))
    assert iso.spacing == (2.0, 2.0, 2.0)
    assert np.allclose(iso.direction_matrix, grid.direction_matrix)


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files_and_other_seed_does_not(tmp_path):
    opts = PhantomOptions(levels=["L3", "L4"], ct_spacing=3.0, mr_spacing=(2.0, 2.0, 4.0))
    a, b, c = (generate_cohort(tmp_path / n, 1, seed=s, opts=opts).parent for n, s in (("a", 5), ("b", 5), ("c", 6)))
    da, db, dc = _digest(a), _digest(b), _digest(c)
    assert da == db and len(da) == 12
    ct_a = next(v for k, v in da.items() if k.endswith("/ct.nii.gz"))
    ct_c = next(v for k, v in dc.items() if k.endswith("/ct.nii.gz"))
    assert ct_a != ct_c
