"""Load the files of one subject folder (phantom or manifest layout) into new MRML nodes."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import SimpleITK as sitk

from SpineCoreLib.markups_io import read_markups_json
from SpineCoreLib.mrml.markups import add_markups_node
from SpineCoreLib.mrml.volumes import add_volume_node_from_image

CASE_SCALAR_FILES = ("mr_t1w.nii.gz", "mr_t2w.nii.gz", "ct.nii.gz", "ct_mrworld.nii.gz")
CASE_LABEL_FILES = ("mr_seg.nii.gz", "ct_seg.nii.gz", "ct_mrworld_seg.nii.gz")
CASE_MARKUPS_FILES = ("mr_landmarks.mrk.json", "ct_landmarks.mrk.json")


def load_case_nodes(scene, subject_dir: str | os.PathLike) -> dict:
    """New nodes for the case files present in ``subject_dir``, keyed by file stem (e.g. ``"ct_seg"``).

    Volumes are read with SimpleITK and markups with the project's reader, so the same code runs
    in Slicer and headless; the files are only read. Raises FileNotFoundError when the folder is
    missing or holds none of the expected files.
    """
    folder = Path(subject_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"subject folder {folder} does not exist")
    expected = CASE_SCALAR_FILES + CASE_LABEL_FILES + CASE_MARKUPS_FILES
    present = [name for name in expected if (folder / name).is_file()]
    if not present:
        raise FileNotFoundError(f"subject folder {folder} holds none of: {', '.join(expected)}")
    nodes = {}
    for filename in present:
        key = filename.split(".")[0]
        path = folder / filename
        name = scene.GenerateUniqueName(f"{folder.name}_{key}")
        if filename in CASE_MARKUPS_FILES:
            nodes[key] = add_markups_node(scene, read_markups_json(path), name)
        else:
            image = sitk.ReadImage(str(path))
            nodes[key] = add_volume_node_from_image(scene, image, name, labelmap=filename in CASE_LABEL_FILES)
    logging.getLogger(__name__).info("loaded %s: %s", folder, ", ".join(nodes))
    return nodes
