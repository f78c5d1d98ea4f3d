"""``manifest.csv``: the list of paired cases a user points the tools at.

One row per subject; paths are relative to the manifest's folder (absolute paths are kept as
they are). The phantom writes it, the registration export appends to it, training reads it.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from .atomic_io import write_text

COLUMNS: tuple[str, ...] = (
    "subject", "split", "mr_t1w", "mr_t2w", "mr_seg", "mr_tissues", "ct", "ct_seg",
    "mr_landmarks", "ct_landmarks", "ct_mrworld", "ct_mrworld_seg", "truth",
)
SPLITS = ("train", "val", "test")


def _text(rows: list[dict[str, str]], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="raise")
    w.writeheader()
    for row in rows:
        w.writerow({c: row.get(c, "") for c in columns})
    return buf.getvalue()


FILE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha", ".mhd", ".json", ".csv", ".tfm", ".h5", ".hdf5", ".mat", ".txt")


def _looks_like_path(value: str) -> bool:
    """A file path (relative ones are resolved against the manifest's folder), not a label such as a
    region or site name."""
    return "/" in value or "\\" in value or value.lower().endswith(FILE_SUFFIXES)


def relative_row(row: dict[str, str | os.PathLike], manifest_dir: Path) -> dict[str, str]:
    """Make a row's paths (absolute, or relative to the working folder) relative to ``manifest_dir``.

    Paths outside ``manifest_dir`` stay absolute.
    """
    out: dict[str, str] = {}
    for k, v in row.items():
        s = str(v)
        if k not in ("subject", "split") and s and _looks_like_path(s):
            full = Path(s).resolve()
            try:
                s = full.relative_to(manifest_dir.resolve()).as_posix()
            except ValueError:
                s = str(full)
        out[k] = s
    return out


def write_manifest(path: str | os.PathLike, rows: list[dict], columns: tuple[str, ...] = COLUMNS) -> Path:
    """Write a manifest atomically; extra columns of the rows are added after the standard ones."""
    p = Path(path)
    extra = tuple(sorted({k for r in rows for k in r} - set(columns)))
    rel = [relative_row(r, p.parent) for r in rows]
    return write_text(p, _text(rel, columns + extra))


def read_manifest(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a manifest with paths resolved against its folder; checks required columns."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(f"cannot read manifest {p}: {exc.strerror}") from exc
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "subject" not in reader.fieldnames:
        raise ValueError(f"{p}: not a manifest (needs a header with at least 'subject'; columns: {', '.join(COLUMNS)})")
    rows = []
    for n, row in enumerate(reader, start=2):
        if None in row:  # csv puts the fields beyond the header under the key None
            raise ValueError(f"{p} line {n}: {len(row[None])} more field(s) than the header's columns: "
                             "quote values that hold commas")
        if row.get("split") and row["split"] not in SPLITS:
            raise ValueError(f"{p} line {n}: split {row['split']!r} is not one of {SPLITS}")
        out = {}
        for k, v in row.items():
            v = v or ""
            if k not in ("subject", "split") and v and not os.path.isabs(v) and _looks_like_path(v):
                v = str((p.parent / v).resolve())
            out[k] = v
        rows.append(out)
    return rows


def append_rows(path: str | os.PathLike, rows: list[dict]) -> Path:
    """Add rows to a manifest (creating it if missing); a subject already listed is replaced."""
    p = Path(path)
    existing = read_manifest(p) if p.exists() else []
    new_subjects = {str(r["subject"]) for r in rows}
    kept = [r for r in existing if r["subject"] not in new_subjects]
    return write_manifest(p, kept + list(rows))
