"""Vertebra segmentation of CT and synthetic CT, labelled with VerSe/TPTBox level IDs."""

from .api import METHODS, segment_vertebrae
from .builtin import BuiltinOptions, segment_builtin
from .errors import SegmentationError
from .table import level_color, segment_name, segment_table

__all__ = ["METHODS", "BuiltinOptions", "SegmentationError", "level_color", "segment_builtin", "segment_name",
           "segment_table", "segment_vertebrae"]
