"""How many sampling steps a model needs: the fewest whose held-out quality is within a tolerance of a
reference count's, for every input and target measured.

DDIM (Song et al., ICLR 2021) trades steps for quality, and how much quality a step buys differs by
model: an image-predicting model is often as good at 8 steps as at 20. The default in each card
comes from a measured curve (``Testing/benchmarks/steps_curve.py``) rather than from habit. PSNR
alone rewards a blurred mean-like answer, which few steps can give, so SSIM must hold too.
"""

from __future__ import annotations

from collections.abc import Mapping

CURVE_STEPS = (2, 4, 6, 8, 12, 20, 50)
REFERENCE_STEPS = 20
TOLERANCES = {"psnr_db": 0.3, "ssim": 0.01}  # how far below the reference count's value a metric may fall


def fewest_steps_within(curves: Mapping[str, Mapping[int, Mapping[str, float]]], reference: int = REFERENCE_STEPS,
                        tolerances: Mapping[str, float] = TOLERANCES) -> int:
    """The smallest step count whose every metric in ``tolerances`` (higher is better) is at least the
    ``reference`` count's minus its tolerance, in every group (``curves[group][steps][metric]``, a group
    being an input contrast, or an input and target pair)."""
    if not curves:
        raise ValueError("no curve to choose from")
    ok: set[int] | None = None
    for group, curve in curves.items():
        if reference not in curve:
            raise ValueError(f"group {group!r} has no values at the reference {reference} steps")
        ref = curve[reference]
        good = {n for n, values in curve.items()
                if all(values[k] >= ref[k] - tol for k, tol in tolerances.items())}
        ok = good if ok is None else ok & good
    return min(ok)
