"""Landmark registration core on phantom cohorts with known transforms (no Slicer)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from SpineCoreLib.geometry import Grid, ras_to_lps
from SpineCoreLib.markups_io import Landmark, LandmarkSet, read_markups_json
from SpineCoreLib.phantom import PhantomOptions, generate_case
from SpineLandmarkRegistrationLib.fitting import fit_affine, fit_similarity
from SpineLandmarkRegistrationLib.matching import LandmarkError
from SpineLandmarkRegistrationLib.polyrigid import PolyrigidTransform
from SpineLandmarkRegistrationLib.register import register
from SpineLandmarkRegistrationLib.transforms import LinearTransform, linear_from_sitk

FAST = dict(images=False)  # landmarks and truth only


def _case(tmp: Path, seed: int, change: bool, levels=("L1", "L2", "L3", "L4", "L5")) -> Path:
    return generate_case(tmp, f"s{seed}{change}", seed, PhantomOptions(levels=list(levels), curvature_change=change,
                                                                        **FAST))["truth"].parent


@pytest.fixture(scope="module")
def rigid_cases(tmp_path_factory) -> list[Path]:
    tmp = tmp_path_factory.mktemp("rigidreg")
    return [_case(tmp, s, False) for s in (1, 2, 3)]


@pytest.fixture(scope="module")
def curved_cases(tmp_path_factory) -> list[Path]:
    tmp = tmp_path_factory.mktemp("curvedreg")
    return [_case(tmp, s, True) for s in (11, 12, 13, 14, 15, 16)]


def _lms(case: Path) -> tuple[LandmarkSet, LandmarkSet, dict]:
    return (read_markups_json(case / "mr_landmarks.mrk.json"), read_markups_json(case / "ct_landmarks.mrk.json"),
            json.loads((case / "truth.json").read_text()))


def test_rigid_recovers_the_known_global_transform(rigid_cases):
    for case in rigid_cases:
        mr, ct, truth = _lms(case)
        reg = register(mr, ct, "rigid")
        g = np.array(truth["ct_to_mr_global"])
        pts = np.array(list(truth["held_out"]["ct"].values()) + list(truth["landmarks"]["ct"].values()))
        expected = pts @ g[:3, :3].T + g[:3, 3]
        assert np.abs(reg.transform.moving_to_fixed(pts) - expected).max() < 1e-3
        assert reg.report.rms_mm < 1e-6 and not reg.report.warnings


def test_rigid_agrees_with_simpleitk_versor_rigid_initializer(rigid_cases, curved_cases):
    for case in rigid_cases[:1] + curved_cases[:2]:
        mr, ct, _ = _lms(case)
        reg = register(mr, ct, "rigid")
        # SimpleITK's transform maps fixed (MR) LPS points to moving (CT) LPS points
        f = [float(v) for p in ras_to_lps(reg.matched.fixed) for v in p]
        m = [float(v) for p in ras_to_lps(reg.matched.moving) for v in p]
        itk = sitk.LandmarkBasedTransformInitializer(sitk.VersorRigid3DTransform(), f, m)
        ours = reg.transform.to_sitk()
        probe = ras_to_lps(reg.matched.fixed)
        a = np.array([itk.TransformPoint(tuple(p)) for p in probe])
        b = np.array([ours.TransformPoint(tuple(p)) for p in probe])
        assert np.abs(a - b).max() < 1e-6
        back = linear_from_sitk(itk)
        assert np.abs(back.matrix - reg.transform.matrix).max() < 1e-6


def _noisy(ls: LandmarkSet, rng: np.random.Generator, sd: float = 1.0) -> LandmarkSet:
    return LandmarkSet([Landmark(lm.label, lm.position + rng.normal(0, sd, 3)) for lm in ls.landmarks])


def _tre(reg, truth) -> float:
    names = list(truth["held_out"]["ct"])
    pc = np.array([truth["held_out"]["ct"][n] for n in names])
    pm = np.array([truth["held_out"]["mr"][n] for n in names])
    return float(np.sqrt((np.linalg.norm(reg.transform.moving_to_fixed(pc) - pm, axis=1) ** 2).mean()))


def test_piecewise_beats_rigid_on_held_out_points_when_curvature_changes(curved_cases):
    rng = np.random.default_rng(0)
    tre = {"rigid": [], "piecewise": []}
    for case in curved_cases:
        mr, ct, truth = _lms(case)
        mr, ct = _noisy(mr, rng), _noisy(ct, rng)
        for mode in tre:
            tre[mode].append(_tre(register(mr, ct, mode, with_loo=False), truth))
    assert np.mean(tre["piecewise"]) < np.mean(tre["rigid"])
    assert sum(p < r for p, r in zip(tre["piecewise"], tre["rigid"], strict=True)) >= 4


def test_piecewise_is_smooth_and_invertible(curved_cases):
    mr, ct, truth = _lms(curved_cases[0])
    reg = register(mr, ct, "piecewise")
    t = reg.transform
    assert isinstance(t, PolyrigidTransform)
    pts = reg.matched.fixed + np.random.default_rng(1).normal(0, 30, reg.matched.fixed.shape)
    assert np.abs(t.moving_to_fixed(t.fixed_to_moving(pts)) - pts).max() < 1e-3
    lo, hi = reg.matched.fixed.min(0) - 30, reg.matched.fixed.max(0) + 30
    grid = Grid(tuple(int(v) for v in np.ceil((hi - lo) / 4) + 1), (4.0, 4.0, 4.0), tuple(lo), ((1, 0, 0), (0, 1, 0), (0, 0, 1)))
    disp = t.displacement_field(grid)
    # the dense field agrees with the integrated flow, and its Jacobian determinant stays positive
    idx = np.array([[3, 4, 5], [grid.size[0] // 2, grid.size[1] // 2, grid.size[2] // 2]])
    for i, j, k in idx:
        p = grid.index_to_ras([i, j, k])
        assert np.linalg.norm(p + disp[k, j, i] - t.fixed_to_moving(p)) < 0.5  # 4 mm grid interpolation
    grads = [np.gradient(disp[..., c], 4.0, axis=(2, 1, 0)) for c in range(3)]
    jac = np.stack([np.stack(g, -1) for g in grads], -2) + np.eye(3)
    assert np.linalg.det(jac).min() > 0.5


def test_similarity_and_affine_recover_known_maps():
    rng = np.random.default_rng(3)
    moving = rng.normal(0, 50, (12, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    sim = np.eye(4)
    sim[:3, :3], sim[:3, 3] = 1.07 * q, [5, -3, 12]
    fixed = moving @ sim[:3, :3].T + sim[:3, 3]
    assert np.abs(fit_similarity(fixed, moving) - sim).max() < 1e-9
    aff = np.eye(4)
    aff[:3, :] = rng.normal(0, 0.2, (3, 4)) + np.hstack([np.eye(3), np.zeros((3, 1))])
    assert np.abs(fit_affine(moving @ aff[:3, :3].T + aff[:3, 3], moving) - aff).max() < 1e-9


def test_linear_transform_file_direction_is_fixed_to_moving():
    m = np.eye(4)
    m[:3, 3] = [10.0, -4.0, 2.0]  # moving -> fixed moves points by +10 R, -4 A, +2 S
    t = LinearTransform(m).to_sitk()
    p_fixed_lps = np.array([1.0, 2.0, 3.0])
    p_moving_lps = np.array(t.TransformPoint(tuple(p_fixed_lps)))
    # fixed = moving + shift (RAS)  =>  moving = fixed - shift; in LPS the R/A components flip
    assert np.allclose(p_moving_lps, p_fixed_lps - ras_to_lps(m[:3, 3]))


def _only(ls: LandmarkSet, kinds: tuple[str, ...]) -> LandmarkSet:
    return LandmarkSet([lm for lm in ls.landmarks if lm.label.split("-", 1)[1] in kinds])


def test_one_landmark_per_vertebra_triggers_the_degeneracy_warning(curved_cases):
    mr, ct, _ = _lms(curved_cases[0])
    warn = register(_only(mr, ("body",)), _only(ct, ("body",)), "rigid").report.warnings
    assert any("rotation about the cranio-caudal axis" in w for w in warn)
    assert not any("cranio-caudal" in w for w in register(mr, ct, "rigid").report.warnings)


def _rename(ls: LandmarkSet, mapping: dict[str, str]) -> LandmarkSet:
    return LandmarkSet([Landmark(mapping.get(lm.label, lm.label), lm.position) for lm in ls.landmarks])


def test_swapped_levels_swapped_kinds_and_an_outlier_are_detected(curved_cases):
    rng = np.random.default_rng(5)
    for case in curved_cases[:3]:
        mr, ct, _ = _lms(case)
        mr, ct = _noisy(mr, rng), _noisy(ct, rng)
        assert not register(mr, ct, "rigid").report.suggestions, case.name
        swapped = _rename(ct, {"L3-body": "L4-body", "L4-body": "L3-body", "L3-spinous": "L4-spinous",
                               "L4-spinous": "L3-spinous"})
        rep = register(mr, swapped, "piecewise").report
        assert rep.suggestions[0]["kind"] == "swapped-levels" and rep.suggestions[0]["labels"] == ["L3", "L4"]
        assert any("L3 and L4 look swapped" in w for w in rep.warnings)
        kinds = _rename(ct, {"L2-body": "L2-spinous", "L2-spinous": "L2-body"})
        rep = register(mr, kinds, "rigid").report
        assert rep.suggestions[0] == {**rep.suggestions[0], "kind": "swapped-body-spinous", "labels": ["L2"]}
        # a point clicked 25 mm off (detection rates by size: Testing/benchmarks/outliers_phantom.py)
        shift = np.array([0.0, 15.0, 20.0])
        out = LandmarkSet([Landmark(lm.label, lm.position + (shift if lm.label == "L3-spinous" else 0))
                           for lm in ct.landmarks])
        rep = register(mr, out, "rigid").report
        assert rep.suggestions[0]["kind"] == "outlier" and rep.suggestions[0]["labels"] == ["L3-spinous"]


def _set(points: dict[str, list[float] | None]) -> LandmarkSet:
    return LandmarkSet([Landmark(k, None if v is None else np.array(v, float)) for k, v in points.items()])


def test_bad_landmarks_get_clear_errors():
    good = {"L1-body": [0, 0, 0], "L1-spinous": [0, -70, 0], "L2-body": [0, 0, -35], "L2-spinous": [0, -70, -40]}
    with pytest.raises(LandmarkError, match="at least 3"):
        register(_set(dict(list(good.items())[:2])), _set(good), "rigid")
    with pytest.raises(LandmarkError, match="collinear"):
        line = {"L1-body": [0, 0, 0], "L2-body": [0, 0, -35], "L3-body": [0, 0, -70]}
        register(_set(line), _set(line), "rigid")
    with pytest.raises(LandmarkError, match="coplanar"):
        register(_set(good | {"L3-body": [0, 0, -70]}), _set(good | {"L3-body": [0, 0, -70]}), "affine")
    with pytest.raises(LandmarkError, match="more than once"):
        dup = LandmarkSet([Landmark("L1-body", np.zeros(3)), Landmark("L1-body", np.ones(3))])
        register(dup, _set(good), "rigid")
    with pytest.raises(LandmarkError, match="'L1-tip'"):
        register(_set(good | {"L1-tip": [1, 2, 3]}), _set(good), "rigid")
    with pytest.raises(LandmarkError, match="NaN"):
        register(_set(good | {"L3-body": [np.nan, 0, 0]}), _set(good), "rigid")
    with pytest.raises(ValueError, match="unknown registration mode"):
        register(_set(good), _set(good), "elastic")


def test_unplaced_and_unmatched_points_are_skipped_and_reported():
    fixed = {"L1-body": [0, 0, 0], "L1-spinous": [0, -70, 0], "L2-body": [0, 0, -35], "L2-spinous": [3, -70, -40],
             "L3-body": None, "L3-spinous": [0, -68, -75]}
    moving = {k: v for k, v in fixed.items() if k != "L3-spinous"} | {"L4-body": [0, 0, -110]}
    rep = register(_set(fixed), _set(moving), "rigid").report
    assert rep.matched == ["L1-body", "L1-spinous", "L2-body", "L2-spinous"]
    assert rep.unplaced == ["L3-body"]
    assert rep.unmatched == {"fixed": ["L3-spinous"], "moving": ["L4-body"]}
    assert any("only one image" in w for w in rep.warnings)
    js = rep.to_json()
    assert set(js) >= {"mode", "rms_mm", "residuals_mm", "matched", "unmatched", "warnings"}
