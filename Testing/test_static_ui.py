"""Static checks of the module folders: .ui widget names, CMake file lists, and the core/Slicer boundary."""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MODULES = ("SpineLandmarkRegistration", "MRtoCTTranslation")  # the two with a panel
ALL_MODULES = ("SpineCore", *MODULES)  # and the hidden one that carries the shared core
UI_NAME = re.compile(r"\bui\.([A-Za-z_]\w*)")
SLICER_IMPORT = re.compile(r"^\s*(import|from)\s+(slicer|qt|ctk)\b", re.MULTILINE)


def _widget_names(ui_file: Path) -> set[str]:
    return {w.get("name") for w in ET.parse(ui_file).getroot().iter("widget")}


@pytest.mark.parametrize("name", MODULES)
def test_ui_parses_and_has_every_widget_the_module_uses(name: str) -> None:
    ui_file = REPO / name / "Resources" / "UI" / f"{name}.ui"
    root = ET.parse(ui_file).getroot()
    top = root.find("widget")
    assert top is not None and top.get("class") == "qMRMLWidget"
    widgets = _widget_names(ui_file)
    used = set(UI_NAME.findall((REPO / name / f"{name}.py").read_text(encoding="utf-8")))
    assert {"applyButton", "progressBar", "statusLabel"} <= used
    assert used - widgets == set(), f"{name}.py uses widgets missing from {ui_file.name}"


@pytest.mark.parametrize("name", MODULES)
def test_ui_parameter_names_match_parameter_node_fields(name: str) -> None:
    root = ET.parse(REPO / name / "Resources" / "UI" / f"{name}.ui").getroot()
    bound = {
        p.findtext("string")
        for p in root.iter("property")
        if p.get("name") == "SlicerParameterName"
    }
    source = (REPO / name / f"{name}.py").read_text(encoding="utf-8")
    block = re.search(r"@parameterNodeWrapper\nclass \w+:\n(.*?)\n\n\n", source, re.DOTALL)
    assert block, "no @parameterNodeWrapper class found"
    fields = set(re.findall(r"^    (\w+):", block.group(1), re.MULTILINE))
    assert bound and bound <= fields, f"unknown parameters in .ui: {bound - fields}"
    synced = re.search(r"HAND_SYNCED = (\{.*?\})", source, re.DOTALL)  # combos synced by the widget's code
    by_hand = set(ast.literal_eval(synced.group(1)).values()) if synced else set()
    assert not bound & by_hand and fields - bound == by_hand, f"parameters with no widget: {fields - bound - by_hand}"


def _cmake_listed(name: str) -> set[str]:
    text = (REPO / name / "CMakeLists.txt").read_text(encoding="utf-8")
    block = re.search(r"set\(MODULE_PYTHON_SCRIPTS(.*?)\)", text, re.DOTALL)
    assert block, "no MODULE_PYTHON_SCRIPTS in CMakeLists.txt"
    return {s.replace("${MODULE_NAME}", name) for s in block.group(1).split()}


@pytest.mark.parametrize("name", ALL_MODULES)
def test_every_python_file_is_listed_in_cmake(name: str) -> None:
    folder = REPO / name
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*.py") if "__pycache__" not in p.parts}
    listed = _cmake_listed(name)
    assert on_disk - listed == set(), "not listed in CMakeLists.txt, so not packaged"
    assert listed - on_disk == set(), "listed in CMakeLists.txt but missing"


@pytest.mark.parametrize("name", ALL_MODULES)
def test_cmake_lists_resources_that_exist(name: str) -> None:
    text = (REPO / name / "CMakeLists.txt").read_text(encoding="utf-8")
    block = re.search(r"set\(MODULE_PYTHON_RESOURCES(.*?)\)", text, re.DOTALL)
    assert block
    for item in block.group(1).split():
        assert (REPO / name / item.replace("${MODULE_NAME}", name)).is_file(), item
    assert "slicer_add_python_unittest(SCRIPT ${MODULE_NAME}.py)" in text


