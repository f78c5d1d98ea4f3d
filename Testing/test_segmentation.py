"""Vertebra segmentation: the built-in segmenter on phantom CTs (with and without landmarks, in both
worlds and orientations), the adapters' checks and label mappings, the name/colour table and
``mrtoct segment``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from mrtoct.main import main
from SpineCoreLib.evaluation.dice import segmentation_metrics
from SpineCoreLib.levels import LEVEL_IDS, ordered_levels
from SpineCoreLib.markups_io import read_markups_json
from SpineCoreLib.phantom import PhantomOptions, generate_case
from SpineCoreLib.segmentation import (
    BuiltinOptions,
    SegmentationError,
    level_color,
    segment_name,
    segment_table,
    segment_vertebrae,
    totalseg,
)
from SpineCoreLib.segmentation import bundle as bundle_mod
from SpineCoreLib.segmentation.builtin import ANCHOR_KEY
from SpineCoreLib.segmentation.names import level_of_class, relabel, verse_mapping

LEVELS = ["L2", "L3", "L4"]


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> dict[str, Path]:
    """A three-level lumbar case at 2.5 mm CT (partial L1 and L5 at the image edges)."""
    out = tmp_path_factory.mktemp("seg")
    opts = PhantomOptions(levels=LEVELS, ct_spacing=2.5, mr_spacing=(2.0, 2.0, 4.0))
    return generate_case(out, "sub-seg", 4, opts)


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _same_geometry(a: sitk.Image, b: sitk.Image) -> bool:
    return (a.GetSize() == b.GetSize() and a.GetOrigin() == b.GetOrigin() and a.GetSpacing() == b.GetSpacing()
            and a.GetDirection() == b.GetDirection())


def _scores(seg: sitk.Image, ref_path: Path, levels: list[str] = LEVELS) -> dict:
    ref = sitk.GetArrayFromImage(sitk.ReadImage(str(ref_path)))
    return segmentation_metrics(sitk.GetArrayFromImage(seg), ref, levels)


def test_landmark_seeded_segmentation_matches_the_phantom_labels(case):
    image = sitk.ReadImage(str(case["ct_mrworld"]))  # sagittal, oblique to the patient axes
    before = sitk.GetArrayFromImage(image).copy()
    seg = segment_vertebrae(image, landmarks=case["mr_landmarks"])
    assert _same_geometry(seg, image) and seg.GetPixelID() == sitk.sitkUInt16
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), before)  # the input is not changed
    m = _scores(seg, case["ct_mrworld_seg"])
    assert m["predicted_levels"] == LEVELS  # labels come from the landmark names, neighbours stay unlabelled
    assert seg.GetMetaData(ANCHOR_KEY) == "the landmarks' names"
    for level, d in m["levels"].items():
        assert d["strict"] > 0.85, (level, d)
    assert m["binary_dice"] > 0.8


def test_axial_ct_with_landmarks_as_a_dict(case):
    image = sitk.ReadImage(str(case["ct"]))  # the CT world: axial grid, other origin and pose
    points = read_markups_json(case["ct_landmarks"]).defined()
    by_level = {lv: {"body": points[f"{lv}-body"], "spinous": points[f"{lv}-spinous"]} for lv in LEVELS}
    seg = segment_vertebrae(image, landmarks=by_level)
    assert _same_geometry(seg, image)
    m = _scores(seg, case["ct_seg"])
    assert min(d["strict"] for d in m["levels"].values()) > 0.85, m["levels"]


def test_neighbours_of_the_annotated_levels_can_be_labelled_too(case):
    image = sitk.ReadImage(str(case["ct_mrworld"]))
    opts = BuiltinOptions(label_neighbours=True)
    seg = segment_vertebrae(image, landmarks=case["mr_landmarks"], options=opts)
    found = set(_scores(seg, case["ct_mrworld_seg"])["predicted_levels"])
    assert set(LEVELS) < found <= {"L1", *LEVELS, "L5"}


def test_without_landmarks_labels_count_up_from_the_caudal_level(case):
    image = sitk.ReadImage(str(case["ct_mrworld"]))
    seg = segment_vertebrae(image, caudal_level="L4")  # L4: the lowest vertebra wholly in the image
    assert _same_geometry(seg, image)
    assert seg.GetMetaData(ANCHOR_KEY) == "L4 (the lowest vertebral body wholly in the image)"  # what it counted from
    m = _scores(seg, case["ct_mrworld_seg"])
    for level, d in m["levels"].items():
        assert d["strict"] > 0.8 and d["shift"] == 0, (level, d)


def test_a_wrong_caudal_level_shifts_every_label_which_only_the_tolerant_dice_forgives(case):
    image = sitk.ReadImage(str(case["ct_mrworld"]))
    seg = segment_vertebrae(image, caudal_level="L5")  # one level too low
    m = _scores(seg, case["ct_mrworld_seg"])
    for level, d in m["levels"].items():
        assert d["strict"] < 0.2, (level, d)
        assert d["shift_tolerant"] > 0.8 and d["shift"] == 1, (level, d)
    assert m["mean_dice_strict"] < 0.2 < 0.8 < m["mean_dice_shift_tolerant"]


def test_fine_images_are_labelled_on_a_working_grid_and_returned_on_their_own(case):
    ref_img = sitk.ReadImage(str(case["ct_mrworld"]))
    fine_spacing = (1.25, 1.25, 1.25)
    size = [int(round(n * s / f))
            for n, s, f in zip(ref_img.GetSize(), ref_img.GetSpacing(), fine_spacing, strict=True)]
    fine = sitk.Resample(ref_img, size, sitk.Transform(), sitk.sitkLinear, ref_img.GetOrigin(), fine_spacing,
                         ref_img.GetDirection(), -1024.0, sitk.sitkInt16)
    seg = segment_vertebrae(fine, landmarks=case["mr_landmarks"])
    assert _same_geometry(seg, fine)
    back = sitk.Resample(seg, ref_img, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt16)
    m = _scores(back, case["ct_mrworld_seg"])
    assert min(d["strict"] for d in m["levels"].values()) > 0.8, m["levels"]


def test_landmarks_that_belong_elsewhere_or_are_missing_are_refused(case):
    image = sitk.ReadImage(str(case["ct_mrworld"]))
    far = {"L3": {"body": np.array([900.0, 900.0, 900.0])}}
    with pytest.raises(SegmentationError, match="no landmark lies in or near bone"):
        segment_vertebrae(image, landmarks=far)
    with pytest.raises(SegmentationError, match="no placed landmarks"):
        segment_vertebrae(image, landmarks={})
    with pytest.raises(SegmentationError, match="not of the form"):
        segment_vertebrae(image, landmarks={"L3-middle": np.zeros(3)})
    with pytest.raises(SegmentationError, match="unknown vertebral level"):
        segment_vertebrae(image, caudal_level="L9")


def test_segment_table_names_ids_and_colours_are_fixed():
    table = segment_table()
    assert list(table) == [LEVEL_IDS[lv] for lv in ordered_levels(include_variants=True)]
    assert table[22] == ("L3", level_color("L3")) and segment_name(26) == "S1" and segment_name(28) == "T13"
    assert segment_table() == table  # deterministic
    colours = [c for _, c in table.values()]
    assert all(0.0 <= v <= 1.0 for c in colours for v in c)
    for a, b in zip(colours, colours[1:], strict=False):  # neighbours contrast
        assert np.abs(np.subtract(a, b)).sum() > 0.3
    assert list(segment_table(["L5", "T12", "L1"])) == [19, 20, 24]
    with pytest.raises(ValueError, match="not a vertebra label"):
        segment_name(60)


def test_class_names_of_other_tools_map_to_verse_ids():
    totalseg_v2 = {1: "spleen", 25: "sacrum", 26: "vertebrae_S1", 27: "vertebrae_L5", 31: "vertebrae_L1",
                   32: "vertebrae_T12", 43: "vertebrae_T1", 44: "vertebrae_C7", 50: "vertebrae_C1",
                   51: "heart", 92: "rib_left_1"}
    mapping = verse_mapping(totalseg_v2)
    assert mapping == {25: 26, 26: 26, 27: 24, 31: 20, 32: 19, 43: 8, 44: 7, 50: 1}
    assert [level_of_class(n) for n in ("L3", "vertebra_T13", "Vertebrae-L6", "liver", "rib_left_1")] == \
        ["L3", "T13", "L6", None, None]
    labels = np.array([[0, 1, 27], [31, 92, 50]])
    np.testing.assert_array_equal(relabel(labels, mapping), [[0, 0, 24], [20, 0, 1]])


def test_totalsegmentator_missing_says_how_to_install(case, monkeypatch):
    monkeypatch.setattr(totalseg.importlib.util, "find_spec", lambda name: None)
    image = sitk.ReadImage(str(case["ct_mrworld"]))
    with pytest.raises(SegmentationError, match=r"pip install TotalSegmentator"):
        segment_vertebrae(image, method="totalsegmentator")


def test_totalsegmentator_weights_folder_sets_its_environment(tmp_path):
    assert totalseg.weights_env(None) == {}
    with pytest.raises(SegmentationError, match="does not exist"):
        totalseg.weights_env(tmp_path / "missing")
    (tmp_path / "home" / "nnunet" / "results").mkdir(parents=True)
    assert totalseg.weights_env(tmp_path / "home") == {"TOTALSEG_HOME_DIR": str(tmp_path / "home")}
    (tmp_path / "w" / "Dataset297_TotalSegmentator_total_3mm_1559subj").mkdir(parents=True)
    assert totalseg.weights_env(tmp_path / "w") == {"TOTALSEG_WEIGHTS_PATH": str(tmp_path / "w")}
    assert "vertebrae_L5" in totalseg.VERTEBRA_CLASSES and len(totalseg.VERTEBRA_CLASSES) == 25


def _fake_bundle(root: Path, channels: dict | None, config: str = '{"run": "$None"}') -> Path:
    (root / "configs").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "configs" / "inference.json").write_text(config)
    (root / "models" / "model.pt").write_bytes(b"")
    if channels is not None:
        meta = {"network_data_format": {"outputs": {"pred": {"type": "image", "channel_def": channels}}}}
        (root / "configs" / "metadata.json").write_text(json.dumps(meta))
    return root


def test_bundle_folder_is_checked_and_its_labels_mapped_by_name(tmp_path):
    with pytest.raises(SegmentationError, match="does not exist"):
        bundle_mod.check_bundle(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SegmentationError, match=r"lacks configs/inference.json and models/model.pt"):
        bundle_mod.check_bundle(tmp_path / "empty")
    (tmp_path / "half" / "configs").mkdir(parents=True)
    (tmp_path / "half" / "configs" / "inference.json").write_text('{"run": 1}')
    with pytest.raises(SegmentationError, match=r"lacks models/model.pt \(or model.ts\)$"):
        bundle_mod.check_bundle(tmp_path / "half")

    channels = {"0": "background", "1": "vertebrae_L1", "2": "vertebrae_L2", "3": "sacrum", "4": "liver"}
    b = bundle_mod.check_bundle(_fake_bundle(tmp_path / "spine", channels))
    assert b.mapping == {1: 20, 2: 21, 3: 26} and b.weights.name == "model.pt" and b.run_id == "run"
    plain = bundle_mod.check_bundle(_fake_bundle(tmp_path / "plain", None))
    assert plain.mapping[22] == 22 and plain.metadata is None  # no names: labels are VerSe IDs already
    with pytest.raises(SegmentationError, match="names no vertebra"):
        bundle_mod.check_bundle(_fake_bundle(tmp_path / "organs", {"0": "background", "1": "liver"}))
    with pytest.raises(SegmentationError, match="not readable JSON"):
        bundle_mod.check_bundle(_fake_bundle(tmp_path / "broken", None, config="{not json"))
    with pytest.raises(SegmentationError, match="no 'run' \\(or 'evaluating'\\) entry"):
        bundle_mod.check_bundle(_fake_bundle(tmp_path / "training", None, config='{"train": 1}'))
    old = bundle_mod.check_bundle(_fake_bundle(tmp_path / "old", None, config='{"evaluating": 1}'))
    assert old.run_id == "evaluating"  # older model-zoo bundles


def test_unknown_methods_and_missing_bundles_are_named(case):
    image = sitk.ReadImage(str(case["ct_mrworld"]))
    with pytest.raises(SegmentationError, match="unknown segmentation method 'magic'"):
        segment_vertebrae(image, method="magic")
    with pytest.raises(SegmentationError, match="bundle folder .* does not exist"):
        segment_vertebrae(image, method="./no/such/bundle")


def test_cli_segment_writes_labels_on_the_input_grid_and_leaves_inputs_alone(case, tmp_path, capsys):
    out = tmp_path / "seg.nii.gz"
    hashes = {k: _sha(case[k]) for k in ("ct_mrworld", "mr_landmarks")}
    code = main(["segment", "--input", str(case["ct_mrworld"]), "--output", str(out),
                 "--landmarks", str(case["mr_landmarks"])])
    assert code == 0
    assert "3 vertebrae (L2, L3, L4) written to" in (printed := capsys.readouterr().out)
    assert "levels named from the landmarks' names" in printed
    assert {k: _sha(case[k]) for k in hashes} == hashes
    seg, image = sitk.ReadImage(str(out)), sitk.ReadImage(str(case["ct_mrworld"]))
    assert _same_geometry(seg, image)
    assert min(d["strict"] for d in _scores(seg, case["ct_mrworld_seg"])["levels"].values()) > 0.85
    assert [p.name for p in tmp_path.iterdir()] == ["seg.nii.gz"]  # no temporary files left


@pytest.mark.parametrize("extra,needle", [
    (["--input", "MISSING"], "does not exist"),
    (["--method", "magic"], "unknown --method 'magic'"),
    (["--method", "totalsegmentator"], "pip install TotalSegmentator"),
    (["--method", "BUNDLE"], "is not a MONAI bundle folder: it lacks configs/inference.json"),
    (["--landmarks", "MISSING"], "--landmarks"),
    (["--caudal-level", "L9"], "--caudal-level"),
    (["--output", "INPUT"], "would overwrite an input"),
    (["--output", "NOFOLDER"], "does not exist"),
])
def test_cli_segment_bad_input_exits_2_with_one_line(case, tmp_path, capsys, monkeypatch, extra, needle):
    monkeypatch.setattr(totalseg.importlib.util, "find_spec", lambda name: None)
    (tmp_path / "bundle").mkdir()
    subst = {"MISSING": str(tmp_path / "missing.nii.gz"), "BUNDLE": str(tmp_path / "bundle"),
             "INPUT": str(case["ct_mrworld"]), "NOFOLDER": str(tmp_path / "no" / "seg.nii.gz")}
    args = {"--input": str(case["ct_mrworld"]), "--output": str(tmp_path / "seg.nii.gz")}
    extra = [subst.get(a, a) for a in extra]
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        args[flag] = value
    before = _sha(case["ct_mrworld"])
    code = main(["segment", *[x for kv in args.items() for x in kv]])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and needle in err, err
    assert err.startswith("mrtoct segment: error:")
    assert not (tmp_path / "seg.nii.gz").exists() and _sha(case["ct_mrworld"]) == before


def test_terminology_codes_follow_dicom_cid_7603():
    from SpineCoreLib.segmentation.terminology import CID_7603, level_code, terminology_entry

    assert len(CID_7603) == 24 and len(set(CID_7603.values())) == 24  # C1-L5, each its own code
    assert level_code("L3") == ("SCT", "36470004", "L3 vertebra") and level_code("S1") == ("SCT", "54735007", "Sacrum")
    assert level_code("T13") == ("SCT", "51282000", "Vertebra")  # a variant level CID 7603 lacks
    assert terminology_entry("L3") == ("Segmentation category and type - DICOM master list~SCT^123037004^Anatomical "
                                       "Structure~SCT^36470004^L3 vertebra~^^~Anatomic codes - DICOM master list~^^~^^")


def test_cli_segment_writes_a_slicer_segmentation_that_mrml_reads_back(case, tmp_path, capsys, mrml_scene):
    """``--output SEG.seg.nrrd``: real MRML's segmentation reader finds one segment per vertebra with its
    name, colour, label value and standard code, on the input's grid, and the same voxels as a label map."""
    import slicer

    from SpineCoreLib.segmentation.table import segment_table

    seg_path, nii_path = tmp_path / "vertebrae.seg.nrrd", tmp_path / "vertebrae.nii.gz"
    for out in (seg_path, nii_path):
        assert main(["segment", "--input", str(case["ct_mrworld"]), "--output", str(out),
                     "--landmarks", str(case["mr_landmarks"])]) == 0
    storage = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    node = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    storage.SetFileName(str(seg_path))
    assert storage.ReadData(node)
    segmentation, table = node.GetSegmentation(), segment_table()
    segments = [segmentation.GetNthSegment(i) for i in range(segmentation.GetNumberOfSegments())]
    assert [s.GetName() for s in segments] == ["L2", "L3", "L4"]
    for s in segments:
        level, colour = table[LEVEL_IDS[s.GetName()]]
        assert s.GetLabelValue() == LEVEL_IDS[level] and np.allclose(s.GetColor(), colour, atol=1e-4)
        assert f"~SCT^{dict(L2='14293000', L3='36470004', L4='11994002')[level]}^{level} vertebra~" in s.GetTerminology()
    labelmap = mrml_scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
    assert slicer.vtkSlicerSegmentationsModuleLogic.ExportAllSegmentsToLabelmapNode(node, labelmap)
    reference = sitk.ReadImage(str(nii_path))
    from SpineCoreLib.mrml.volumes import sitk_image_from_volume_node

    exported = sitk_image_from_volume_node(labelmap)
    resampled = sitk.GetArrayFromImage(sitk.Resample(exported, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0))
    as_ids = np.array([0] + [LEVEL_IDS[s.GetName()] for s in segments])[resampled]  # export numbers segments 1..n
    np.testing.assert_array_equal(as_ids, sitk.GetArrayFromImage(reference))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vertebrae.nii.gz", "vertebrae.seg.nrrd"]


