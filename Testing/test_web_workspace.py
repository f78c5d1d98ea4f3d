"""The web app's workspace on real MRML, without a browser: the phantom sample, a named point list placed
through the markups logic's place mode, live registration and its residual table, bad uploads named in
one line with nothing added, and one synthesis in a child process (a second refused while it runs)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from mrtoct.web.workspace import Workspace
from MRtoCTTranslationLib.options import TranslationOptions
from SpineCoreLib.markups_io import read_markups_json

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves


@pytest.fixture
def workspace(headless_slicer, mrml_scene, tmp_path) -> Workspace:
    return Workspace(mrml_scene, tmp_path / "data", headless_slicer.logic("Markups"))


def _place_all(workspace: Workspace, role: str, points: dict[str, np.ndarray]) -> None:
    """Each "place next" arms the next named point; the click a view would send sets its position."""
    node = workspace.nodes[f"{role}_landmarks"]
    for _ in range(node.GetNumberOfControlPoints()):
        message = workspace.place_next(role)
        index = node.GetControlPointPlacementStartIndex()
        label = node.GetNthControlPointLabel(index)
        assert message == f"click to place {label}"
        node.SetNthControlPointPositionWorld(index, *points[label])
    assert workspace.place_next(role) == "every point is placed"
    interaction = workspace.scene.GetNodeByID("vtkMRMLInteractionNodeSingleton")
    assert interaction.GetCurrentInteractionMode() != interaction.Place  # no unnamed point from a further click


def test_the_sample_loads_and_landmarks_placed_by_clicking_register_live(workspace):
    assert workspace.load_sample() == "loaded phantom: mr, ct, reference, reference_labels, mr_landmarks, ct_landmarks"
    truth = {role: read_markups_json(next((workspace.data_dir / "sample").glob(f"*/phantom/{role}_landmarks.mrk.json")))
             for role in ("mr", "ct")}
    for role in ("mr", "ct"):
        assert workspace.create_landmarks(role, "L2-L4") == f"{role.upper()}-landmarks: 6 points to place"
        _place_all(workspace, role, truth[role].defined())
    message = workspace.start_registration("rigid")
    assert message.startswith("RMS ") and "over 6 pairs" in message
    rows = workspace.residual_rows()
    assert len(rows) == 6 and all(r["residual_mm"] < 10.0 for r in rows), rows
    ct = workspace.nodes["ct_landmarks"]
    before = workspace.live.registration.report.rms_mm
    p = np.array(ct.GetNthControlPointPositionWorld(0))
    ct.SetNthControlPointPositionWorld(0, *(p + [0.0, 25.0, 0.0]))  # dragged 25 mm off: the table follows
    assert workspace.live.registration.report.rms_mm > before + 3.0
    assert workspace.lock("ct") == "locked 6 points" and ct.GetNthControlPointLocked(5)


@pytest.mark.parametrize(("name", "content", "role", "needle"), [
    ("notes.txt", b"hello", "mr", "not an image file"),
    ("scan.nii.gz", b"not gzip at all", "mr", "scan.nii.gz"),
    ("scan.nii", b"\0" * 400, "ct", "scan.nii"),
    ("scan.nii.gz", None, "other", "role 'other'"),
])
def test_a_bad_upload_is_named_in_one_line_and_adds_nothing(workspace, mrml_scene, name, content, role, needle):
    before = mrml_scene.GetNumberOfNodes()
    with pytest.raises(ValueError) as err:
        workspace.load_upload(name, content or b"", role)
    assert needle in str(err.value) and "\n" not in str(err.value)
    assert mrml_scene.GetNumberOfNodes() == before and "mr" not in workspace.nodes


def test_a_label_map_or_a_2d_image_uploaded_as_the_mr_is_refused(workspace, tmp_path):
    import SimpleITK as sitk

    labels = sitk.GetImageFromArray(np.tile(np.arange(4, dtype=np.uint8), (8, 8, 2)))
    flat = sitk.GetImageFromArray(np.random.default_rng(0).random((16, 16)).astype(np.float32))
    for image, needle in ((labels, "label map"), (flat, "2D")):
        path = tmp_path / "up.nii.gz"
        sitk.WriteImage(image, str(path))
        with pytest.raises(ValueError, match=needle):
            workspace.load_upload("up.nii.gz", path.read_bytes(), "mr")


def test_one_synthesis_runs_in_a_child_and_a_second_is_refused(workspace):
    workspace.load_sample()
    opts = TranslationOptions(steps=1, precision="fp32")
    assert workspace.synthesize(opts) == "synthesis started"
    with pytest.raises(ValueError, match="a synthesis is running"):
        workspace.synthesize(opts)
    assert workspace.job.wait(timeout=300)
    status = workspace.poll()
    assert status["state"] == "finished" and status["message"] == "synthetic CT ready", status
    assert workspace.result.sct is not None and workspace.result.segmentation is not None
    assert workspace.result.metrics_table is not None  # the sample's CT in the MR's world is the reference
    rows = workspace.metrics_rows()
    assert rows, rows
    seg = workspace.result.segmentation
    assert seg.GetSegmentation().ContainsRepresentation("Closed surface")  # the vertebrae in 3D
    assert not seg.GetDisplayNode().GetVisibility2DFill() and seg.GetDisplayNode().GetVisibility2DOutline()
    assert workspace.poll()["message"] == ""  # the nodes are added once


def test_results_are_saved_to_the_data_folder(workspace):
    import SimpleITK as sitk

    with pytest.raises(ValueError, match="nothing to save yet"):
        workspace.save()
    workspace.load_sample()  # the case's own point lists: placed, so the registration runs
    workspace.start_registration("rigid")
    workspace.synthesize(TranslationOptions(steps=1, precision="fp32"))
    assert workspace.job.wait(timeout=300) and workspace.poll()["state"] == "finished"
    message = workspace.save()
    out = workspace.data_dir / "results"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["ct_landmarks.mrk.json", "ct_to_mr.h5", "mr_landmarks.mrk.json", "synthetic_ct.nii.gz",
                     "synthetic_ct_vertebrae.nii.gz"] and message == f"saved 5 files to {out}"
    mr = sitk.ReadImage(str(next((workspace.data_dir / "sample").glob("*/phantom/mr_t2w.nii.gz"))))
    sct = sitk.ReadImage(str(out / "synthetic_ct.nii.gz"))
    assert sct.GetSize() == mr.GetSize()
    ct_points = read_markups_json(out / "ct_landmarks.mrk.json").defined()
    mr_points = read_markups_json(out / "mr_landmarks.mrk.json").defined()
    moved = sitk.ReadTransform(str(out / "ct_to_mr.h5"))  # fixed (MR) -> moving (CT), LPS
    errors = [np.linalg.norm(np.array(moved.TransformPoint(tuple(mr_points[k] * [-1, -1, 1]))) - ct_points[k] * [-1, -1, 1])
              for k in mr_points]
    rms = float(np.sqrt(np.mean(np.square(errors))))  # the saved transform leaves the residuals it was fitted with
    assert abs(rms - workspace.live.registration.report.rms_mm) < 0.01 and rms < 5.0, errors


def test_the_model_choice_shows_what_its_card_says():
    from MRtoCTTranslationLib.models.registry import default_model_name

    assert default_model_name() in Workspace.models()
    info = Workspace.model_info(default_model_name())
    assert info["targets"] == ["CT"] and info["steps"] >= 1 and info["synthetic"]
    assert "phantom" in info["about"] and "intended use" in info["about"]
    with pytest.raises(ValueError, match="unknown model .no-such-model.; available: "):
        Workspace.model_info("no-such-model")


def test_serve_listens_on_this_machine_unless_told_and_warns_when_told(tmp_path, monkeypatch, caplog):
    import logging
    import socket

    import mrtoct.web.app as web_app
    from mrtoct.main import main

    calls = []
    monkeypatch.setattr(web_app, "serve", lambda data, host, port: calls.append((data, host, port)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with caplog.at_level(logging.WARNING):
        assert main(["serve", str(tmp_path), "--port", str(port)]) == 0
        assert calls[-1] == (tmp_path.resolve(), "127.0.0.1", port) and "authentication" not in caplog.text
        assert main(["serve", str(tmp_path), "--host", "0.0.0.0", "--port", str(port)]) == 0
    assert calls[-1][1] == "0.0.0.0" and "there is no authentication" in caplog.text
    with socket.socket() as busy:  # a port in use is refused before anything starts
        busy.bind(("127.0.0.1", port))
        busy.listen()
        assert main(["serve", str(tmp_path), "--port", str(port)]) == 2
    assert len(calls) == 2


def test_a_manifest_row_loads_by_subject_and_a_missing_one_is_named(workspace, mrml_scene, tmp_path):
    from SpineCoreLib.manifest import write_manifest

    workspace.load_sample()
    case = next((workspace.data_dir / "sample").glob("*/phantom"))
    rows = [{"subject": "s1", "split": "test", "mr_t2w": str(case / "mr_t2w.nii.gz"),
             "ct_mrworld": str(case / "ct_mrworld.nii.gz"), "mr_landmarks": str(case / "mr_landmarks.mrk.json")}]
    (tmp_path / "m").mkdir()
    manifest = write_manifest(tmp_path / "m" / "manifest.csv", rows)
    assert workspace.load_manifest_row(manifest, "s1") == "loaded s1: mr, reference, mr_landmarks"
    assert workspace.nodes["mr"].GetName() == "s1_mr_t2w"
    before = mrml_scene.GetNumberOfNodes()
    with pytest.raises(ValueError, match="has no row for subject 's9'"):
        workspace.load_manifest_row(manifest, "s9")
    assert mrml_scene.GetNumberOfNodes() == before


def test_the_results_download_as_one_zip(workspace):
    import io
    import zipfile

    with pytest.raises(ValueError, match="nothing to save yet"):
        workspace.results_zip()
    workspace.load_sample()
    workspace.start_registration("rigid")
    names = sorted(zipfile.ZipFile(io.BytesIO(workspace.results_zip())).namelist())
    assert names == ["ct_landmarks.mrk.json", "ct_to_mr.h5", "mr_landmarks.mrk.json"]
    assert not (workspace.data_dir / "results").exists()  # a download writes nothing into the data folder


def test_cancel_kills_the_synthesis_and_adds_nothing(workspace, mrml_scene):
    workspace.load_sample()
    before = mrml_scene.GetNumberOfNodes()
    workspace.synthesize(TranslationOptions(steps=50, precision="fp32"))
    pid = workspace.job.pid
    assert workspace.cancel() == "cancelled: nothing was added"
    assert workspace.poll()["state"] == "cancelled" and workspace.result is None
    assert mrml_scene.GetNumberOfNodes() == before
    with pytest.raises(ProcessLookupError):  # the child and its group are gone
        for _ in range(100):
            os.killpg(pid, 0)
            time.sleep(0.1)
    assert workspace.cancel() == "nothing is running"


def test_the_page_reads_only_inside_the_data_folder(workspace):
    workspace.data_dir.mkdir(parents=True, exist_ok=True)
    assert workspace.in_data("sample/seed0", "case folder") == (workspace.data_dir / "sample" / "seed0").resolve()
    for outside in ("../elsewhere", "/etc", "sample/../../x"):
        with pytest.raises(ValueError, match="is outside the data folder"):
            workspace.in_data(outside, "case folder")
    with pytest.raises(ValueError, match="manifest: give a path inside the data folder"):
        workspace.in_data("  ", "manifest")


def test_serve_without_trame_slicer_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    import socket
    import sys

    from mrtoct.main import main

    monkeypatch.setitem(sys.modules, "trame_slicer", None)  # as if it were not installed
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["serve", str(tmp_path), "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install -e '.[web]'" in err[0], err
