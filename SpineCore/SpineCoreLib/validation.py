"""One validation layer for every command and both Logic classes: each input is checked before any
work, and a refusal is one ``InputError`` naming the argument and what to change.

Images: the file exists and is an image; a gzip stream is complete (SimpleITK reads a truncated
``.nii.gz`` and fills the rest with zeros); the volume is 3D, non-empty, with positive spacing and an
orthogonal direction; floating-point voxels are finite; and it is the kind asked for: a label map has
integer voxels and few values; a CT or an MR is refused as the other only on decisive evidence
(``image_kind``: the project's mark, the HU anchors, no value below 0), and undecided is a warning.
Outputs: the folder exists and a file can be made in it (an empty probe, removed at once), the path
is no folder and no input. Memory: what a run needs is compared with what the machine has free.
Nothing here leaves anything behind. Typed config fields: ``typed_fields``.
"""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import SimpleITK as sitk

KINDS = ("image", "mr", "ct", "labels")
MAX_LABELS = 100  # more distinct values than this is no label map
log = logging.getLogger(__name__)
INTEGER_TYPES = (sitk.sitkUInt8, sitk.sitkInt8, sitk.sitkUInt16, sitk.sitkInt16, sitk.sitkUInt32, sitk.sitkInt32,
                 sitk.sitkUInt64, sitk.sitkInt64)


