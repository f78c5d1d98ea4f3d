"""A cohort of phantom cases with its ``manifest.csv``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from SpineCoreLib.atomic_io import staged_folder
from SpineCoreLib.manifest import write_manifest

from .case import PhantomOptions, generate_case

log = logging.getLogger(__name__)


def split_of(index: int) -> str:
    """Deterministic split: of every ten cases, seven train, one validation, two test."""
    r = index % 10
    return "train" if r < 7 else ("val" if r == 7 else "test")


def case_seed(seed: int, index: int) -> int:
    """Independent, reproducible seed of case ``index`` in a cohort of seed ``seed``."""
    return (seed * 1_000_003 + index * 7919) % (2**32)


def generate_cohort(
    out_dir: str | Path,
    cases: int,
    seed: int,
    opts: PhantomOptions,
    split: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``cases`` cases and ``manifest.csv`` into ``out_dir``; return the manifest path. The cases are
    made in a staging folder and moved into ``out_dir`` together at the end, so an interrupted run leaves
    nothing behind."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    with staged_folder(out) as staging:
        for i in range(cases):
            subject = f"sub-phantom{seed:04d}x{i:03d}"
            paths = generate_case(staging, subject, case_seed(seed, i), opts)
            rows.append({"subject": subject, "split": split or split_of(i), **{k: str(v) for k, v in paths.items()}})
            if progress:
                progress(i + 1, cases)
        write_manifest(staging / "manifest.csv", rows)  # paths relative to its folder: valid once moved
    manifest = out / "manifest.csv"
    log.info("wrote %d phantom cases and %s", cases, manifest)
    return manifest
