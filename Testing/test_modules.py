"""The two scripted modules, imported and run under the headless stand-in on a real MRML scene."""

from __future__ import annotations

import enum
import hashlib
import importlib
import json
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import pytest
import SimpleITK as sitk

from SpineCoreLib.markups_io import Landmark, LandmarkSet, write_markups_json

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves

MODULES = ("SpineLandmarkRegistration", "MRtoCTTranslation")


def _import(name: str) -> Any:
    """Import a module file; its ScriptedLoadableModuleTest class stays inside it, out of pytest's reach."""
    return importlib.import_module(name)


@pytest.mark.parametrize("name", MODULES)
def test_module_imports_and_describes_itself(slicer_standin: Any, name: str) -> None:
    mod = _import(name)
    module = getattr(mod, name)()
    assert module.parent.title and module.parent.helpText and module.parent.contributors
    expected = {"SpineLandmarkRegistration": "Registration", "MRtoCTTranslation": "Image Synthesis"}[name]
    assert module.parent.categories == [expected]
    assert Path(module.resourcePath(f"UI/{name}.ui")).is_file()
    with pytest.raises(RuntimeError, match="GUI"):
        getattr(mod, f"{name}Widget")()


@pytest.mark.parametrize("name", MODULES)
def test_module_self_test_passes(slicer_standin: Any, name: str) -> None:
    test = getattr(_import(name), f"{name}Test")()
    test.runTest()  # raises on failure, as Slicer's "Reload and Test" does


def test_shared_core_is_a_hidden_module_both_panels_depend_on(slicer_standin: Any) -> None:
    core = _import("SpineCore")
    module = core.SpineCore()
    assert module.parent.hidden is True and module.parent.dependencies == []
    assert not hasattr(core, "SpineCoreWidget")  # no panel
    for name in MODULES:
        visible = getattr(_import(name), name)()
        assert visible.parent.hidden is False and visible.parent.dependencies == ["SpineCore"]
    core.SpineCoreTest().runTest()  # the LPS <-> RAS round trip of an oblique image, as in Slicer


def test_registration_parameter_node_is_stored_in_the_scene(slicer_standin: Any, mrml_scene: Any) -> None:
    mod = _import("SpineLandmarkRegistration")
    params = mod.SpineLandmarkRegistrationLogic().getParameterNode()
    node = params.parameterNode
    assert node.GetClassName() == "vtkMRMLScriptedModuleNode"
    assert node.GetAttribute("ModuleName") == "SpineLandmarkRegistration"
    assert node.GetParameter("levelRange") == "L1-L5"  # default written on creation
    assert node.GetParameter("transformType") == "rigid"

    params.transformType = mod.TransformType.piecewise
    assert node.GetParameter("transformType") == "piecewise"
    volume = mrml_scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CT")
    params.fixedVolume = volume
    assert node.GetNodeReferenceID("fixedVolume") == volume.GetID()
    again = mod.SpineLandmarkRegistrationLogic().getParameterNode()  # singleton: same node, same values
    assert again.parameterNode is node
    assert again.fixedVolume is volume and again.transformType is mod.TransformType.piecewise
    with pytest.raises(TypeError):
        params.fixedVolume = mrml_scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode")


def test_translation_parameter_node_validates(slicer_standin: Any) -> None:
    mod = _import("MRtoCTTranslation")
    params = mod.MRtoCTTranslationLogic().getParameterNode()
    node = params.parameterNode
    # steps 0 is "the model card's default"; precision auto picks what the hardware computes natively
    assert (node.GetParameter("steps"), node.GetParameter("eta"), node.GetParameter("segment")) == ("0", "0.0", "True")
    assert params.precision == "auto"
    params.precision = "fp32"
    assert node.GetParameter("precision") == "fp32"
    with pytest.raises(ValueError):
        params.precision = "fp64"
    params.steps = 1000
    params.eta = 1  # an int is accepted for a float field and stored as one
    params.segment = False
    assert (node.GetParameter("steps"), node.GetParameter("eta"), node.GetParameter("segment")) == ("1000", "1.0", "False")
    assert params.steps == 1000 and params.eta == 1.0 and params.segment is False
    for field, bad in (("steps", -1), ("steps", 1001), ("samples", 33)):
        with pytest.raises(ValueError):
            setattr(params, field, bad)
    assert node.GetParameter("steps") == "1000" and params.samples == 1  # rejected values left no trace


