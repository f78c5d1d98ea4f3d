"""A translation run between MRML nodes: inputs are read from the scene, the work runs in a worker
thread (or inline), and result nodes are created only at the end, on the caller's thread.

Why this shape: MRML must only be touched from the main thread, while sampling takes from seconds
to minutes; the GUI starts the job, polls ``finished`` from a timer and calls ``commit``. Nothing
is added to the scene until the computation has succeeded, so a cancel or an error at any step
leaves the scene exactly as it was (``commit`` itself removes what it added if it fails).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from SpineCoreLib.mrml.markups import landmark_set_from_markups_node
from SpineCoreLib.mrml.volumes import add_volume_node_from_image, sitk_image_from_volume_node

from ..diffusion.ddim import Cancelled
from ..options import SegmentationOptions, TranslationOptions
from ..pipeline import PipelineResult, StageProgress, run_pipeline
from .result_nodes import (
    add_ct_volume,
    add_segmentation_from_labels,
    add_table,
    place_in_study_of,
    show_in_slice_views,
)

log = logging.getLogger(__name__)

# share of the whole run each stage takes, for one progress fraction and an ETA
STAGE_WEIGHTS = {"load": 0.03, "translate": 0.87, "segment": 0.07, "evaluate": 0.03}


@dataclass
class TranslationNodes:
    """The nodes one run created (None where not asked for)."""

    sct: Any
    sct_iso: Any | None
    uncertainty: Any | None
    segmentation: Any | None
    metrics_table: Any | None
    result: PipelineResult

    def all(self) -> list[Any]:
        return [n for n in (self.sct, self.sct_iso, self.uncertainty, self.segmentation, self.metrics_table) if n]


class TranslationJob:
    """One run of the pipeline on MRML inputs. States: ready, running, finished, cancelled, failed."""

    def __init__(self, scene: Any, input_volume: Any, options: TranslationOptions,
                 segmentation: SegmentationOptions | None = None, landmarks: Any = None, reference: Any = None,
                 reference_labels: Any = None, foreground_opacity: float = 0.5,
                 progress: StageProgress | None = None) -> None:
        if input_volume is None or not input_volume.IsA("vtkMRMLScalarVolumeNode"):
            raise ValueError("select an input MR volume (a scalar volume node)")
        if input_volume.IsA("vtkMRMLLabelMapVolumeNode"):
            raise ValueError(f"{input_volume.GetName()} is a label map: select the MR image instead")
        if input_volume.GetImageData() is None:
            raise ValueError(f"{input_volume.GetName()} has no image data")
        segmentation = segmentation or SegmentationOptions()
        options.validate()
        segmentation.validate()
        self.scene, self.input_volume, self.options, self.segmentation = scene, input_volume, options, segmentation
        self.opacity = foreground_opacity
        self._user_progress = progress
        # read everything now, on the caller's (main) thread; the inputs are only read
        self._mr = sitk_image_from_volume_node(input_volume)
        self._landmarks = landmark_set_from_markups_node(landmarks) if landmarks is not None else None
        self._reference = sitk_image_from_volume_node(reference) if reference is not None else None
        self._reference_labels = sitk_image_from_volume_node(reference_labels) if reference_labels is not None else None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self.state = "ready"
        self.error: BaseException | None = None
        self.result: PipelineResult | None = None
        self.stage, self.fraction, self.started = "", 0.0, 0.0

    # -- progress -----------------------------------------------------------------------------
    def _progress(self, stage: str, done: int, total: int) -> None:
        before = sum(w for s, w in STAGE_WEIGHTS.items() if list(STAGE_WEIGHTS).index(s) < list(STAGE_WEIGHTS).index(stage))
        self.stage = stage
        self.fraction = min(1.0, before + STAGE_WEIGHTS.get(stage, 0.0) * (done / max(total, 1)))
        if self._user_progress is not None:
            self._user_progress(stage, done, total)

    def eta_seconds(self) -> float | None:
        """Remaining seconds from the elapsed time and the fraction done (None before any progress)."""
        if self.state != "running" or self.fraction <= 0.02:
            return None
        elapsed = time.perf_counter() - self.started
        return elapsed * (1.0 - self.fraction) / self.fraction

    # -- running ------------------------------------------------------------------------------
    def run(self) -> None:
        """Compute inline (the console's ``waitForCompletion=True``); errors are raised."""
        self._compute()
        if self.error is not None:
            raise self.error

    def start(self) -> None:
        """Compute in a worker thread; poll ``finished`` and then call ``commit`` on the main thread."""
        if self.state != "ready":
            raise RuntimeError(f"the job is {self.state}; start a new one")
        self._thread = threading.Thread(target=self._compute, name="MRtoCTTranslation", daemon=True)
        self._thread.start()

    def _compute(self) -> None:
        self.state, self.started = "running", time.perf_counter()
        try:
            self.result = run_pipeline(self._mr, self.options, self.segmentation, self._landmarks, self._reference,
                                       self._reference_labels, self._progress, self._cancel.is_set)
            self.state = "finished" if not self._cancel.is_set() else "cancelled"
        except Cancelled as exc:
            self.state, self.error = "cancelled", exc
        except BaseException as exc:  # reported to the GUI, which shows it with details
            log.exception("translation failed")
            self.state, self.error = "failed", exc

    def cancel(self) -> None:
        """Ask the computation to stop at its next check (every DDIM step and between stages)."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state != "running"

    @property
    def finished(self) -> bool:
        return self.state in ("finished", "cancelled", "failed")

    # -- results ------------------------------------------------------------------------------
    def commit(self) -> TranslationNodes:
        """Create the result nodes (main thread only). Raises if the run did not finish."""
        if self.state == "cancelled":
            raise Cancelled("the translation was cancelled; nothing was added to the scene")
        if self.state != "finished" or self.result is None:
            raise RuntimeError(f"the translation {self.state}: {self.error}") from self.error
        res, base, scene = self.result, self.input_volume.GetName(), self.scene
        created: list[Any] = []

        def unique(suffix: str) -> str:
            return scene.GenerateUniqueName(f"{base}_{suffix}")

        try:
            is_ct = res.is_ct
            kind = "sCT" if is_ct else f"s{res.target}"
            add = add_ct_volume if is_ct else add_volume_node_from_image
            sct = add(scene, res.image, unique(kind))
            created.append(sct)
            iso = add(scene, res.image_iso, unique(f"{kind}_iso")) if self.options.output_iso else None
            created += [iso] if iso else []
            std = add_volume_node_from_image(scene, res.std, unique(f"{kind}_uncertainty")) if res.std is not None else None
            created += [std] if std else []
            seg = None
            if res.labels is not None:
                from SpineCoreLib.segmentation import segment_table

                seg = add_segmentation_from_labels(scene, res.labels, segment_table(), unique(f"{kind}_vertebrae"))
                seg.SetReferenceImageGeometryParameterFromVolumeNode(sct)
                created.append(seg)
            table = add_table(scene, res.metrics["rows"], unique(f"{kind}_metrics")) if res.metrics else None
            created += [table] if table else []
            place_in_study_of(scene, self.input_volume, created)
            show_in_slice_views(scene, self.input_volume, sct, self.opacity)
        except BaseException:
            for node in created:
                scene.RemoveNode(node)
            raise
        return TranslationNodes(sct, iso, std, seg, table, res)
