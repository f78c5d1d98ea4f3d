"""TotalSegmentator as the vertebra segmenter (``pip install TotalSegmentator``; CT, GPU advised).

It runs in a child process, as its own command line does, so its heavy imports and GPU memory
leave with it. Weights are not in the wheel: TotalSegmentator downloads them on first use, or
reads unzipped ``Dataset*`` folders from ``TOTALSEG_WEIGHTS_PATH`` (default
``$TOTALSEG_HOME_DIR/nnunet/results``); ``weights`` sets either, so an offline machine works from
a copied folder. Only the vertebra classes are requested (``--roi_subset``), and their names are
mapped to VerSe IDs.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import tempfile
from pathlib import Path

import SimpleITK as sitk

from SpineCoreLib.levels import ordered_levels

from .errors import SegmentationError
from .external import labels_on_input, run_tool, write_input
from .names import verse_mapping

log = logging.getLogger(__name__)

PACKAGE = "totalsegmentator"
INSTALL_HINT = "pip install TotalSegmentator"
VERTEBRA_CLASSES = tuple(f"vertebrae_{lv}" for lv in ordered_levels())  # C1..S1, TotalSegmentator's names


def check_installed() -> None:
    """SegmentationError saying how to install TotalSegmentator when it is missing."""
    if importlib.util.find_spec(PACKAGE) is None:
        raise SegmentationError(f"TotalSegmentator is not installed: run `{INSTALL_HINT}` in this Python "
                                f"({sys.executable}), or choose the 'builtin' method")


def weights_env(weights: str | Path | None) -> dict[str, str]:
    """Environment that points TotalSegmentator at a weights folder.

    A folder holding ``nnunet/results`` is a TotalSegmentator home (``TOTALSEG_HOME_DIR``); any other
    folder is taken to hold the unzipped ``Dataset*`` folders (``TOTALSEG_WEIGHTS_PATH``).
    """
    if weights is None:
        return {}
    folder = Path(weights).expanduser()
    if not folder.is_dir():
        raise SegmentationError(f"weights folder {folder} does not exist: create it, or unzip "
                                "TotalSegmentator's Dataset*.zip weights into it")
    if (folder / "nnunet" / "results").is_dir():
        return {"TOTALSEG_HOME_DIR": str(folder)}
    if not any(folder.glob("Dataset*")):
        log.warning("weights folder %s holds no Dataset* folders: TotalSegmentator will try to download them",
                    folder)
    return {"TOTALSEG_WEIGHTS_PATH": str(folder)}


def class_names() -> dict[int, str]:
    """TotalSegmentator's own label -> class name table of its 'total' task."""
    from totalsegmentator.map_to_binary import class_map

    return dict(class_map["total"])


def segment_totalsegmentator(image: sitk.Image, weights: str | Path | None = None, device: str | None = None,
                             fast: bool = False, timeout_s: float | None = None) -> sitk.Image:
    """Vertebra labels (VerSe IDs, UInt16) of a CT, on ``image``'s grid."""
    check_installed()
    env = weights_env(weights)
    if device is None:
        import torch

        device = "gpu" if torch.cuda.is_available() else "cpu"
    with tempfile.TemporaryDirectory(prefix="mrtoct-totalseg-") as tmp:
        src = write_input(image, Path(tmp))
        dst = Path(tmp) / "labels.nii.gz"
        cmd = [sys.executable, "-c", "from totalsegmentator.bin.TotalSegmentator import main; main()",
               "-i", str(src), "-o", str(dst), "--ml", "--device", device, "--roi_subset", *VERTEBRA_CLASSES]
        if fast:
            cmd.append("--fast")
        run_tool(cmd, env, "TotalSegmentator", timeout_s)
        if not dst.is_file():
            raise SegmentationError("TotalSegmentator finished without writing its label file")
        return labels_on_input(sitk.ReadImage(str(dst)), verse_mapping(class_names()), image)