def test_translation_segments_carry_their_terminology(mrml_scene, case):
    from MRtoCTTranslationLib.mrml.result_nodes import add_segmentation_from_labels
    from SpineCoreLib.segmentation.table import segment_table

    node = add_segmentation_from_labels(mrml_scene, sitk.ReadImage(str(case["ct_mrworld_seg"])), segment_table(), "v")
    seg = node.GetSegmentation()
    entries = {seg.GetNthSegment(i).GetName(): seg.GetNthSegment(i).GetTerminology()
               for i in range(seg.GetNumberOfSegments())}
    assert "SCT^36470004^L3 vertebra" in entries["L3"] and "SCT^66794005^L1 vertebra" not in entries["L3"]


def test_dense_bodies_among_other_bone_are_found_spine_first(case, caplog):
    """Dense bodies (the phantom's own) beside as much other bone as the spine holds (two solid blocks
    50-75 mm to each side, as ribs and pelvis in a real field of view): the column method is taken, and
    every level is labelled and named as on the plain phantom."""
    import logging

    from SpineCoreLib.segmentation.volume import Volume

    image = sitk.ReadImage(str(case["ct"]))
    arr = sitk.GetArrayFromImage(image).astype(np.float32)
    ref = sitk.GetArrayFromImage(sitk.ReadImage(str(case["ct_seg"])))
    vol = Volume.of(image)
    spine = vol.kji_to_ras(np.argwhere(ref > 0).astype(float)).mean(0)
    ras = vol.kji_to_ras(np.argwhere(np.ones(arr.shape, bool)).astype(float)).reshape(*arr.shape, 3)
    side = np.abs(np.abs(ras[..., 0] - spine[0]) - 62.5) <= 12.5
    blocks = side & (np.abs(ras[..., 1] - spine[1]) <= 25)
    crowded = sitk.GetImageFromArray(np.where(blocks, 500.0, arr).astype(np.float32))
    crowded.CopyInformation(image)
    with caplog.at_level(logging.INFO, logger="SpineCoreLib.segmentation.spine_first"):
        seg = segment_vertebrae(crowded, caudal_level="L4")
    assert any("column: discs" in r.getMessage() for r in caplog.records), caplog.text
    m = _scores(seg, case["ct_seg"])
    for level, d in m["levels"].items():
        assert d["strict"] > 0.8 and d["shift"] == 0, (level, d)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="SpineCoreLib.segmentation.spine_first"):
        segment_vertebrae(image, caudal_level="L4")
    assert any("dense enough" in r.getMessage() for r in caplog.records), caplog.text


