"""What every external segmenter shares: a NIfTI copy of the input in a temporary folder, a child
process whose failure is reported in one line, and labels brought back onto the input's grid."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .errors import SegmentationError
from .names import relabel


def run_tool(cmd: list[str], env: dict[str, str], what: str, timeout_s: float | None = None) -> None:
    """Run ``cmd``; a failure raises SegmentationError with the tool's last error line."""
    try:
        proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SegmentationError(f"{what} could not run: {exc}") from exc
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
        last = lines[-1] if lines else "no output"
        raise SegmentationError(f"{what} failed (exit {proc.returncode}): {last}")


def labels_on_input(result: sitk.Image, mapping: dict[int, int], image: sitk.Image) -> sitk.Image:
    """A tool's label image mapped to VerSe IDs, on ``image``'s exact grid (UInt16)."""
    arr = relabel(sitk.GetArrayFromImage(result), mapping)
    mapped = sitk.GetImageFromArray(arr.astype(np.uint16))
    mapped.CopyInformation(result)
    out = sitk.Resample(mapped, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt16)
    out.CopyInformation(image)
    return out


def write_input(image: sitk.Image, folder: Path, name: str = "image.nii.gz") -> Path:
    path = folder / name
    sitk.WriteImage(image, str(path), useCompression=True)
    return path
