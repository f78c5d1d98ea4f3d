"""``mrtoct phantom`` from the command line: it writes a cohort, and bad input writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mrtoct.main import main


def _run(args: list[str]) -> subprocess.CompletedProcess:
    code = "import sys; from mrtoct.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)


def test_writes_cases_manifest_and_figure(tmp_path):
    out, fig = tmp_path / "cohort", tmp_path / "fig.png"
    r = _run(["phantom", "--out", str(out), "--cases", "2", "--seed", "1", "--levels", "L2-L3",
              "--ct-spacing", "3", "--mr-spacing", "2,2,4", "--figure", str(fig), "--split", "test"])
    assert r.returncode == 0, r.stderr
    lines = (out / "manifest.csv").read_text().splitlines()
    assert len(lines) == 3 and all(",test," in ln for ln in lines[1:])
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list(out.glob("*/truth.json"))) == 2


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--levels", "L9-L10"], "unknown vertebral level"),
        (["--levels", "L5-L1"], "cranial first"),
        (["--ct-spacing", "0"], "--ct-spacing must be between 0.1 and 10 mm"),
        (["--ct-spacing", "-2"], "--ct-spacing must be between 0.1 and 10 mm"),
        (["--mr-spacing", "1,0,3"], "--mr-spacing"),
        (["--mr-spacing", "1,3"], "--mr-spacing"),
        (["--cases", "0"], "--cases must be at least 1"),
        (["--extra-contrasts", "flair"], "unknown"),
    ],
)
def test_bad_input_exits_nonzero_with_one_line_and_writes_nothing(tmp_path, capsys, args, needle):
    out = tmp_path / "never"
    code = main(["phantom", "--out", str(out), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert needle in err and len(err.splitlines()) == 1 and err.startswith("mrtoct phantom: error:")
    assert not out.exists()


def test_non_empty_output_needs_overwrite_and_keeps_user_files(tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    mine = out / "notes.txt"
    mine.write_text("my file")
    assert main(["phantom", "--out", str(out), "--levels", "L3"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert main(["phantom", "--out", str(out), "--levels", "L3", "--ct-spacing", "3", "--mr-spacing", "2,2,4",
                 "--overwrite"]) == 0
    assert mine.read_text() == "my file"
    assert (out / "manifest.csv").exists()


def test_relative_output_folder_gives_a_manifest_that_resolves(tmp_path, monkeypatch):
    from SpineCoreLib.manifest import read_manifest

    monkeypatch.chdir(tmp_path)
    assert main(["phantom", "--out", "rel/cohort", "--levels", "L4", "--ct-spacing", "3", "--mr-spacing", "2,2,4"]) == 0
    text = (tmp_path / "rel/cohort/manifest.csv").read_text()
    assert "rel/cohort" not in text  # paths are relative to the manifest's folder
    monkeypatch.chdir("/")
    row = read_manifest(tmp_path / "rel/cohort/manifest.csv")[0]
    assert Path(row["ct"]).is_file() and Path(row["truth"]).is_file()


def test_no_temporary_files_are_left(tmp_path):
    out = tmp_path / "c"
    assert main(["phantom", "--out", str(out), "--levels", "L4", "--ct-spacing", "3", "--mr-spacing", "2,2,4"]) == 0
    assert not [p for p in Path(out).rglob("*") if p.name.startswith(".")]


def test_an_interrupted_cohort_leaves_nothing_behind(tmp_path, monkeypatch):
    """A failure in the second case (as a full disk would cause) leaves no case, no manifest and no
    staging folder: the cohort is made in a staging folder and moved into --out only when complete."""
    from SpineCoreLib.phantom import cohort as cohort_mod

    real = cohort_mod.generate_case
    calls = []

    def failing(out_dir, subject, seed, opts):
        calls.append(subject)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(out_dir, subject, seed, opts)

    monkeypatch.setattr(cohort_mod, "generate_case", failing)
    out = tmp_path / "cohort"
    with pytest.raises(OSError, match="No space left"):
        cohort_mod.generate_cohort(out, 3, 0, cohort_mod.PhantomOptions(levels=["L3", "L4"], ct_spacing=4.0,
                                                                          mr_spacing=(2.0, 2.0, 4.0)))
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []


def test_translate_writes_all_outputs_or_none(tmp_path, monkeypatch):
    """Three outputs of one run are written to temporary files first and renamed together: when the last
    cannot be written, the first two are not left behind either."""
    import SimpleITK as sitk

    from SpineCoreLib import atomic_io

    image = sitk.Image(4, 4, 4, sitk.sitkFloat32)
    real = sitk.WriteImage
    written = []

    def flaky(img, path, useCompression=True):
        written.append(path)
        if len(written) == 3:
            raise RuntimeError("disk full")
        real(img, path, useCompression)

    monkeypatch.setattr(atomic_io.sitk, "WriteImage", flaky)
    with pytest.raises(RuntimeError, match="disk full"):
        atomic_io.write_images({tmp_path / f"o{i}.nii.gz": image for i in range(3)})
    assert len(written) == 3 and list(tmp_path.iterdir()) == []
    monkeypatch.setattr(atomic_io.sitk, "WriteImage", real)
    assert [p.name for p in atomic_io.write_images({tmp_path / "a.nii.gz": image, tmp_path / "b.nrrd": image})] == [
        "a.nii.gz", "b.nrrd"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nii.gz", "b.nrrd"]
