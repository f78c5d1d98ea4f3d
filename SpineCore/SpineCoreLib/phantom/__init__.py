"""Analytic paired spine MR/CT phantom with exact ground truth.

Real paired spine MR/CT cannot be downloaded here, so the project renders its own: one
analytic anatomy evaluated in two worlds (CT and MR) that differ by a known global rigid
motion plus per-vertebra changes, so every correspondence is exact.
"""

from .case import WHOLE_SPINE, PhantomOptions, generate_case
from .cohort import generate_cohort

__all__ = ["WHOLE_SPINE", "PhantomOptions", "generate_case", "generate_cohort"]
