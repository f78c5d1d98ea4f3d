"""One logger for every trainer: JSON lines in ``out_dir/log.jsonl`` (always) and TensorBoard scalars in
``out_dir/logs`` (when tensorboard is installed), written together so the two never disagree."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)


class RunLog:
    """Appends records to ``log.jsonl`` and mirrors their numbers to TensorBoard under ``group/key``."""

    def __init__(self, out: Path, enabled: bool = True) -> None:
        self.path = Path(out) / "log.jsonl"
        self.enabled = enabled  # False on the non-zero ranks of a distributed run
        self.t0 = time.perf_counter()
        self.writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(out) / "logs"))
        except ImportError:
            log.warning("tensorboard is not installed: logging to %s only", self.path)

    def step(self, step: int, group: str, values: dict[str, float], **fields: object) -> None:
        """A training step: ``values`` go to both, under ``group/<key>`` in TensorBoard; ``fields`` (e.g. the
        stage) to the JSON line only, with the seconds since the run started."""
        if not self.enabled:
            return
        if self.writer:
            for key, v in values.items():
                self.writer.add_scalar(f"{group}/{key}", v, step)
        self._append({**fields, "step": step, **values, "s": round(time.perf_counter() - self.t0, 1)})

    def validation(self, step: int, group: str, metrics: dict[str, float], **fields: object) -> None:
        """Validation metrics after ``step`` steps: ``{"step": step, "val": metrics}`` and ``group/<key>``."""
        if not self.enabled:
            return
        if self.writer:
            for key, v in metrics.items():
                self.writer.add_scalar(f"{group}/{key}", v, step)
        self._append({**fields, "step": step, "val": metrics})

    def close(self) -> None:
        if self.writer:
            self.writer.close()

    def _append(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