def test_osteoporotic_bone_with_an_open_cortex_is_found_spine_first(case):
    """Cancellous bone at about 105 HU and a cortex with a third of its voxels missing (not closed in 3D):
    the HU-threshold body cores find nothing; the column method still labels every level."""
    image = sitk.ReadImage(str(case["ct"]))
    arr = sitk.GetArrayFromImage(image).astype(np.float32)
    ref = sitk.GetArrayFromImage(sitk.ReadImage(str(case["ct_seg"])))
    rng = np.random.default_rng(0)
    weak = np.where((arr > 130) & (arr < 400), 105 + rng.normal(0, 15, arr.shape), arr)
    gaps = (arr >= 400) & (ref > 0) & (rng.uniform(size=arr.shape) < 0.35)
    weak = sitk.GetImageFromArray(np.where(gaps, 110.0, weak).astype(np.float32))
    weak.CopyInformation(image)
    seg = segment_vertebrae(weak, caudal_level="L4")
    assert seg.GetMetaData(ANCHOR_KEY).startswith("L4")  # no pelvis in view: counted from the caudal level
    m = _scores(seg, case["ct_seg"])
    for level, d in m["levels"].items():
        assert d["strict"] > 0.8 and d["shift"] == 0, (level, d)
    cores_only = segment_vertebrae(weak, caudal_level="L4", options=BuiltinOptions(spine_first=False))
    assert not sitk.GetArrayFromImage(cores_only).any()  # the case is out of the threshold method's reach
    points = read_markups_json(case["ct_landmarks"]).defined()  # landmarks seed the same corridor bone
    by_level = {lv: {"body": points[f"{lv}-body"], "spinous": points[f"{lv}-spinous"]} for lv in LEVELS}
    m = _scores(segment_vertebrae(weak, landmarks=by_level), case["ct_seg"])
    assert m["predicted_levels"] == LEVELS and min(d["strict"] for d in m["levels"].values()) > 0.8, m["levels"]
