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

HELPERS = (TESTING_DIR / "harness", TESTING_DIR / "corpora")  # headless, qt_harness, cpu_kinds; the input corpora
for _helper in HELPERS:
    if str(_helper) not in sys.path:
        sys.path.insert(0, str(_helper))


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


def tiny_train_config(tmp: Path, manifest: str, network: dict, name: str, **over: Any) -> Path:
    """A three-step training config (4 mm, 16x16x8 patches, validation and a checkpoint at the end) for
    ``tiny_cohort`` data, written as ``tmp/<name>.yaml``; ``over`` replaces any key."""
    import yaml

    cfg = {"manifest": manifest, "network": network, "spacing_mm": 4.0, "patch_size": [16, 16, 8],
           "batch_size": 1, "steps": 3, "val_every": 3, "val_cases": 1, "checkpoint_every": 3,
           "out_dir": str(tmp / "run"), "name": name, **over}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def assert_translates_the_same_twice(model: Path, mr: str, tmp: Path) -> None:
    """``mrtoct translate`` with ``model`` twice on ``mr``: identical outputs on the MR's grid."""
    import numpy as np
    import SimpleITK as sitk

    from mrtoct.main import main

    outs = [tmp / f"sct{n}.nii.gz" for n in range(2)]
    for out in outs:
        assert main(["translate", "--input", mr, "--output", str(out), "--model", str(model)]) == 0
    a, b = (sitk.GetArrayFromImage(sitk.ReadImage(str(o))) for o in outs)
    assert np.array_equal(a, b) and a.shape == sitk.GetArrayFromImage(sitk.ReadImage(mr)).shape


def torchrun_train(config: Path, port: int) -> None:
    """``mrtoct train`` in two processes under torchrun (one thread each); asserts it succeeded."""
    import os
    import subprocess

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
           "-m", "mrtoct.main", "train", "--config", str(config)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