def test_create_landmark_node_makes_named_unplaced_points(slicer_standin: Any, mrml_scene: Any) -> None:
    logic = _import("SpineLandmarkRegistration").SpineLandmarkRegistrationLogic()
    node = logic.createLandmarkNode("L1-L5", "MR-landmarks")
    assert node.GetScene() is mrml_scene and node.GetName() == "MR-landmarks"
    labels = [node.GetNthControlPointLabel(i) for i in range(node.GetNumberOfControlPoints())]
    assert labels == [f"L{i}-{kind}" for i in range(1, 6) for kind in ("body", "spinous")]
    assert node.GetNumberOfUndefinedControlPoints() == 10
    assert node.GetNumberOfDefinedControlPoints() == 0
    assert all(lm.position is None for lm in logic.landmarkSet(node).landmarks)
    with pytest.raises(ValueError, match="unknown vertebral level"):
        logic.createLandmarkNode("L1-X9", "bad")


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_load_case_loads_every_kind_and_leaves_files_alone(slicer_standin: Any, tmp_path: Path) -> None:
    mod = _import("MRtoCTTranslation")
    rng = np.random.default_rng(0)
    image = sitk.GetImageFromArray(rng.normal(size=(4, 5, 6)).astype(np.float32))
    image.SetSpacing((0.7, 1.1, 3.3))
    image.SetOrigin((1.0, 2.0, 3.0))
    for name in ("mr_t1w.nii.gz", "ct.nii.gz"):
        sitk.WriteImage(image, str(tmp_path / name))
    labels = sitk.GetImageFromArray(rng.integers(0, 25, size=(4, 5, 6)).astype(np.int64))
    labels.CopyInformation(image)
    sitk.WriteImage(labels, str(tmp_path / "ct_seg.nii.gz"))
    write_markups_json(tmp_path / "ct_landmarks.mrk.json", LandmarkSet([Landmark("L2-body", np.array([5.0, 6.0, 7.0]))]))
    (tmp_path / "notes.txt").write_text("not loaded")
    before = _digest(tmp_path)

    nodes = mod.MRtoCTTranslationLogic().loadCase(str(tmp_path))

    assert sorted(nodes) == ["ct", "ct_landmarks", "ct_seg", "mr_t1w"]
    assert nodes["ct_seg"].GetClassName() == "vtkMRMLLabelMapVolumeNode"
    assert nodes["ct"].GetName() == f"{tmp_path.name}_ct"
    import slicer.util

    np.testing.assert_array_equal(slicer.util.arrayFromVolume(nodes["ct_seg"]), sitk.GetArrayFromImage(labels))
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(nodes["mr_t1w"]), sitk.GetArrayFromImage(image))
    pos = nodes["ct_landmarks"].GetNthControlPointPositionWorld(0)
    np.testing.assert_allclose(pos, [5.0, 6.0, 7.0])
    assert _digest(tmp_path) == before


def test_load_case_refuses_a_folder_without_case_files(slicer_standin: Any, tmp_path: Path) -> None:
    logic = _import("MRtoCTTranslation").MRtoCTTranslationLogic()
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="none of"):
        logic.loadCase(str(tmp_path))


class _Mode(enum.Enum):
    fast = "fast"
    careful = "careful"


def test_standin_wrapper_covers_each_field_type(slicer_standin: Any, mrml_scene: Any) -> None:
    """The stand-in itself: storage format and validation of every supported field type."""
    pnw = slicer_standin.parameterNodeWrapper
    annotations = {
        "path": Path,
        "mode": _Mode,
        "count": Annotated[int, pnw.Minimum(2)],
        "name": Annotated[str, pnw.Choice(["a", "b"])],
        "ratio": Annotated[float, pnw.Default(0.5)],
        "maybe": Optional[int],  # noqa: UP045 - the form Slicer module files use
        "volume": slicer_standin.vtkMRMLScalarVolumeNode,
    }
    cls = pnw.parameterNodeWrapper(
        type("Params", (), {"__annotations__": annotations, "__module__": __name__, "count": 3, "name": "a"})
    )
    node = mrml_scene.AddNewNodeByClass("vtkMRMLScriptedModuleNode")
    params = cls(node)
    assert params.allParameters == {"path": Path(), "mode": _Mode.fast, "count": 3, "name": "a", "ratio": 0.5,
                                    "maybe": None, "volume": None}
    params.path = "/data/case 1"
    params.mode = _Mode.careful
    params.maybe = 7
    assert (node.GetParameter("path"), node.GetParameter("mode"), node.GetParameter("maybe")) == (
        "/data/case 1", "careful", "7")
    assert params.path == Path("/data/case 1") and params.mode is _Mode.careful and cls(node).maybe == 7
    for field, bad, error in (("count", 1, ValueError), ("name", "c", ValueError), ("count", "3", TypeError),
                              ("mode", "careful", TypeError), ("count", None, ValueError)):
        with pytest.raises(error):
            setattr(params, field, bad)
    with pytest.raises(ValueError, match="not within range"):
        pnw.parameterNodeWrapper(type("Bad", (), {"__annotations__": {"n": Annotated[int, pnw.WithinRange(1, 9)]},
                                                   "__module__": __name__}))


