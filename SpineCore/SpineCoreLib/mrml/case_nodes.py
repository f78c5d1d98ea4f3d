"""Load the files of one subject folder (phantom or manifest layout) into new MRML nodes."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from SpineCoreLib.mrml.markups import add_markups_node
from SpineCoreLib.mrml.volumes import add_volume_node_from_image
from SpineCoreLib.validation import image_file, markups_file

CASE_SCALAR_FILES = ("mr_t1w.nii.gz", "mr_t2w.nii.gz", "ct.nii.gz", "ct_mrworld.nii.gz")
CASE_LABEL_FILES = ("mr_seg.nii.gz", "ct_seg.nii.gz", "ct_mrworld_seg.nii.gz")
CASE_MARKUPS_FILES = ("mr_landmarks.mrk.json", "ct_landmarks.mrk.json")


def load_case_nodes(scene, subject_dir: str | os.PathLike) -> dict:
    """New nodes for the case files present in ``subject_dir``, keyed by file stem (e.g. ``"ct_seg"``).

    Raises FileNotFoundError when the folder is missing or holds none of the expected files.
    """
    folder = Path(subject_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"subject folder {folder} does not exist")
    expected = CASE_SCALAR_FILES + CASE_LABEL_FILES + CASE_MARKUPS_FILES
    present = {name.split(".")[0]: folder / name for name in expected if (folder / name).is_file()}
    if not present:
        raise FileNotFoundError(f"subject folder {folder} holds none of: {', '.join(expected)}")
    return load_nodes(scene, present, folder.name)


def load_nodes(scene, files: dict[str, str | os.PathLike], prefix: str) -> dict:
    """New nodes named ``<prefix>_<key>`` for case files keyed by a case file's stem (``"mr_t2w"``,
    ``"ct_mrworld_seg"``, ``"mr_landmarks"``, ...): volumes, label maps or point lists by that key.

    Volumes are read with SimpleITK and markups with the project's reader, so the same code runs
    in Slicer and headless; every file is read and checked before the first node is added, and the
    files are only read.
    """
    labels = {name.split(".")[0] for name in CASE_LABEL_FILES}
    data = {}
    for key, path in files.items():
        if key.endswith("landmarks"):
            data[key] = markups_file(path, key)
        else:  # MR or CT is judged where an image is used (a translation, a segmentation), not on loading
            data[key] = image_file(path, key, "labels" if key in labels else "image")
    nodes: dict = {}
    try:
        for key, content in data.items():
            name = scene.GenerateUniqueName(f"{prefix}_{key}")
            if key.endswith("landmarks"):
                nodes[key] = add_markups_node(scene, content, name)
            else:
                nodes[key] = add_volume_node_from_image(scene, content, name, labelmap=key in labels)
    except BaseException:
        for node in nodes.values():
            scene.RemoveNode(node)
        raise
    logging.getLogger(__name__).info("loaded %s: %s", prefix, ", ".join(nodes))
    return nodes
