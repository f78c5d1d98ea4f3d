"""Reading the command line's input images through the shared validation layer (``SpineCoreLib.validation``)."""

from __future__ import annotations

import argparse

import SimpleITK as sitk

from SpineCoreLib.validation import image_file

INPUT_KIND_HELP = ("what the input images are, when the check of their kind is wrong: ct or mr (default: "
                   "decided from the SpineMRtoCT mark or the HU anchors, refused only when decisive)")


def add_input_kind(parser: argparse.ArgumentParser) -> None:
    """``--input-kind``: the user's word on what the input is, which every kind refusal names."""
    parser.add_argument("--input-kind", choices=("ct", "mr"), default=None, help=INPUT_KIND_HELP)


def read_image(path: str | None, flag: str, kind: str = "image", declared: str | None = None) -> sitk.Image:
    """A checked 3D image (``kind``: image, mr, ct or labels; ``declared``: ``--input-kind``); InputError
    naming ``flag`` otherwise."""
    return image_file(path, flag, kind, declared, "--input-kind")