def test_translation_logic_describes_the_bundled_model(slicer_standin: Any) -> None:
    logic = _import("MRtoCTTranslation").MRtoCTTranslationLogic()
    names = [e["name"] for e in logic.availableModels()]
    assert "ddim3d-default" in names
    text = logic.modelDescription("ddim3d-default")
    assert "Held-out t2w: MAE" in text and "Graf" in text and "2.0 mm" in text
    lines = text.splitlines()
    # what it learned from comes before any number, and every number names its cohort
    warning = lines.index("Trained on synthetic phantom data only: not validated on patients, not for clinical use.")
    assert warning < next(i for i, x in enumerate(lines) if x.startswith("Held-out"))
    assert "Training data: phantom cohort train40" in text and "(28 subjects)" in text
    assert all("(on phantom test cohort" in x for x in lines if x.startswith("Held-out"))
    steps = json.loads((Path(__file__).parents[1] / "Resources/Models/ddim3d-default/model.json").read_text())["inference_defaults"]["steps"]
    assert f"Default steps: {steps} (the fewest within 0.3 dB PSNR of 20" in text
    assert "Not in the catalogue" in logic.modelDescription("no-such-model")


def test_model_description_shows_held_out_mr_targets(slicer_standin: Any, tmp_path, monkeypatch) -> None:
    """A latent card's MR-target metrics (0..1000 scale) are shown next to the CT ones in HU."""
    import json
    import shutil

    from MRtoCTTranslationLib.models.registry import resolve

    src = resolve("ddim3d-default")
    dst = tmp_path / "models" / "mr-targets"
    shutil.copytree(src, dst)
    card = json.loads((dst / "model.json").read_text())
    card["name"] = "mr-targets"
    card["metrics"]["held_out"]["t2w->T1w"] = {"mae_body": 61.2, "psnr_body_db": 20.1, "ssim_body": 0.8}
    (dst / "model.json").write_text(json.dumps(card))
    monkeypatch.setenv("SPINEMRTOCT_HOME", str(tmp_path))
    text = _import("MRtoCTTranslation").MRtoCTTranslationLogic().modelDescription("mr-targets")
    assert "Held-out t2w->T1w: MAE 61 of 1000, PSNR 20.1 dB, SSIM 0.800" in text
    assert "Held-out t2w: MAE" in text


def test_a_syndiff_model_is_described_with_its_fixed_steps(slicer_standin: Any, tmp_path, monkeypatch) -> None:
    """A SynDiff card (4 adversarial steps) says its steps are fixed, not a measured default."""
    import json
    import shutil

    from MRtoCTTranslationLib.models.registry import resolve

    dst = tmp_path / "models" / "syndiff-demo"
    shutil.copytree(resolve("ddim3d-default"), dst)
    card = json.loads((dst / "model.json").read_text())
    card["name"], card["architecture"]["kind"] = "syndiff-demo", "syndiff"
    card["diffusion"] = {"schedule": "syndiff-vp", "train_timesteps": 4, "prediction": "image"}
    card["inference_defaults"]["steps"] = 4
    (dst / "model.json").write_text(json.dumps(card))
    monkeypatch.setenv("SPINEMRTOCT_HOME", str(tmp_path))
    text = _import("MRtoCTTranslation").MRtoCTTranslationLogic().modelDescription("syndiff-demo")
    assert "Steps: 4, fixed (SynDiff samples in the steps it was trained with)" in text
    assert "Default steps" not in text


def test_bundled_latent_model_description_lists_every_target_and_the_ct_caveat(slicer_standin: Any) -> None:
    """What the module shows for the shipped multi-target model: every held-out source->target line and
    the advice to use the CT model for CT."""
    text = _import("MRtoCTTranslation").MRtoCTTranslationLogic().modelDescription("latent3d-multitarget")
    for src in ("t1w", "t2w"):
        for target in ("CT", "T1w", "T2w", "PDw", "STIR"):
            if target.lower() != src:
                unit = "HU" if target == "CT" else "of 1000"
                line = next(x for x in text.splitlines() if x.startswith(f"Held-out {src}->{target}: MAE "))
                assert unit in line, line
    assert "use ddim3d-default for synthetic CT" in text
