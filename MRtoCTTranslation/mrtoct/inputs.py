"""Reading the command line's input images, with the one-line errors every sub-command gives."""

from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk

from .errors import CLIError


def read_image(path: str, flag: str) -> sitk.Image:
    """A 3D image from ``path``, or CLIError naming the option and what is wrong with the file."""
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"{flag} {p} does not exist or is not a file")
    try:
        img = sitk.ReadImage(str(p))
    except RuntimeError as exc:
        raise CLIError(f"{flag} {p} cannot be read as an image (NIfTI, NRRD, MHA, ...)") from exc
    if img.GetDimension() != 3:
        raise CLIError(f"{flag} {p} is {img.GetDimension()}D: a 3D volume is needed")
    return img