class InputError(ValueError):
    """A refused input. ``str()`` is the one line a user sees: the argument, then what to change."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}" if argument else message)
        self.argument = argument


# ---------------------------------------------------------------------------------------------- files


def existing_file(path: str | os.PathLike | None, argument: str) -> Path:
    """``path`` as a Path when it is a readable regular file."""
    if path is None or not str(path).strip():
        raise InputError(argument, "no file given")
    p = Path(path)
    if p.is_dir():
        raise InputError(argument, f"{p} is a folder: give a file")
    if not p.is_file():
        raise InputError(argument, f"{p} does not exist")
    if not os.access(p, os.R_OK):
        raise InputError(argument, f"{p} cannot be read: check its permissions")
    return p


def complete_gzip(path: Path, argument: str) -> None:
    """Refuse a ``.gz`` file whose stream is truncated or damaged (read to the end, CRC checked)."""
    if not path.name.lower().endswith(".gz"):
        return
    try:
        with gzip.open(path, "rb") as f:
            while f.read(1 << 22):
                pass
    except gzip.BadGzipFile as exc:
        raise InputError(argument, f"{path} cannot be read as an image: it is no gzip file despite its name") from exc
    except (EOFError, OSError, zlib.error) as exc:
        raise InputError(argument, f"{path} is truncated or damaged ({exc}): copy the file again") from exc


NIFTI_FLOATS = {16: "f4", 64: "f8"}  # NIfTI-1 datatype codes of float32 and float64


def nifti_has_nonfinite(path: Path) -> bool:
    """Whether a NIfTI-1 file stores NaN or infinite voxels. ITK's reader turns them into 0 without a word,
    so they are looked for in the file's own bytes (header fields: NIfTI-1 standard offsets)."""
    import struct

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 352:
        return False
    order = "<" if struct.unpack("<i", data[:4])[0] == 348 else ">"
    datatype = struct.unpack(order + "h", data[70:72])[0]
    if datatype not in NIFTI_FLOATS:
        return False
    offset = int(struct.unpack(order + "f", data[108:112])[0])
    values = np.frombuffer(data, dtype=order + NIFTI_FLOATS[datatype], offset=offset,
                           count=(len(data) - offset) // int(NIFTI_FLOATS[datatype][1]))
    return not bool(np.all(np.isfinite(values)))


def image_file(path: str | os.PathLike | None, argument: str, kind: str = "image", declared: str | None = None,
               override: str = "--input-kind") -> sitk.Image:
    """The 3D image of ``path`` after every check of :func:`check_image` (``declared``: the kind the user
    says it is, given with ``override``)."""
    p = existing_file(path, argument)
    complete_gzip(p, argument)
    if p.name.lower().endswith((".nii", ".nii.gz")) and nifti_has_nonfinite(p):
        raise InputError(argument, f"{p} holds NaN or infinite values: replace them (e.g. with 0) first")
    try:
        image = sitk.ReadImage(str(p))
    except RuntimeError as exc:
        raise InputError(argument, f"{p} cannot be read as an image (NIfTI, NRRD, MHA, ...)") from exc
    check_image(image, argument, kind, str(p), declared, override)
    return image


def markups_file(path: str | os.PathLike | None, argument: str):
    """The named landmarks of a ``.mrk.json`` (or the project's ``.csv``) point list, each label once."""
    from .levels import parse_landmark_name
    from .markups_io import MarkupsFormatError, parse_landmarks_csv, read_markups_json

    p = existing_file(path, argument)
    try:
        landmarks = parse_landmarks_csv(p.read_text(encoding="utf-8"), str(p)) if p.suffix.lower() == ".csv" \
            else read_markups_json(p)
    except (MarkupsFormatError, UnicodeDecodeError) as exc:
        raise InputError(argument, str(exc).removeprefix(f"{p}: ").removeprefix(f"{p} ")) from exc
    labels = landmarks.labels()
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise InputError(argument, f"{p} names {', '.join(twice)} twice: rename or delete the duplicates")
    for label in labels:
        try:
            parse_landmark_name(label)
        except ValueError as exc:
            raise InputError(argument, f"{p}: {exc}") from exc
    return landmarks


# ---------------------------------------------------------------------------------------------- images


def check_geometry(image: sitk.Image, argument: str, name: str = "the image") -> None:
    if image.GetDimension() != 3:
        raise InputError(argument, f"{name} is {image.GetDimension()}D: give a 3D volume")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(argument, f"{name} has {image.GetNumberOfComponentsPerPixel()} components per voxel: "
                                   "give a scalar volume")
    if min(image.GetSize()) < 1 or np.prod(image.GetSize()) < 8:
        raise InputError(argument, f"{name} has size {image.GetSize()}: it holds (almost) no voxels")
    spacing = np.array(image.GetSpacing())
    if not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise InputError(argument, f"{name} has spacing {tuple(spacing)}: every spacing must be positive")
    d = np.array(image.GetDirection()).reshape(3, 3)
    if not np.all(np.isfinite(d)) or not np.allclose(d.T @ d, np.eye(3), atol=1e-4):
        raise InputError(argument, f"{name} has a non-orthogonal direction matrix (sheared or scaled axes): "
                                   "resample it onto an orthogonal grid first")
    if not np.all(np.isfinite(image.GetOrigin())):
        raise InputError(argument, f"{name} has a non-finite origin")


def looks_like_labels(image: sitk.Image, values: np.ndarray | None = None) -> bool:
    """Integer voxels, none negative, and at most ``MAX_LABELS`` distinct values."""
    if image.GetPixelID() not in INTEGER_TYPES:
        return False
    v = sitk.GetArrayViewFromImage(image) if values is None else values
    return bool(v.min() >= 0) and len(np.unique(v)) <= MAX_LABELS


def check_image(image: sitk.Image, argument: str, kind: str = "image", name: str = "the image",
                declared: str | None = None, override: str = "--input-kind") -> None:
    """Geometry, finite values and the kind of image (``image``, ``mr``, ``ct`` or ``labels``). The kind
    is refused only on decisive evidence (``image_kind``); ``declared`` is the kind the user says the
    image is (named ``override`` in messages), which stands in for the evidence."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    check_geometry(image, argument, name)
    values = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(values.dtype, np.floating) and not np.all(np.isfinite(values)):
        raise InputError(argument, f"{name} holds NaN or infinite values: replace them (e.g. with 0) first")
    if kind == "labels":
        if not looks_like_labels(image, values):
            raise InputError(argument, f"{name} is no label map (integer voxels, at most {MAX_LABELS} values, none "
                                       "negative): give the vertebra label image")
        return
    if kind in ("mr", "ct") and looks_like_labels(image, values):
        raise InputError(argument, f"{name} looks like a label map (few integer values): give the {kind.upper()} "
                                   "image itself")
    if kind in ("mr", "ct") and float(values.max()) == float(values.min()):
        raise InputError(argument, f"{name} is constant ({float(values.min()):g} everywhere): give a real image")
    if kind in ("mr", "ct"):
        check_kind(image, values, argument, kind, name, declared, override)


def check_kind(image: sitk.Image, values: np.ndarray, argument: str, kind: str, name: str,
               declared: str | None, override: str) -> None:
    """Refuse an image whose kind is decisively another than ``kind``; warn in one line when undecided."""
    from .image_kind import image_kind

    if declared is not None:
        if declared != kind:
            raise InputError(argument, f"{name} is said to be {declared.upper()} ({override} {declared}), and "
                                       f"this step needs {'an MR' if kind == 'mr' else 'a CT'}")
        return
    evidence = image_kind(image, values)
    if evidence.kind == kind:
        return
    if kind == "ct" and evidence.decisive:
        raise InputError(argument, f"{name} is not a CT in Hounsfield units ({evidence.why}): give a CT or "
                                   f"synthetic CT; if it is one, say so: {override} ct")
    if kind == "mr" and evidence.decisive:
        raise InputError(argument, f"{name} looks like a CT ({evidence.why}): give the MR; if it is "
                                   f"one, say so: {override} mr")
    if kind == "ct" or evidence.ct_signs:
        log.warning("%s: cannot tell whether %s is %s (%s); going on as %s (say so to silence this: %s %s)", argument, name,
                    "a CT in HU" if kind == "ct" else "an MR", evidence.why, kind.upper(), override, kind)


def physical_box(image: sitk.Image) -> tuple[np.ndarray, np.ndarray]:
    """The axis-aligned box (LPS mm) around the centres of an image's corner voxels."""
    size = np.array(image.GetSize()) - 1
    corners = [image.TransformContinuousIndexToPhysicalPoint([float(c) for c in size * np.array(bits)])
               for bits in np.ndindex(2, 2, 2)]
    pts = np.array(corners)
    return pts.min(0), pts.max(0)


def check_overlap(image: sitk.Image, other: sitk.Image, argument: str, other_name: str) -> None:
    """Refuse two images that do not share any space (scores between them would mean nothing)."""
    (lo1, hi1), (lo2, hi2) = physical_box(image), physical_box(other)
    if np.any(np.minimum(hi1, hi2) < np.maximum(lo1, lo2)):
        raise InputError(argument, f"does not overlap {other_name} in space: both must be on the same patient "
                                   "position (register them first)")


# ---------------------------------------------------------------------------------------------- outputs


def writable_folder(folder: Path, argument: str) -> None:
    """Refuse a folder in which no file can be made. Permission bits do not tell (root passes
    ``os.access`` under ``/proc`` and on read-only mounts), so a hidden empty file is made and removed."""
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".spinemrtoct-probe-")
    except OSError as exc:
        raise InputError(argument, f"folder {folder} cannot be written ({exc.strerror or exc}): choose a folder "
                                   "you can write to") from exc
    os.close(fd)
    os.unlink(probe)


