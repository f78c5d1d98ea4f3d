"""One MR in, everything out: synthetic CT (mean and, with several samples, uncertainty),
vertebra segmentation of the synthetic CT, and metrics against a reference CT when there is one.

This is the computation behind the module's one click and ``Logic.process``: plain SimpleITK
images in and out, no Slicer, so it runs in the translation's child process (``child/run.py``) while
Slicer's GUI stays responsive. It checks the cancel flag between stages and at every DDIM step; a
cancel raises ``Cancelled``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.markups_io import LandmarkSet

from .models.registry import default_model_name, resolve
from .options import SegmentationOptions, TranslationOptions
from .results import Cancelled, PipelineResult, StageProgress
from .translator import load_model, translate_image

log = logging.getLogger(__name__)

STAGES = ("load", "translate", "segment", "evaluate")


def run_pipeline(mr: sitk.Image, options: TranslationOptions, segmentation: SegmentationOptions | None = None,
                 landmarks: LandmarkSet | None = None, reference: sitk.Image | None = None,
                 reference_labels: sitk.Image | None = None, progress: StageProgress | None = None,
                 cancelled: Callable[[], bool] | None = None) -> PipelineResult:
    """Translate, segment and evaluate; raise ``Cancelled`` as soon as ``cancelled()`` is true."""
    from SpineCoreLib.evaluation import evaluate
    from SpineCoreLib.segmentation import segment_vertebrae

    segmentation = segmentation or SegmentationOptions()
    options.validate()
    segmentation.validate()
    report = progress or (lambda stage, done, total: None)
    timings: dict[str, float] = {}

    def check_cancel(stage: str) -> None:
        if cancelled is not None and cancelled():
            raise Cancelled(f"cancelled before {stage}")

    t = time.perf_counter()
    check_cancel("load")
    report("load", 0, 1)
    model = load_model(resolve(options.model or default_model_name()), options.device)
    report("load", 1, 1)
    timings["load_s"] = time.perf_counter() - t

    t = time.perf_counter()
    check_cancel("translate")
    points = np.array(list(landmarks.defined().values())) if landmarks is not None else None
    res = translate_image(model, mr, options, lambda d, n: report("translate", d, n), cancelled, landmarks=points)
    timings["translate_s"] = time.perf_counter() - t
    is_ct = res.is_ct  # bone segmentation and HU metrics only make sense for a CT

    labels = None
    if segmentation.segment and is_ct:
        t = time.perf_counter()
        check_cancel("segment")
        report("segment", 0, 1)
        labels = segment_vertebrae(res.image, method=segmentation.segmentation_method, landmarks=landmarks,
                                   caudal_level=segmentation.caudal_level,
                                   weights_dir=segmentation.segmentation_weights)
        report("segment", 1, 1)
        timings["segment_s"] = time.perf_counter() - t

    metrics = None
    if reference is not None and is_ct:
        t = time.perf_counter()
        check_cancel("evaluate")
        report("evaluate", 0, 1)
        metrics = evaluate(res.image, reference, pred_seg=labels, ref_seg=reference_labels)
        report("evaluate", 1, 1)
        timings["evaluate_s"] = time.perf_counter() - t
    check_cancel("finish")
    log.info("pipeline done: %s", {k: round(v, 2) for k, v in timings.items()})
    return PipelineResult(res.image, res.image_iso, res.std, labels, metrics, model.card, res.target, timings)
