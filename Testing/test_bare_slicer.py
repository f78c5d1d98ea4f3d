"""What a fresh Slicer 5.10 has: numpy, scipy, SimpleITK and vtk, not torch. Both module files must load,
and everything their panels call while being built must work, before the dependency prompt can be
shown; the dependency lists must ask only for what Slicer lacks, in versions that fit together."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOT_IN_SLICER = ("torch", "monai", "safetensors", "einops")

CHILD = textwrap.dedent('''
    import importlib.abc, json, sys
    BLOCKED = set(sys.argv[1].split(","))

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is not installed in this Slicer")
            return None

    sys.meta_path.insert(0, Block())
    sys.path[:0] = sys.argv[2].split("|")
    from headless.scene import HeadlessSlicer
    from headless import slicer_standin

    HeadlessSlicer().install()
    slicer_standin.install()
    from qt_harness.install import install as install_qt

    install_qt()  # real Qt widgets: the panels are built as in Slicer
    import SpineCore, SpineLandmarkRegistration, MRtoCTTranslation

    logic = MRtoCTTranslation.MRtoCTTranslationLogic()
    params = logic.getParameterNode()
    names = [e["name"] for e in logic.availableModels()]
    out = {
        "models": names,
        "description": logic.modelDescription("ddim3d-default"),
        "targets": logic.modelTargets("latent3d-multitarget"),
        "steps": params.steps,
        "missing": logic.missingDependencies(),
        "registration": SpineLandmarkRegistration.SpineLandmarkRegistrationLogic().getParameterNode().levelRange,
        "loaded": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED),
    }
    panels = {}
    for module in (SpineLandmarkRegistration, MRtoCTTranslation):
        widget = getattr(module, module.__name__ + "Widget")()
        widget.setup()
        panels[module.__name__] = widget.ui.applyButton.text
    out["panels"] = panels
    out["model_combo"] = [widget.ui.modelComboBox.itemText(i) for i in range(widget.ui.modelComboBox.count)]
    out["loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print(json.dumps(out))
''')


def _run_bare(blocked: tuple[str, ...]) -> dict:
    paths = [REPO / "Testing" / "harness", REPO / "SpineCore", REPO / "SpineLandmarkRegistration", REPO / "MRtoCTTranslation"]
    r = subprocess.run([sys.executable, "-c", CHILD, ",".join(blocked), "|".join(map(str, paths))],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_modules_load_and_both_panels_build_without_torch():
    out = _run_bare(NOT_IN_SLICER)
    assert out["loaded"] == []
    assert out["panels"] == {"SpineLandmarkRegistration": "Apply", "MRtoCTTranslation": "Apply"}
    assert "ddim3d-default" in out["model_combo"]
    assert {"ddim3d-default", "latent3d-multitarget", "pix2pix3d-baseline"} <= set(out["models"])
    assert "Held-out t2w: MAE" in out["description"] and "Default steps: 2" in out["description"]
    assert out["targets"] == ["CT", "T1w", "T2w", "PDw", "STIR"]
    assert out["missing"] == ["torch", "monai", "einops", "safetensors"]  # what the Apply prompt offers
    assert out["registration"] == "L1-L5"


def test_the_blocker_blocks():
    r = subprocess.run([sys.executable, "-c", CHILD.replace("import SpineCore,", "import torch, SpineCore,"),
                        "torch", str(REPO / "Testing" / "harness")], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "torch is not installed in this Slicer" in r.stderr


def _requirements(module: str) -> dict[str, str]:
    p = REPO / module / "Resources" / "requirements.txt"
    if not p.is_file():
        return {}
    lines = [x.split("#")[0].strip() for x in p.read_text(encoding="utf-8").splitlines()]
    return {re.split(r"[=<>!~ ]", x)[0].lower(): x for x in lines if x}


def test_dependencies_ask_only_for_what_slicer_lacks_in_versions_that_fit(slicer_standin):
    import importlib.metadata

    import MRtoCTTranslation

    translation = _requirements("MRtoCTTranslation")
    assert not {"simpleitk", "numpy", "scipy", "vtk", "torch"} & set(translation)  # Slicer's own, or the extension's
    assert _requirements("SpineLandmarkRegistration") == {}  # it imports only what Slicer bundles
    names = {"pyyaml": "yaml"}
    assert {names.get(k, k) for k in translation} | {"torch"} == set(MRtoCTTranslation.CHILD_MODULES)
    # MONAI pinned to the tested minor release; the torch range asked of the PyTorch extension fits it
    assert translation["monai"] == "monai==1.6.*"
    assert importlib.metadata.version("monai").startswith("1.6.")
    monai_torch = [r for r in importlib.metadata.requires("monai") if r.startswith("torch") and "extra" not in r]
    assert monai_torch == ["torch>=2.8.0"] and MRtoCTTranslation.TORCH_REQUIREMENT == ">=2.8"
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"monai==1.6.*"' in pyproject and '"torch>=2.8"' in pyproject
