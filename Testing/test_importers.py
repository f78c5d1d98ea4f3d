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


def test_synthrad_task1_subjects_of_both_editions(tmp_path):
    for edition, ext, regions in (("synthrad2023", "nii.gz", ("brain", "pelvis")),
                                  ("synthrad2025", "mha", ("HN", "TH", "AB"))):
        src = tmp_path / edition
        for i, region in enumerate(regions):
            subject = src / "Task1" / region / f"1{region[0]}A00{i}"
            for name in ("mr", "ct", "mask"):
                _image(subject / f"{name}.{ext}")
        _image(src / "Task1" / regions[0] / "1XA999" / f"mr.{ext}")  # no CT: not a pair, left out
        (src / "Task1" / "overview").mkdir()
        out = tmp_path / f"out-{edition}"
        assert main(["import", edition, str(src), "--out", str(out)]) == 0
        rows = read_manifest(out / "manifest.csv")
        assert [r["region"] for r in rows] == list(regions)
        assert all(r["mr"].endswith(f"mr.{ext}") and r["ct_mrworld"].endswith(f"ct.{ext}")
                   and r["mask"].endswith(f"mask.{ext}") for r in rows)
        other = "synthrad2025" if edition == "synthrad2023" else "synthrad2023"
        assert main(["import", other, str(src), "--out", str(tmp_path / f"wrong-{edition}")]) == 2  # other layout
        assert main(["import", edition, str(src / "Task1"), "--out", str(tmp_path / f"again-{edition}")]) == 0


def test_verse_ct_labels_and_centroids_as_point_lists(tmp_path):
    """Centroids in other axis codes than the image's are carried over axis by axis (an opposite code counts
    from the far end), then placed by the CT's geometry; NaN centroids are left out."""
    import json

    from SpineCoreLib.markups_io import read_markups_json

    src = tmp_path / "verse"
    ct = sitk.GetImageFromArray(np.full((14, 12, 10), -1000, np.int16))  # size (i, j, k) = (10, 12, 14)
    ct.SetSpacing((0.8, 0.9, 1.5))
    ct.SetOrigin((5.0, -7.0, 30.0))  # identity direction: i to L, j to P, k to S (axis codes L, P, S)
    stem = "sub-verse900_dir-ax"
    (src / "rawdata" / "sub-verse900").mkdir(parents=True)
    sitk.WriteImage(ct, str(src / "rawdata" / "sub-verse900" / f"{stem}_ct.nii.gz"))
    deriv = src / "derivatives" / "sub-verse900"
    _image(deriv / f"{stem}_seg-vert_msk.nii.gz")
    (deriv / f"{stem}_seg-subreg_ctd.json").write_text(json.dumps(
        [{"direction": ["P", "I", "R"]}, {"label": 22, "X": 4.0, "Y": 3.0, "Z": 2.5},
         {"label": 26, "X": 1.0, "Y": 1.0, "Z": 1.0}, {"label": 23, "X": float("nan"), "Y": 1.0, "Z": 1.0}]))
    out = tmp_path / "out"
    assert main(["import", "verse", str(src), "--out", str(out)]) == 0
    (row,) = read_manifest(out / "manifest.csv")
    assert row["subject"] == stem and row["ct"].endswith(f"{stem}_ct.nii.gz") and row["ct_seg"].endswith("msk.nii.gz")
    points = read_markups_json(row["ct_landmarks"]).defined()
    assert sorted(points) == ["L3-body", "S1-body"]
    index = (10 - 2.5, 4.0, 14 - 3.0)  # i (L) from R: far end; j (P) from P: as is; k (S) from I: far end
    lps = np.array([5.0 + 0.8 * index[0], -7.0 + 0.9 * index[1], 30.0 + 1.5 * index[2]])
    np.testing.assert_allclose(points["L3-body"], lps * [-1, -1, 1], atol=1e-5)
    assert main(["import", "verse", str(tmp_path / "out"), "--out", str(tmp_path / "o2")]) == 2  # not VerSe


def test_spider_masks_relabelled_to_verse_ids_and_the_caudal_level(tmp_path, capsys):
    """SPIDER's values (vertebrae 1-25 from the bottom, canal 100, partly visible 101-125, discs 201-225)
    become VerSe IDs, discs 100 + the vertebra above, the canal CANAL_LABEL; the geometry is the mask's."""
    from SpineCoreLib.levels import CANAL_LABEL

    src = tmp_path / "spider"
    values = np.array([0, 1, 2, 100, 101, 201, 202, 77], np.uint8)
    mask = sitk.GetImageFromArray(np.resize(values, (2, 4, 8)))
    mask.SetSpacing((0.6, 0.6, 3.3))
    mask.SetOrigin((1.0, 2.0, 3.0))
    for name in ("1_t1", "1_t2", "2_t2_SPACE"):
        _image(src / "images" / f"{name}.mha")
    (src / "masks").mkdir()
    for name in ("1_t1", "1_t2"):
        sitk.WriteImage(mask, str(src / "masks" / f"{name}.mha"))
    _image(src / "images" / "notes_t2.mha")  # not <n>_<series>.mha: left alone
    before = _digest(src)
    out = tmp_path / "out"
    assert main(["import", "spider", str(src), "--out", str(out)]) == 0
    rows = {r["subject"]: r for r in read_manifest(out / "manifest.csv")}
    assert set(rows) == {"spider1", "spider2"}
    assert rows["spider1"]["mr_t1w"].endswith("images/1_t1.mha") and rows["spider1"]["mr_t2w"].endswith("1_t2.mha")
    assert rows["spider2"]["mr_t2w_space"].endswith("2_t2_SPACE.mha") and not rows["spider2"].get("mr_t2w_space_seg")
    seg = sitk.ReadImage(rows["spider1"]["mr_seg"])
    assert np.allclose(seg.GetSpacing(), mask.GetSpacing()) and np.allclose(seg.GetOrigin(), mask.GetOrigin())
    got = dict(zip(np.resize(values, (2, 4, 8)).ravel().tolist(), sitk.GetArrayFromImage(seg).ravel().tolist(), strict=True))
    assert got == {0: 0, 1: 24, 2: 23, 100: CANAL_LABEL, 101: 24, 201: 124, 202: 123, 77: 0}
    assert _digest(src) == before  # the dataset is only read
    assert main(["import", "spider", str(src), "--out", str(tmp_path / "s1"), "--caudal-level", "S1"]) == 0
    (row1,) = [r for r in read_manifest(tmp_path / "s1" / "manifest.csv") if r["subject"] == "spider1"]
    got = dict(zip(np.resize(values, (2, 4, 8)).ravel().tolist(),
                   sitk.GetArrayFromImage(sitk.ReadImage(row1["mr_t1w_seg"])).ravel().tolist(), strict=True))
    assert (got[1], got[2], got[201], got[202]) == (26, 24, 126, 124)  # S1, then L5: no L6 in between
    capsys.readouterr()
    assert main(["import", "spider", str(src), "--out", str(tmp_path / "x"), "--caudal-level", "L9"]) == 2
    assert "--caudal-level" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["import", "bids", str(src), "--out", str(tmp_path / "y"), "--caudal-level", "S1"]) == 2
    assert "spider format only" in capsys.readouterr().err
    assert main(["import", "spider", str(tmp_path / "out"), "--out", str(tmp_path / "z")]) == 2  # not SPIDER
    assert "images/<n>_t1.mha" in capsys.readouterr().err
