"""Importers of public dataset layouts: each finds a dataset's files where its official description puts
them and writes a ``manifest.csv`` that refers to them (nothing is copied or converted)."""

from .bids import import_bids
from .synthrad import import_synthrad2023, import_synthrad2025

FORMATS = {"bids": import_bids, "synthrad2023": import_synthrad2023, "synthrad2025": import_synthrad2025}

__all__ = ["FORMATS", "import_bids", "import_synthrad2023", "import_synthrad2025"]
