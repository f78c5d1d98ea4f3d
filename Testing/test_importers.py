"""Importers on tiny fake trees of each layout: the manifest lists every subject's files where the
layout puts them, nothing is copied, and a folder in another layout is refused saying what was expected."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from mrtoct.main import main
from SpineCoreLib.manifest import read_manifest


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((3, 4, 5), np.int16)), str(path))


def _digest(root: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_bids_subjects_and_sessions_become_rows(tmp_path, capsys):
    src = tmp_path / "bids"
    _image(src / "sub-01" / "anat" / "sub-01_T1w.nii.gz")
    _image(src / "sub-01" / "anat" / "sub-01_T2w.nii.gz")
    _image(src / "sub-01" / "anat" / "sub-01_ct.nii.gz")
    _image(src / "sub-02" / "ses-a" / "anat" / "sub-02_ses-a_run-1_T2w.nii.gz")
    _image(src / "sub-02" / "ses-a" / "anat" / "sub-02_ses-a_run-2_T2w.nii.gz")
    (src / "sub-02" / "ses-a" / "anat" / "sub-02_ses-a_T2w.json").write_text("{}")
    (src / "participants.tsv").write_text("participant_id\nsub-01\nsub-02\n")
    before = _digest(src)
    out = tmp_path / "out"
    assert main(["import", "bids", str(src), "--out", str(out)]) == 0
    assert "2 subject(s)" in capsys.readouterr().out
    rows = {r["subject"]: r for r in read_manifest(out / "manifest.csv")}
    assert set(rows) == {"sub-01", "sub-02_ses-a"}
    assert rows["sub-01"]["mr_t1w"].endswith("sub-01/anat/sub-01_T1w.nii.gz")
    assert rows["sub-01"]["ct"].endswith("sub-01_ct.nii.gz") and rows["sub-01"]["mr_t2w"].endswith("_T2w.nii.gz")
    assert rows["sub-02_ses-a"]["mr_t2w"].endswith("run-1_T2w.nii.gz") and not rows["sub-02_ses-a"]["mr_t1w"]
    assert _digest(src) == before and [p.name for p in out.iterdir()] == ["manifest.csv"]  # nothing copied
    assert main(["import", "bids", str(src), "--out", str(out)]) == 2  # an existing manifest is kept
    assert "--overwrite" in capsys.readouterr().err


def test_a_folder_in_another_layout_is_refused_with_what_was_expected(tmp_path, capsys):
    src = tmp_path / "flat"
    _image(src / "patient1" / "mr.nii.gz")
    out = tmp_path / "out"
    assert main(["import", "bids", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sub-<label>/[ses-<label>/]anat/" in err and not out.exists()
    assert main(["import", "bids", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "is not a folder" in capsys.readouterr().err