@pytest.mark.parametrize("name", ALL_MODULES)
def test_core_lib_does_not_import_slicer(name: str) -> None:
    lib = REPO / name / f"{name}Lib"
    core = [p for p in lib.rglob("*.py") if "mrml" not in p.relative_to(lib).parts[:1]]
    assert core, f"no core files under {lib}"
    offenders = [p.relative_to(REPO).as_posix() for p in core if SLICER_IMPORT.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_import_pattern_catches_what_it_should() -> None:
    hits = ["import slicer", "from slicer.util import x", "  import qt", "import ctk"]
    misses = ["import slicerx", "# uses slicer", "from .mrml import slicer_nodes"]
    assert all(SLICER_IMPORT.search(h) for h in hits)
    assert not any(SLICER_IMPORT.search(m) for m in misses)


def _gui_uses(source: str) -> list[str]:
    """``slicer.app``/``slicer.mrmlScene`` attribute uses and qt/ctk imports in code (not in docstrings)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "slicer":
            if node.attr in ("app", "mrmlScene"):
                found.append(f"slicer.{node.attr}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [n for n in names if n.split(".")[0] in ("qt", "ctk")]
    return found


def test_gui_use_detector_sees_code_not_docstrings() -> None:
    assert _gui_uses('"""slicer.app is not used"""\nimport slicer\n') == []
    code = "import slicer\nfrom ctk import x\nimport qt\na = slicer.app.x\nb = slicer.mrmlScene\n"
    assert sorted(_gui_uses(code)) == ["ctk", "qt", "slicer.app", "slicer.mrmlScene"]


def test_mrml_layer_uses_no_gui_and_no_global_scene() -> None:
    for name in ALL_MODULES:
        files = list((REPO / name / f"{name}Lib" / "mrml").glob("*.py"))
        assert files
        for p in files:
            assert _gui_uses(p.read_text(encoding="utf-8")) == [], p.name


def _long_functions(source: str, limit: int) -> list[str]:
    return [f"{n.name} ({n.end_lineno - n.lineno + 1} lines)" for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.end_lineno - n.lineno + 1 > limit]


def test_long_function_finder_counts_whole_definitions() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    assert _long_functions(f"def f():\n{body}\n", 60) == ["f (61 lines)"]
    assert _long_functions(f"def f():\n{body}\n", 61) == []


def test_no_function_in_the_core_is_over_60_lines() -> None:
    """Small functions that each do one thing: setup, step, validation and checkpoint apart."""
    packages = [REPO / name / f"{name}Lib" for name in ALL_MODULES] + [REPO / "mrtoct"]
    long = [f"{p.relative_to(REPO)}: {f}" for pkg in packages for p in sorted(pkg.rglob("*.py"))
            for f in _long_functions(p.read_text(encoding="utf-8"), 60)]
    assert long == []


def _cmake_block(name: str, variable: str) -> list[str]:
    text = (REPO / name / "CMakeLists.txt").read_text(encoding="utf-8")
    block = re.search(rf"set\({variable}(.*?)\)", text, re.DOTALL)
    assert block, f"no {variable} in {name}/CMakeLists.txt"
    return [s.replace("${MODULE_NAME}", name) for s in block.group(1).split()]


def _resources_read(source: str) -> set[str]:
    """Files a module file reads from its Resources folder: ``resourcePath("X")`` and
    ``... / "Resources" / "X"`` both name ``Resources/X``."""
    found = {f"Resources/{m}" for m in re.findall(r"resourcePath\(\s*f?\"([^\"{}]+)\"", source)}
    found |= {f"Resources/{m}" for m in re.findall(r"\"Resources\"\s*/\s*\"([^\"]+)\"", source)}
    return found


def test_resource_reader_finds_both_spellings() -> None:
    code = 'a = self.resourcePath("UI/X.ui")\nb = Path(__file__).parent / "Resources" / "requirements.txt"\n'
    assert _resources_read(code) == {"Resources/UI/X.ui", "Resources/requirements.txt"}


@pytest.mark.parametrize("name", MODULES)
def test_cmake_installs_every_resource_the_module_reads(name: str) -> None:
    read = _resources_read((REPO / name / f"{name}.py").read_text(encoding="utf-8"))
    assert f"Resources/UI/{name}.ui" in read
    assert read <= set(_cmake_block(name, "MODULE_PYTHON_RESOURCES"))


def test_cmake_installs_every_bundled_model_where_the_registry_looks() -> None:
    from MRtoCTTranslationLib.models import registry

    on_disk = {f"{d.name}/{f}" for d in (REPO / "Resources" / "Models").iterdir() if d.is_dir()
               for f in ("model.json", "model.safetensors")}
    assert len(on_disk) >= 10 and set(_cmake_block("MRtoCTTranslation", "MODULE_MODELS")) == on_disk
    text = (REPO / "MRtoCTTranslation" / "CMakeLists.txt").read_text(encoding="utf-8")
    assert "DESTINATION ${Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR}/Resources/Models/${model_dir}" in text
    # the registry looks in <the folder holding MRtoCTTranslationLib>/Resources/Models: in an installed
    # extension that folder is the scripted-modules folder, where CMake installs the models
    assert Path(registry.__file__).resolve().parents[2] == REPO / "MRtoCTTranslation"


def test_extension_urls_point_at_files_in_the_repository() -> None:
    text = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    urls = re.findall(r"set\(EXTENSION_(?:ICONURL|SCREENSHOTURLS) \"([^\"]+)\"\)", text)
    assert len(urls) == 2
    for url in urls:
        path = url.split("/SlicerSpineMRtoCT/main/", 1)[1]
        assert (REPO / path).is_file(), url


def test_no_scene_collection_is_left_unreleased() -> None:
    """``vtkMRMLScene.GetNodesByClass`` hands back a collection its caller must release (Slicer's own
    ``slicer.util.getNodesByClass`` calls ``UnRegister``); the modules walk nodes with
    ``GetNthNodeByClass`` instead."""
    sources = [p for name in ALL_MODULES for p in (REPO / name).rglob("*.py")]
    sources += list((REPO / "Testing" / "harness" / "headless").rglob("*.py"))
    offenders = [f"{p.relative_to(REPO)}:{i}" for p in sources
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if re.search(r"\.GetNodesByClass\(", line) and "UnRegister" not in line]
    assert offenders == []
