"""Importers of public dataset layouts: each finds a dataset's files where its official description puts
them and writes a ``manifest.csv`` that refers to them (nothing is copied or converted)."""

from .bids import import_bids

FORMATS = {"bids": import_bids}

__all__ = ["FORMATS", "import_bids"]
