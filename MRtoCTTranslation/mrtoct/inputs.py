"""Reading the command line's input images through the shared validation layer (``SpineCoreLib.validation``)."""

from __future__ import annotations

import SimpleITK as sitk

from SpineCoreLib.validation import image_file


def read_image(path: str | None, flag: str, kind: str = "image") -> sitk.Image:
    """A checked 3D image (``kind``: image, mr, ct or labels); InputError naming ``flag`` otherwise."""
    return image_file(path, flag, kind)
