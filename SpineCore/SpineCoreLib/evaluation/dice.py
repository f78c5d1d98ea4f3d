"""Vertebra Dice as in Graf et al. (2023): strict per level, shift-tolerant per level, and binary.

Strict: the predicted label must be the reference's level. Shift-tolerant (Graf et al.'s (2023)
protocol): the best Dice over predicted labels shifted by 0 or one level either way, and by two
levels when that is still below 0.5, so a vertebra found but misnamed is not scored as missed.
Shifts count along the spine's level order (T12 -> L1 is one step, although their IDs 19 and 20
would hide a T13 between them), with T13/L6 in the order only when either label map holds one.
A reference level without any matching prediction scores 0. Binary Dice treats all vertebrae as
one class. Only vertebra IDs count: discs (100+), cord and canal labels are ignored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from SpineCoreLib.levels import ID_LEVELS, LEVEL_IDS, VARIANT_LEVELS, ordered_levels

NEAR_SHIFTS = (0, -1, 1)
FAR_SHIFTS = (-2, 2)
RESCUE_BELOW = 0.5


@dataclass(frozen=True)
class LevelDice:
    """Dice of one reference vertebra: ``matched`` is the predicted level that gave ``shift_tolerant``."""

    level: str
    label: int
    strict: float
    shift_tolerant: float
    matched: str | None
    shift: int | None

    def to_dict(self) -> dict:
        return asdict(self)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two boolean masks: 0 when only one is empty (a missing prediction scores 0), NaN
    when both are (nothing to score)."""
    sa, sb = int(a.sum()), int(b.sum())
    if sa == 0 and sb == 0:
        return float("nan")
    if sa == 0 or sb == 0:
        return 0.0
    return 2.0 * int(np.count_nonzero(a & b)) / (sa + sb)


def vertebra_levels(labels: np.ndarray) -> list[str]:
    """The vertebral levels present in a label map, cranial to caudal."""
    present = {ID_LEVELS[int(v)] for v in np.unique(labels) if int(v) in ID_LEVELS}
    return [lv for lv in ordered_levels(include_variants=True) if lv in present]


def _level_order(*level_lists: list[str]) -> list[str]:
    variants = any(lv in VARIANT_LEVELS for levels in level_lists for lv in levels)
    return ordered_levels(include_variants=variants)


def level_dice(pred: np.ndarray, ref: np.ndarray, level: str, order: list[str],
               pred_levels: set[str]) -> LevelDice:
    """Strict and shift-tolerant Dice of one reference level (``order``: the level order used)."""
    target = ref == LEVEL_IDS[level]
    pos = order.index(level)

    def shifted(s: int) -> tuple[float, str | None]:
        p = pos + s
        if not 0 <= p < len(order) or order[p] not in pred_levels:
            return 0.0, None
        return dice(pred == LEVEL_IDS[order[p]], target), order[p]

    strict, _ = shifted(0)
    best = max(((*shifted(s), s) for s in NEAR_SHIFTS), key=lambda t: t[0])
    if best[0] < RESCUE_BELOW:
        best = max([best, *((*shifted(s), s) for s in FAR_SHIFTS)], key=lambda t: t[0])
    score, matched, shift = best
    if matched is None or score == 0.0:
        matched, shift = None, None
    return LevelDice(level, LEVEL_IDS[level], strict, score, matched, shift)


def vertebra_mask(labels: np.ndarray) -> np.ndarray:
    """All vertebrae as one mask (IDs of levels.py only)."""
    return np.isin(labels, list(LEVEL_IDS.values()))


def segmentation_metrics(pred: np.ndarray, ref: np.ndarray, levels: list[str] | None = None) -> dict:
    """Per-level Dice (strict and shift-tolerant) over the reference's vertebrae, their means and the
    binary Dice. ``levels`` restricts the per-level scores (e.g. to the fully visible vertebrae);
    the binary Dice always covers every vertebra.

    Keys: ``levels`` ({level: LevelDice as dict}), ``mean_dice_strict``, ``mean_dice_shift_tolerant``,
    ``binary_dice``, ``reference_levels``, ``predicted_levels``.
    """
    if pred.shape != ref.shape:
        raise ValueError(f"label maps differ in shape: {pred.shape} vs {ref.shape}; resample first")
    ref_levels, pred_levels = vertebra_levels(ref), vertebra_levels(pred)
    scored = ref_levels if levels is None else [lv for lv in ref_levels if lv in set(levels)]
    order = _level_order(ref_levels, pred_levels, scored)
    per = [level_dice(pred, ref, lv, order, set(pred_levels)) for lv in scored]
    nan = float("nan")
    return {
        "levels": {d.level: d.to_dict() for d in per},
        "mean_dice_strict": float(np.mean([d.strict for d in per])) if per else nan,
        "mean_dice_shift_tolerant": float(np.mean([d.shift_tolerant for d in per])) if per else nan,
        "binary_dice": dice(vertebra_mask(pred), vertebra_mask(ref)),
        "reference_levels": ref_levels,
        "predicted_levels": pred_levels,
    }
