"""Shared pytest fixtures: the module folders on sys.path, a real headless MRML scene, the Slicer stand-in.

Slicer is imported only inside fixtures, so tests of the pure core never pay for it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTING_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTING_DIR.parent
MODULE_DIRS = (REPO_ROOT / "SpineCore", REPO_ROOT / "SpineLandmarkRegistration", REPO_ROOT / "MRtoCTTranslation")

if str(TESTING_DIR) not in sys.path:
    sys.path.insert(0, str(TESTING_DIR))  # for the `headless` package


@pytest.fixture(scope="session", autouse=True)
def module_paths() -> tuple[Path, ...]:
    """The three module folders on sys.path, so ``import MRtoCTTranslation`` works as in Slicer."""
    for d in MODULE_DIRS:
        if str(d) not in sys.path:
            sys.path.insert(0, str(d))
    return MODULE_DIRS


@pytest.fixture(scope="session")
def headless_slicer() -> Any:
    """One scene with all module logics for the session (building it takes about 1.5 s)."""
    from headless.scene import HeadlessSlicer

    return HeadlessSlicer()


@pytest.fixture
def mrml_scene(headless_slicer: Any) -> Iterator[Any]:
    """The session's scene, emptied before and after the test, installed as ``slicer.mrmlScene``."""
    headless_slicer.install()
    headless_slicer.clear()
    yield headless_slicer.scene
    headless_slicer.clear()


@pytest.fixture
def slicer_standin(mrml_scene: Any) -> Any:
    """The ``slicer`` module with the stand-in for ScriptedLoadableModule & co. installed on a clean scene."""
    from headless import slicer_standin as standin

    return standin.install()


def load_bundled_model(name: str) -> Any:
    """A bundled model by name, on the CPU; a checkout must have it, so failing to load fails the test
    loudly (never a skip)."""
    from MRtoCTTranslationLib.models.registry import resolve
    from MRtoCTTranslationLib.translator import load_model

    try:
        return load_model(resolve(name), "cpu")
    except Exception as exc:
        pytest.fail(f"bundled model {name} cannot be loaded: {exc}")


def tiny_cohort(out: Path, cases: int, seed: int) -> Path:
    """A manifest of ``cases`` two-level phantom cases at 4 mm for training tests, the last one in split val."""
    from SpineCoreLib.phantom import PhantomOptions, generate_cohort

    opts = PhantomOptions(levels=["L3", "L4"], ct_spacing=4.0, mr_spacing=(2.0, 2.0, 4.0))
    m = generate_cohort(out, cases, seed=seed, opts=opts, split="train")
    text = m.read_text().splitlines()
    m.write_text("\n".join([*text[:-1], text[-1].replace(",train,", ",val,")]) + "\n")
    return m