def output_path(path: str | os.PathLike | None, argument: str, inputs: Iterable[str | os.PathLike | None] = (),
                overwrite_folder: bool = False) -> Path:
    """``path`` as a Path when it can be written: its folder exists and is writable, it is no folder
    (unless ``overwrite_folder``: an output folder), and it is none of ``inputs``."""
    if path is None or not str(path).strip():
        raise InputError(argument, "no output path given")
    p = Path(path)
    parent = p.parent
    for above in [parent, *parent.parents]:
        if above.exists() and not above.is_dir():
            raise InputError(argument, f"{above} is a file, not a folder: choose another place for {p.name}")
    if not parent.is_dir():
        raise InputError(argument, f"folder {parent} does not exist: create it first")
    writable_folder(parent, argument)
    if p.is_dir() and not overwrite_folder:
        raise InputError(argument, f"{p} is a folder: give a file name")
    for i in filter(None, inputs):  # the same path, or another name of the same file
        if Path(i).resolve() == p.resolve() or (p.exists() and Path(i).exists() and os.path.samefile(p, i)):
            raise InputError(argument, f"{p} would overwrite an input: choose another file")
    return p


def output_folder(path: str | os.PathLike | None, argument: str, parents: bool = False) -> Path:
    """``path`` as a Path when it is, or can become, a folder to write into (with ``parents``, the folders
    above it may be missing too: the nearest one that exists must be writable)."""
    if path is None or not str(path).strip():
        raise InputError(argument, "no output folder given")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(argument, f"{p} is a file: give a folder")
    if p.is_dir():
        writable_folder(p, argument)
        return p
    if not parents:
        output_path(p, argument)
        return p
    above = next(a for a in p.absolute().parents if a.exists())
    if not above.is_dir():
        raise InputError(argument, f"{above} is a file, not a folder: choose another place for {p.name}")
    writable_folder(above, argument)
    return p


def distinct_outputs(outputs: dict[str, str | os.PathLike | None]) -> None:
    """Refuse two outputs that name the same file."""
    seen: dict[Path, str] = {}
    for argument, path in outputs.items():
        if not path:
            continue
        key = Path(path).resolve()
        if key in seen:
            raise InputError(argument, f"{path} is also given as {seen[key]}: give each output its own file")
        seen[key] = argument


# ---------------------------------------------------------------------------------------------- memory


def available_memory() -> int:
    """Bytes this machine can still give (``MemAvailable``, else physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def check_memory(needed: float, argument: str, what: str, fix: str, share: float = 0.8) -> None:
    """Refuse a run that needs more than ``share`` of the free memory, before it allocates anything."""
    free = available_memory()
    if needed > share * free:
        raise InputError(argument, f"{what} needs about {needed / 2**30:.1f} GiB; {free / 2**30:.1f} GiB are free: "
                                   f"{fix}")


# ---------------------------------------------------------------------------------------------- values


def number_in(value: float | int | None, argument: str, low: float, high: float, integer: bool = False) -> None:
    """Refuse a value outside [low, high] (and NaN, and a non-integer where one is needed)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise InputError(argument, f"{value!r} is not a number")
    if integer and int(value) != value:
        raise InputError(argument, f"{value!r} is not a whole number")
    if not low <= value <= high:
        raise InputError(argument, f"{value:g} is outside {low:g}..{high:g}")
