"""The modalities a latent model knows: their manifest columns, intensity mappings and output units.

One autoencoder sees every modality, so each is mapped to about [-1, 1] on its own terms: MR by
robust percentiles of the volume (``intensity.MRMapping``), CT by Hounsfield units
(``intensity.CTMapping``). Translated images go back to HU for CT and to MR arbitrary units
0..1000 for MR targets (the percentile scale of a synthetic MR has no absolute meaning).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from SpineCoreLib.intensity import CTMapping, MRMapping

CT_KEY = "ct"
MR_UNITS = 1000.0  # MR targets are written as arbitrary units 0..MR_UNITS
DISPLAY = {"ct": "CT", "t1w": "T1w", "t2w": "T2w", "pdw": "PDw", "stir": "STIR", "flair": "FLAIR",
           "t1ce": "T1ce", "dixon": "Dixon"}


def display_name(key: str) -> str:
    """How users write a modality (``--target T1w``); matching is case-insensitive."""
    return DISPLAY.get(key.lower(), key.upper())


@dataclass(frozen=True)
class Modality:
    """One modality: its key (``ct``, ``t1w``...), manifest column and intensity mapping."""

    key: str
    column: str = ""
    mr_map: MRMapping = field(default_factory=MRMapping)
    ct_map: CTMapping = field(default_factory=CTMapping)

    @property
    def is_ct(self) -> bool:
        return self.key.lower() == CT_KEY

    @property
    def name(self) -> str:
        return display_name(self.key)

    @property
    def background(self) -> float:
        """Output value outside the translated field of view (air)."""
        return self.ct_map.hu_min if self.is_ct else 0.0

    def to_values(self, image: np.ndarray) -> np.ndarray:
        """Network values (about [-1, 1]) of an image in its own units."""
        return self.ct_map.forward(image) if self.is_ct else self.mr_map.forward(image)

    def to_values_and_pad(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """Network values of an image and the value of empty space (air) in them, to pad patches."""
        if self.is_ct:
            return self.ct_map.forward(image), float(self.ct_map.forward(np.float32(self.ct_map.hu_min)))
        lo_hi = self.mr_map.fit(image)  # one percentile fit for both
        return self.mr_map.forward(image, lo_hi), float(self.mr_map.forward(np.zeros(1, np.float32), lo_hi)[0])

    def from_values(self, values: np.ndarray) -> np.ndarray:
        """Target units of network values: HU for CT, MR arbitrary units 0..1000 otherwise."""
        if self.is_ct:
            return self.ct_map.inverse(values)
        return (np.clip((np.asarray(values, np.float32) + 1.0) / 2.0, 0.0, 1.0) * MR_UNITS).astype(np.float32)

    def to_card(self) -> dict:
        mapping = self.ct_map.to_json() if self.is_ct else self.mr_map.to_json()
        units = "HU" if self.is_ct else f"MR arbitrary units 0..{MR_UNITS:g}"
        return {"name": self.name, "key": self.key, "column": self.column, "modality": "CT" if self.is_ct else "MR",
                "intensity": mapping, "output_units": units}

    @classmethod
    def from_card(cls, entry: dict) -> Modality:
        inten = {k: v for k, v in (entry.get("intensity") or {}).items() if k != "kind"}
        if entry["key"].lower() == CT_KEY:
            return cls(entry["key"], entry.get("column", ""), ct_map=CTMapping(**inten))
        return cls(entry["key"], entry.get("column", ""), mr_map=MRMapping(**inten))
