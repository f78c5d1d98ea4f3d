"""Atomic output: results appear whole or not at all, and never overwrite an input half-way.

Each writer writes to a hidden temporary file in the destination folder and renames it onto
the destination (``os.replace`` is atomic on one file system).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import SimpleITK as sitk

_MULTI_SUFFIXES = (".nii.gz", ".mrk.json", ".seg.nrrd", ".tar.gz")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in _MULTI_SUFFIXES:
        if name.endswith(s):
            return path.name[-len(s) :]
    return path.suffix


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same extension); rename it onto ``path`` on success."""
    dest = Path(path)
    if not dest.parent.exists():
        raise FileNotFoundError(f"output folder {dest.parent} does not exist: create it first")
    tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp{_suffix(dest)}"
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def staged_folder(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; on success move everything in it into ``final`` (created
    if missing, entries of the same name replaced), on failure remove it: a failed or cancelled run leaves
    no partial case, no empty folder."""
    final = Path(final)
    if not final.parent.is_dir():
        raise FileNotFoundError(f"output folder {final.parent} does not exist: create it first")
    staging = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
    staging.mkdir()
    try:
        yield staging
        final.mkdir(exist_ok=True)
        for entry in staging.iterdir():
            target = final / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(entry, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_images(images: dict[str | os.PathLike, sitk.Image], compress: bool = True) -> list[Path]:
    """Write several images so that either all are written or none: every one goes to a temporary file
    first, and the files are renamed onto their paths only when all were written."""
    done: list[tuple[Path, Path]] = []
    try:
        for path, image in images.items():
            dest = Path(path)
            if not dest.parent.exists():
                raise FileNotFoundError(f"output folder {dest.parent} does not exist: create it first")
            tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp{_suffix(dest)}"
            done.append((tmp, dest))
            sitk.WriteImage(image, str(tmp), useCompression=compress)
        for tmp, dest in done:
            os.replace(tmp, dest)
    finally:
        for tmp, _ in done:
            tmp.unlink(missing_ok=True)
    return [dest for _, dest in done]


def write_image(image: sitk.Image, path: str | os.PathLike, compress: bool = True) -> Path:
    """Write a SimpleITK image atomically (compression on for .nii.gz/.nrrd)."""
    with atomic_output(path) as tmp:
        sitk.WriteImage(image, str(tmp), useCompression=compress)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA256 of a file, read in chunks (model weights run to hundreds of MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write JSON (indented, keys in insertion order) atomically."""
    return write_text(path, json.dumps(data, indent=2) + "\n")
