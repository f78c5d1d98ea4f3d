"""The README's Python console example runs as written against real MRML (the Logic of each module as
``slicer.util.getModuleLogic`` gives it), and each node it names is what it says: a synthetic CT on
the MR's grid, a segmentation, a metrics table, a transform the CT sits under, a new unplaced list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves

README = Path(__file__).resolve().parents[1] / "README.md"


def console_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    example = [b for b in blocks if "getModuleLogic" in b]
    assert len(example) == 1, "the README has one console example"
    return example[0]


def test_the_readme_console_example_runs_as_written(slicer_standin, mrml_scene, capsys):
    space = {"slicer": slicer_standin}
    exec(compile(console_example(), str(README), "exec"), space)  # noqa: S102 - the README's own text
    out, mr = space["out"], space["nodes"]["mr_t2w"]
    assert out.sct.GetImageData().GetDimensions() == mr.GetImageData().GetDimensions()
    assert out.segmentation.GetSegmentation().GetNumberOfSegments() >= 3 and out.metrics_table is not None
    assert space["nodes"]["ct"].GetParentTransformNode() is space["transformNode"]
    assert space["report"].rms_mm < 5.0 and capsys.readouterr().out.startswith("RMS ")
    points = space["new_points"]
    assert points.GetNumberOfControlPoints() == 12 and points.GetNthControlPointLabel(0) == "T12-body"
