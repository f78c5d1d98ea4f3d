"""A MONAI bundle folder as the vertebra segmenter.

The folder follows the MONAI bundle layout: ``configs/inference.json`` (or ``.yaml``),
``models/model.pt`` or ``models/model.ts``, and optionally ``configs/metadata.json``, whose
``network_data_format.outputs.<name>.channel_def`` names the output labels (mapped to VerSe IDs by
name; without it the labels are taken to be VerSe IDs already). The inference config must read
the images in ``@dataset_dir`` and write its predictions under ``@output_dir``, as the MONAI
model-zoo segmentation bundles do. It runs in a child process (``python -m monai.bundle run``).

A bundle config can run arbitrary Python (``$`` expressions, ``_target_``): use only bundles you trust.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import SimpleITK as sitk

from SpineCoreLib.levels import LEVEL_IDS

from .errors import SegmentationError
from .external import labels_on_input, run_tool, write_input
from .names import verse_mapping

log = logging.getLogger(__name__)

CONFIG_NAMES = ("inference.json", "inference.yaml", "inference.yml")
WEIGHT_NAMES = ("model.pt", "model.ts")
RUN_IDS = ("run", "evaluating")  # the workflow entry of current and of older model-zoo bundles


@dataclass(frozen=True)
class Bundle:
    """A checked bundle folder: its inference config, weights, metadata (or None) and label mapping."""

    folder: Path
    config: Path
    weights: Path
    metadata: Path | None
    mapping: dict[int, int]
    run_id: str


def _read_config(path: Path) -> dict:
    """A bundle's JSON (or YAML) file as a dict, or SegmentationError naming the file."""
    import yaml

    kind = "JSON" if path.suffix == ".json" else "YAML"
    try:
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text) if kind == "JSON" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise SegmentationError(f"bundle file {path} is not readable {kind}: {exc}") from exc
    if not isinstance(doc, dict):
        raise SegmentationError(f"bundle file {path} holds no {kind} object")
    return doc


def channel_names(metadata: dict) -> dict[int, str]:
    """``{label: name}`` from a bundle metadata's first output ``channel_def`` ({} when absent)."""
    outputs = (metadata.get("network_data_format") or {}).get("outputs") or {}
    for spec in outputs.values():
        channels = spec.get("channel_def") if isinstance(spec, dict) else None
        if isinstance(channels, dict) and channels:
            try:
                return {int(k): str(v) for k, v in channels.items()}
            except ValueError as exc:
                raise SegmentationError(f"bundle metadata channel_def has a non-integer key: {exc}") from exc
    return {}


def check_bundle(folder: str | Path) -> Bundle:
    """The bundle in ``folder``, or SegmentationError naming everything that is missing."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise SegmentationError(f"bundle folder {root} does not exist")
    configs = [root / "configs" / n for n in CONFIG_NAMES if (root / "configs" / n).is_file()]
    weights = [root / "models" / n for n in WEIGHT_NAMES if (root / "models" / n).is_file()]
    missing = [] if configs else ["configs/inference.json"]
    missing += [] if weights else ["models/model.pt (or model.ts)"]
    if missing:
        raise SegmentationError(f"{root} is not a MONAI bundle folder: it lacks {' and '.join(missing)}")
    config = _read_config(configs[0])
    run_id = next((r for r in RUN_IDS if r in config), None)
    if run_id is None:
        raise SegmentationError(f"bundle config {configs[0]} has no 'run' (or 'evaluating') entry: "
                                "it is not an inference workflow")
    meta_path = root / "configs" / "metadata.json"
    mapping: dict[int, int] = {}
    if meta_path.is_file():
        names = channel_names(_read_config(meta_path))
        mapping = verse_mapping(names)
        if names and not mapping:
            shown = ", ".join(list(names.values())[:6])
            raise SegmentationError(f"bundle {root.name} names no vertebra among its output labels "
                                    f"({shown}, ...): it is not a vertebra model")
    if not mapping:
        log.info("bundle %s has no label names: its labels are taken as VerSe IDs", root.name)
        mapping = {v: v for v in LEVEL_IDS.values()}
    return Bundle(root, configs[0], weights[0], meta_path if meta_path.is_file() else None, mapping, run_id)


def segment_bundle(image: sitk.Image, folder: str | Path, timeout_s: float | None = None) -> sitk.Image:
    """Vertebra labels (VerSe IDs, UInt16) of a CT from the bundle in ``folder``, on ``image``'s grid."""
    bundle = check_bundle(folder)
    with tempfile.TemporaryDirectory(prefix="mrtoct-bundle-") as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "out"
        data.mkdir()
        out.mkdir()
        write_input(image, data)
        cmd = [sys.executable, "-m", "monai.bundle", "run", bundle.run_id,
               "--config_file", str(bundle.config), "--bundle_root", str(bundle.folder),
               "--dataset_dir", str(data), "--output_dir", str(out)]
        if bundle.metadata is not None:
            cmd += ["--meta_file", str(bundle.metadata)]
        run_tool(cmd, {}, f"MONAI bundle {bundle.folder.name}", timeout_s)
        results = sorted(p for ext in ("*.nii.gz", "*.nii", "*.nrrd", "*.mha") for p in out.rglob(ext))
        if not results:
            raise SegmentationError(f"MONAI bundle {bundle.folder.name} wrote no label image under "
                                    "@output_dir: does its inference config save its predictions there?")
        return labels_on_input(sitk.ReadImage(str(results[0])), bundle.mapping, image)
