"""A translation run between MRML nodes: inputs are read from the scene on the caller's thread, the
work runs in a child process (``child``), and result nodes are created only at the end, on the caller's
thread.

Why this shape: MRML must only be touched from the main thread, and Slicer's main thread holds the GIL
while idle, so sampling belongs in another process; the GUI starts the job, polls ``finished`` from a
timer and calls ``commit``. Nothing is added to the scene until the child has written every output, so
a cancel (which kills the child's process tree), an error or a crash leaves the scene exactly as it was
(``commit`` itself removes what it added if it fails).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import SimpleITK as sitk

from SpineCoreLib.atomic_io import write_image
from SpineCoreLib.markups_io import write_markups_json
from SpineCoreLib.mrml.checks import node_of, volume_image
from SpineCoreLib.mrml.markups import landmark_set_from_markups_node
from SpineCoreLib.mrml.volumes import add_volume_node_from_image

from ..child import spec as files
from ..child.process import ChildProcess, child_command, child_environment
from ..models.card import ModelCard
from ..models.registry import check_translation
from ..options import SegmentationOptions, TranslationOptions
from ..results import Cancelled, PipelineResult, StageProgress
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


class ChildFailed(RuntimeError):
    """The child process reported an error or stopped without finishing; the message says which."""


class TranslationJob:
    """One run of the pipeline on MRML inputs. States: ready, running, finished, cancelled, failed.

    ``python`` is the interpreter of the child (Slicer: PythonSlicer; None: this one)."""

    def __init__(self, scene: Any, input_volume: Any, options: TranslationOptions,
                 segmentation: SegmentationOptions | None = None, landmarks: Any = None, reference: Any = None,
                 reference_labels: Any = None, foreground_opacity: float = 0.5,
                 progress: StageProgress | None = None, python: str | None = None) -> None:
        # every input read and checked on the caller's (main) thread, before anything starts; only read
        self._inputs = {files.MR: volume_image(input_volume, "inputVolume", "mr"),
                        files.REFERENCE: volume_image(reference, "referenceVolume", "ct", required=False),
                        files.REFERENCE_LABELS: volume_image(reference_labels, "referenceLabels", "labels",
                                                             required=False)}
        landmarks = node_of(landmarks, "landmarks", "points", required=False)
        segmentation = segmentation or SegmentationOptions()
        options.validate()
        segmentation.validate()
        check_translation(options, self._inputs[files.MR], "inputVolume")  # a model to download: the child checks
        self.scene, self.input_volume, self.options, self.segmentation = scene, input_volume, options, segmentation
        self.opacity, self.python = foreground_opacity, python
        self._user_progress = progress
        self._landmarks = landmark_set_from_markups_node(landmarks) if landmarks is not None else None
        self._child: ChildProcess | None = None
        self._folder: Path | None = None
        self._done, self._child_error = False, ""
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
    def start(self) -> None:
        """Write the inputs to a temporary folder and start the child; then poll ``finished``."""
        if self.state != "ready":
            raise RuntimeError(f"the job is {self.state}; start a new one")
        self._folder = Path(tempfile.mkdtemp(prefix="MRtoCTTranslation-"))
        spec = files.JobSpec(str(self._folder), self.options, self.segmentation, self._landmarks is not None,
                             self._inputs[files.REFERENCE] is not None,
                             self._inputs[files.REFERENCE_LABELS] is not None)
        for name, image in self._inputs.items():
            if image is not None:
                write_image(image, spec.path(name), compress=False)
        if self._landmarks is not None:
            write_markups_json(spec.path(files.LANDMARKS), self._landmarks)
        self.state, self.started = "running", time.perf_counter()
        self._child = ChildProcess(child_command(self.python, spec.write()), child_environment())

    def run(self, poll_s: float = 0.05) -> None:
        """Start and wait (the console's ``waitForCompletion=True``); errors are raised."""
        self.start()
        self.wait(poll_s=poll_s)
        if self.error is not None:
            raise self.error

    def poll(self) -> None:
        """Handle what the child reported (progress, log records, the end); main thread only."""
        if self.state != "running" or self._child is None:
            return
        for event in self._child.events():
            if "progress" in event:
                self._progress(*event["progress"])
            elif "log" in event:
                level, name, message = event["log"]
                logging.getLogger(name).log(int(level), "%s", message)
            elif "error" in event:
                self._child_error = str(event["error"])
            elif event.get("done"):
                self._done = True
            if self.state != "running":  # a progress callback cancelled
                return
        if not self._child.running:
            self._end()

    def _end(self) -> None:
        child = self._child
        try:
            if self._done and child.returncode == 0:
                self.result = self._read_outputs()
                self.state = "finished"
            else:
                why = self._child_error or (f"the translation process stopped unexpectedly (exit status "
                                            f"{child.returncode}): {child.stderr_tail() or 'no message'}")
                log.error("translation failed: %s", why)
                self.state, self.error = "failed", ChildFailed(why)
        except Exception as exc:  # unreadable outputs
            self.state, self.error = "failed", exc
        finally:
            self._cleanup()

    def _read_outputs(self) -> PipelineResult:
        folder = self._folder

        def image(name: str) -> sitk.Image | None:
            return sitk.ReadImage(str(folder / name)) if (folder / name).is_file() else None

        info = json.loads((folder / files.RESULT).read_text(encoding="utf-8"))
        return PipelineResult(image(files.IMAGE), image(files.IMAGE_ISO), image(files.STD), image(files.LABELS),
                              info["metrics"], ModelCard.from_json(info["card"], "the result's card"),
                              info["target"], info["timings"])

    def _cleanup(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def cancel(self) -> None:
        """Kill the child and everything it started; nothing reaches the scene."""
        if self.state in ("ready", "running"):
            if self._child is not None:
                self._child.kill_tree()
            self.state, self.error = "cancelled", Cancelled("the translation was cancelled")
            self._cleanup()

    def wait(self, timeout: float | None = None, poll_s: float = 0.05) -> bool:
        """Poll until the job ends or ``timeout`` seconds pass; whether it ended."""
        t0 = time.perf_counter()
        while not self.finished:
            if timeout is not None and time.perf_counter() - t0 > timeout:
                return False
            time.sleep(poll_s)
        return True

    @property
    def finished(self) -> bool:
        self.poll()
        return self.state in ("finished", "cancelled", "failed")

    @property
    def pid(self) -> int | None:
        """The child's process id (its process group's too), once started."""
        return self._child.proc.pid if self._child is not None else None

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
