"""Tissue classes, their CT numbers and MR relaxation parameters, sampled per case.

Values follow ``shared/notes/data-and-phantom.md``: CT at 120 kVp (Jang et al., Radiology
2019 for trabecular bone), T1/T2/PD at 1.5 T (Drake-Perez et al., AJNR 2018; Stanisz et al.,
MRM 2005). MR signal from the spin-echo equation, with inversion recovery for STIR-like
contrasts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Tissue(IntEnum):
    """Tissue class of a voxel (the values stored in ``mr_tissues.nii.gz``)."""

    AIR = 0
    FAT = 1
    MUSCLE = 2
    VISCERA = 3
    SKIN = 4
    LUNG = 5
    CANCELLOUS = 6
    CORTICAL = 7
    NUCLEUS = 8
    ANNULUS = 9
    CSF = 10
    CORD = 11
    NUCLEUS_DEGENERATED = 12


N_TISSUES = len(Tissue)

# (low, high) HU, sampled uniformly per case.
HU_RANGES: dict[Tissue, tuple[float, float]] = {
    Tissue.AIR: (-1000.0, -1000.0),
    Tissue.FAT: (-120.0, -80.0),
    Tissue.MUSCLE: (40.0, 60.0),
    Tissue.VISCERA: (30.0, 50.0),
    Tissue.SKIN: (20.0, 40.0),
    Tissue.LUNG: (-870.0, -820.0),
    Tissue.CANCELLOUS: (150.0, 250.0),
    Tissue.CORTICAL: (1200.0, 1800.0),
    Tissue.NUCLEUS: (70.0, 100.0),
    Tissue.ANNULUS: (100.0, 120.0),
    Tissue.CSF: (0.0, 15.0),
    Tissue.CORD: (30.0, 40.0),
    Tissue.NUCLEUS_DEGENERATED: (80.0, 110.0),
}

# Mean (PD, T1 ms, T2 ms); each is scaled by U(0.9, 1.1) per case.
MR_PARAMS: dict[Tissue, tuple[float, float, float]] = {
    Tissue.AIR: (0.0, 1000.0, 1.0),
    Tissue.FAT: (1.0, 300.0, 130.0),
    Tissue.MUSCLE: (0.75, 1050.0, 40.0),
    Tissue.VISCERA: (0.8, 800.0, 60.0),
    Tissue.SKIN: (0.7, 800.0, 40.0),
    Tissue.LUNG: (0.08, 1200.0, 30.0),
    Tissue.CANCELLOUS: (0.9, 515.0, 75.0),  # T2 lowered so T2w marrow is ~0.45 of CSF (notes)
    Tissue.CORTICAL: (0.05, 1000.0, 0.5),
    Tissue.NUCLEUS: (0.85, 1165.0, 100.0),
    Tissue.ANNULUS: (0.6, 900.0, 45.0),
    Tissue.CSF: (1.0, 4270.0, 1580.0),
    Tissue.CORD: (0.65, 780.0, 100.0),
    Tissue.NUCLEUS_DEGENERATED: (0.75, 1000.0, 60.0),
}


@dataclass(frozen=True)
class MRSequence:
    """A spin-echo (or inversion-recovery when ``ti`` is set) acquisition, times in ms."""

    name: str
    tr: float
    te: float
    ti: float | None = None


SEQUENCES: dict[str, MRSequence] = {
    "t1w": MRSequence("t1w", tr=600.0, te=10.0),
    "t2w": MRSequence("t2w", tr=3500.0, te=100.0),
    "pdw": MRSequence("pdw", tr=3000.0, te=20.0),
    "stir": MRSequence("stir", tr=3500.0, te=60.0, ti=150.0),
}


@dataclass
class TissueValues:
    """One case's tissue properties: HU and (PD, T1, T2) per tissue class."""

    hu: np.ndarray  # (N_TISSUES,)
    pd: np.ndarray
    t1: np.ndarray
    t2: np.ndarray

    @classmethod
    def sample(cls, rng: np.random.Generator) -> TissueValues:
        hu = np.array([rng.uniform(*HU_RANGES[t]) for t in Tissue])
        base = np.array([MR_PARAMS[t] for t in Tissue])
        scale = rng.uniform(0.9, 1.1, size=base.shape)
        mr = base * scale
        return cls(hu=hu, pd=mr[:, 0], t1=mr[:, 1], t2=mr[:, 2])

    def signal(self, seq: MRSequence) -> np.ndarray:
        """Relative MR signal of every tissue class for ``seq``."""
        e1 = np.exp(-seq.tr / self.t1)
        longitudinal = 1.0 - e1 if seq.ti is None else np.abs(1.0 - 2.0 * np.exp(-seq.ti / self.t1) + e1)
        return self.pd * longitudinal * np.exp(-seq.te / self.t2)

    def to_json(self) -> dict:
        return {
            t.name.lower(): {
                "hu": round(float(self.hu[t]), 3),
                "pd": round(float(self.pd[t]), 4),
                "t1_ms": round(float(self.t1[t]), 2),
                "t2_ms": round(float(self.t2[t]), 2),
            }
            for t in Tissue
        }
