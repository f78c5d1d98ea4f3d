"""An output folder is judged by making a file in it, not by permission bits: a read-only file system (a
tmpfs mounted read-only in a mount namespace of the test's own, where root's ``os.access`` still says
yes) and, for a user other than root, a read-only folder are refused in one line; a folder whose bits
say read-only is accepted for root, who writes there all the same; ``/proc`` refuses everyone. Nothing
is left behind either way."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = ("import sys\nfrom SpineCoreLib.validation import InputError, output_path\ntry:\n"
         "    output_path(sys.argv[1], '--output')\n    print('ACCEPTED')\nexcept InputError as exc:\n"
         "    print('REFUSED', exc)\n")


def _probe(path: str, mount_read_only: str | None = None) -> str:
    """The verdict of ``output_path`` on ``path`` in a child process, optionally with a read-only tmpfs
    mounted on ``mount_read_only`` in a new user and mount namespace (``unshare -rm``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, "-c", PROBE, path]
    if mount_read_only:
        argv = ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o ro tmpfs {mount_read_only} && exec \"$@\"", "sh",
                *argv]
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr[-400:]
    return out.stdout.strip()


def _namespaces() -> bool:
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.mark.skipif(not _namespaces(), reason="unshare -rm (user and mount namespaces) is not allowed here")
def test_a_read_only_file_system_is_refused_even_for_root(tmp_path):
    folder = tmp_path / "mounted"
    folder.mkdir()
    verdict = _probe(str(folder / "o.nii.gz"), mount_read_only=str(folder))
    assert verdict.startswith("REFUSED --output: folder") and "cannot be written" in verdict, verdict
    assert list(folder.iterdir()) == []


def test_read_only_bits_refuse_a_user_and_not_root(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    verdict = _probe(str(folder / "o.nii.gz"))
    if os.geteuid() == 0:
        assert verdict == "ACCEPTED"  # root writes there all the same: refusing would refuse good output
    else:
        assert verdict.startswith("REFUSED --output: folder") and "cannot be written" in verdict, verdict
    assert list(folder.iterdir()) == []


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="no /proc on this system")
def test_proc_refuses_everyone():
    verdict = _probe("/proc/o.nii.gz")
    assert verdict.startswith("REFUSED --output: folder /proc cannot be written"), verdict
