"""Importers of public dataset layouts: each finds a dataset's files where its official description puts
them and lists them in a ``manifest.csv`` (``importer(src, out)`` gives the rows); nothing is copied or
converted, except what this project cannot read as it is (VerSe's centroids become point lists in
``out``)."""

from .bids import import_bids
from .spider import import_spider
from .synthrad import import_synthrad2023, import_synthrad2025
from .verse import import_verse

FORMATS = {"bids": import_bids, "synthrad2023": import_synthrad2023, "synthrad2025": import_synthrad2025,
           "spider": import_spider, "verse": import_verse}

__all__ = ["FORMATS", "import_bids", "import_spider", "import_synthrad2023", "import_synthrad2025", "import_verse"]
