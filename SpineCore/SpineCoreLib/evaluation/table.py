"""Evaluation results as one flat table (group, level, metric, value), written to CSV and JSON.

A long table keeps every result, image metrics and per-vertebra Dice alike, in four columns that
any spreadsheet or dataframe reads, and that concatenate across cases (add a case column).
Non-finite values (an infinite PSNR of identical images, a NaN without bone) are written as
``inf``/``nan`` in CSV and as null in JSON, which has no such numbers.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

from SpineCoreLib.atomic_io import write_json, write_text

COLUMNS = ("group", "level", "metric", "value")
LEVEL_METRICS = (("strict", "dice_strict"), ("shift_tolerant", "dice_shift_tolerant"), ("shift", "shift"))
SUMMARY_METRICS = ("mean_dice_strict", "mean_dice_shift_tolerant", "binary_dice")


def result_rows(result: dict, group_prefix: str = "") -> list[dict]:
    """Rows of an evaluation result ``{"image": {...}, "segmentation": {...} or None}``."""
    rows = [{"group": f"{group_prefix}image", "level": "", "metric": k, "value": v}
            for k, v in (result.get("image") or {}).items()]
    rows += [{"group": f"{group_prefix}synthrad", "level": "", "metric": k, "value": v}
             for k, v in (result.get("synthrad") or {}).items()]
    seg = result.get("segmentation")
    if seg:
        for level, d in seg["levels"].items():
            rows += [{"group": f"{group_prefix}vertebra", "level": level, "metric": name, "value": d[key]}
                     for key, name in LEVEL_METRICS]
        rows += [{"group": f"{group_prefix}segmentation", "level": "", "metric": k, "value": seg[k]}
                 for k in SUMMARY_METRICS]
    return rows


def _json_value(v: object) -> object:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def write_rows_csv(path: str | os.PathLike, rows: list[dict]) -> Path:
    """The rows as CSV (header ``group,level,metric,value``), atomically."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r[k] is None else r[k]) for k in COLUMNS})
    return write_text(path, buf.getvalue())


def write_rows_json(path: str | os.PathLike, rows: list[dict]) -> Path:
    """The rows as a JSON list of objects, atomically."""
    return write_json(path, [{k: _json_value(r[k]) for k in COLUMNS} for r in rows])
