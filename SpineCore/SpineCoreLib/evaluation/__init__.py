"""Evaluation of synthetic CTs: image metrics, vertebra Dice (strict and shift-tolerant), a flat
results table and a figure."""

from .dice import LevelDice, dice, segmentation_metrics
from .evaluate import evaluate, on_grid, same_grid
from .figure import evaluation_figure
from .table import result_rows, write_rows_csv, write_rows_json

__all__ = ["LevelDice", "dice", "evaluate", "evaluation_figure", "on_grid", "result_rows", "same_grid",
           "segmentation_metrics", "write_rows_csv", "write_rows_json"]
