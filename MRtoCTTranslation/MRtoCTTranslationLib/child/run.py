"""The child's side: read the job, run the pipeline, report on stdout, write the outputs.

Every stdout line is one JSON object: ``{"progress": [stage, done, total]}``, ``{"log": [level, logger,
message]}``, then ``{"done": true}`` once every output is on disk, or ``{"error": message, "type": name}``
(exit status 1). Tracebacks and progress bars go to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Sequence
from typing import Any, TextIO

import SimpleITK as sitk

from SpineCoreLib.atomic_io import write_image, write_json
from SpineCoreLib.markups_io import read_markups_json

from ..pipeline import run_pipeline
from ..results import PipelineResult
from .spec import IMAGE, IMAGE_ISO, LABELS, LANDMARKS, MR, REFERENCE, REFERENCE_LABELS, RESULT, STD, JobSpec

LOGGERS = ("MRtoCTTranslationLib", "SpineCoreLib")


class Emitter:
    """Writes one JSON object a line and flushes, so the parent sees each event as it happens."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, event: dict[str, Any]) -> None:
        self.stream.write(json.dumps(event, default=float) + "\n")
        self.stream.flush()


class _EventLogHandler(logging.Handler):
    def __init__(self, emit: Emitter) -> None:
        super().__init__(logging.INFO)
        self.emit_event = emit

    def emit(self, record: logging.LogRecord) -> None:
        self.emit_event({"log": [record.levelno, record.name, record.getMessage()]})


def run_job(spec: JobSpec, emit: Emitter) -> PipelineResult:
    """The pipeline on the job's inputs; the outputs are written into the job's folder, the result last."""
    def optional(flag: bool, name: str) -> sitk.Image | None:
        return sitk.ReadImage(str(spec.path(name))) if flag else None

    landmarks = read_markups_json(spec.path(LANDMARKS)) if spec.landmarks else None
    res = run_pipeline(sitk.ReadImage(str(spec.path(MR))), spec.options, spec.segmentation, landmarks,
                       optional(spec.reference, REFERENCE), optional(spec.reference_labels, REFERENCE_LABELS),
                       lambda stage, done, total: emit({"progress": [stage, done, total]}))
    write_image(res.image, spec.path(IMAGE), compress=False)
    if spec.options.output_iso:
        write_image(res.image_iso, spec.path(IMAGE_ISO), compress=False)
    if res.std is not None:
        write_image(res.std, spec.path(STD), compress=False)
    if res.labels is not None:
        write_image(res.labels, spec.path(LABELS), compress=False)
    write_json(spec.path(RESULT), json.loads(json.dumps(
        {"target": res.target, "timings": res.timings, "metrics": res.metrics, "card": res.card.to_json()},
        default=float)))
    return res


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m MRtoCTTranslationLib.child JOB.json", file=sys.stderr)
        return 2
    emit = Emitter(sys.stdout)
    handler = _EventLogHandler(emit)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    try:
        run_job(JobSpec.read(argv[0]), emit)
    except Exception as exc:  # every failure reaches the parent as one message
        traceback.print_exc(file=sys.stderr)
        emit({"error": str(exc) or type(exc).__name__, "type": type(exc).__name__})
        return 1
    emit({"done": True})
    return 0
