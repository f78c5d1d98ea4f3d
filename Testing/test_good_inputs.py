"""Every good input a user can bring to ``mrtoct`` is accepted and gives its output: other voxel types,
offsets, orientations, formats and NIfTI header variants, CT crops without air, point lists in RAS or
LPS with unplaced points, and the project's own outputs fed to the next step. The corpus is in
``Testing/corpora/good_inputs/cases.py``; the chain that makes the project's outputs runs first, through the
same entry point (translate -> segment -> landmarks -> register -> evaluate)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from good_inputs.cases import all_cases
from good_inputs.world import make_world

from mrtoct.main import main
from SpineCoreLib.image_kind import marked_kind
from SpineCoreLib.resample import crop_to_labels

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves

CASES = all_cases()


def _run(argv: list[str], capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 0, f"{' '.join(argv)} refused: {err.strip().splitlines()[-1:] if err.strip() else err}"
    return err


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("goodworld")
    w = make_world(root)
    w["MR_SEG"] = str(Path(w["MR"]).with_name("mr_seg.nii.gz"))
    chain = root / "chain"
    chain.mkdir()
    w.update({"SCT": str(chain / "sct.nii.gz"), "SCT_SEG": str(chain / "sct_seg.nii.gz"),
              "SCT_LM": str(chain / "sct_landmarks.mrk.json"), "CT_SEG_LM": str(chain / "ct_seg_landmarks.mrk.json"),
              "CT_REGISTERED": str(chain / "ct_registered.nii.gz"), "SCT_PLAIN_CROP": str(chain / "sct_plain_crop.nrrd")})
    for argv in (["translate", "--input", w["MR"], "--output", w["SCT"]],
                 ["segment", "--input", w["SCT"], "--output", w["SCT_SEG"], "--landmarks", w["MR_LM"]],
                 ["landmarks", "--labels", w["SCT_SEG"], "--out", w["SCT_LM"]],
                 ["landmarks", "--labels", w["CT_SEG"], "--out", w["CT_SEG_LM"]],
                 ["register", "--fixed-landmarks", w["MR_LM"], "--moving-landmarks", w["CT_LM"], "--fixed", w["MR"],
                  "--moving", w["CT_OWN"], "--output-moving", w["CT_REGISTERED"], "--output-transform",
                  str(chain / "mr_from_ct.tfm")]):
        assert main(argv) == 0, argv
    sct = sitk.ReadImage(w["SCT"])
    assert marked_kind(sct) == "ct"  # the project's synthetic CT says what it is
    plain = sitk.GetImageFromArray(sitk.GetArrayFromImage(sct))  # the mark dropped, as another tool would
    plain.CopyInformation(sct)
    crop = crop_to_labels(plain, sitk.ReadImage(w["MR_SEG"]), margin=1)
    assert float(sitk.GetArrayViewFromImage(crop).min()) > -900, "the plain crop must hold no air"
    sitk.WriteImage(crop, w["SCT_PLAIN_CROP"])
    return w


def _digest(root: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def _fill(argv: list[str], names: dict[str, str]) -> list[str]:
    out = []
    for a in argv:
        for key in sorted(names, key=len, reverse=True):  # {MR_LM} before {MR}
            a = a.replace("{" + key + "}", names[key])
        assert "{" not in a, f"unknown name in {a}"
        out.append(a)
    return out


def test_the_corpus_is_large_and_covers_every_reading_command():
    assert len(CASES) >= 60
    assert {c[1][0] for c in CASES} == {"translate", "segment", "evaluate", "register", "landmarks"}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_good_input_is_accepted(case, world, tmp_path, capsys):
    _name, argv = case
    out = tmp_path / "out"
    out.mkdir()
    names = {**world, "OUT": str(out / ("o.json" if argv[0] == "evaluate" and "--json" in argv else
                                       "o.csv" if argv[0] == "evaluate" else "o.nii.gz")),
             "OUT_SEG_NRRD": str(out / "o.seg.nrrd"), "OUT_TFM": str(out / "o.tfm"), "OUT_MRK": str(out / "o.mrk.json")}
    root = Path(world["MR"]).parents[1]
    before = _digest(root)
    filled = _fill(argv, names)
    err = _run(filled, capsys)
    assert "Traceback" not in err
    written = sorted(p.name for p in out.iterdir())
    expected = sorted(Path(a).name for a in filled if a.startswith(str(out)))
    assert written == expected, f"written {written}, expected {expected}"
    assert _digest(root) == before, "an input was changed"
    if argv[0] in ("translate", "segment"):
        result = sitk.ReadImage(filled[filled.index("--output") + 1])
        assert np.any(sitk.GetArrayViewFromImage(result)), "an empty result"
