"""What notebook 07's analyses found, in the form its prose cites: small reductions of the
tables and results of `deepvis.gradcam.layers`, `checks`, `evaluation` and `reference`.

Every function here takes a result and returns numbers, names or a table; none computes a map.
Prose that only makes sense for one network (the layer comparison of EfficientNet-Lite0, the
agreement with pytorch-grad-cam) still has values to cite on another network, NaN where nothing
was measured (`layer_comparison` of no table, an empty `ReferenceAgreement`): the write-ups show a
prompt instead of such prose there (`deepvis.page.myst`), but the notebook evaluates it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepvis.errors import DeepvisError
from deepvis.gradcam.checks import spearman

#: The scores of `deepvis.gradcam.evaluation.evaluate` for which lower is better.
LOWER_IS_BETTER = ("deletion", "morf", "sanity")


@dataclass(frozen=True)
class LayerComparison:
    """A layer comparison (`deepvis.gradcam.layers.compare_layers`) as the prose cites it.

    ``table`` one row per layer (index ``layer``, the columns of `deepvis.gradcam.layers.COLUMNS`:
    ``grid`` text, the others float); empty for a network whose layers were not compared. It
    picks no layer: Grad-CAM explains the network's final conv layer
    (`deepvis.gradcam.imagenet.ImageNetModel.layer`), and the other rows are there to compare.
    """

    table: pd.DataFrame

    def row(self, layer: str) -> pd.Series:
        """The measurements of `layer`, indexed by the table's columns; all NaN when the table
        has no row for it."""
        if layer in self.table.index:
            return self.table.loc[layer]
        return pd.Series(np.nan, index=self.table.columns)

    @property
    def auc_range(self) -> float:
        """The largest difference in deletion or insertion AUC between the layers; NaN for an
        empty table."""
        if not len(self.table):
            return float("nan")
        aucs = self.table[["deletion", "insertion"]].astype(float)
        return float((aucs.max() - aucs.min()).max())


def layer_comparison(table: pd.DataFrame | None) -> LayerComparison:
    """The `LayerComparison` of a `compare_layers` table; None (a network whose layers were not
    compared) gives an empty table with the same columns, whose rows all read NaN."""
    from deepvis.gradcam.layers import COLUMNS

    empty = pd.DataFrame(columns=list(COLUMNS), dtype=float)
    return LayerComparison(empty if table is None else table)


@dataclass(frozen=True)
class ReferenceAgreement:
    """The largest difference between this implementation's maps and pytorch-grad-cam's, per
    method (``report/gradcam_reference.json``, written by `deepvis.gradcam.reference`'s
    benchmark): ``float32`` with both networks in float32, ``float64`` with both in float64
    (Score-CAM on fewer maps, as the record's ``scorecam_maps`` says). Empty when nothing was
    recorded for the network and layer in use."""

    float32: dict[str, float] = field(default_factory=dict)
    float64: dict[str, float] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        """True when the comparison was made for this network and layer."""
        return bool(self.float32)

    @property
    def largest_float64(self) -> float:
        """The largest float64 difference over the methods; NaN when there is none."""
        return max(self.float64.values(), default=float("nan"))

    def frame(self) -> pd.DataFrame:
        """One row per method (index ``method``): columns ``float32`` and ``float64`` (NaN for
        the methods compared in float32 only)."""
        frame = pd.DataFrame({"float32": self.float32, "float64": self.float64}, dtype=float)
        frame.index.name = "method"
        return frame


def reference_agreement(path: str | Path, model: str, layer: str) -> ReferenceAgreement:
    """The agreement recorded in the JSON file `path` when it was measured for network `model`
    at `layer` with both precisions; otherwise (no file, another network or layer, float32
    only) an empty `ReferenceAgreement`."""
    path = Path(path)
    if not path.is_file():
        return ReferenceAgreement()
    record = json.loads(path.read_text())
    if record.get("model") != model or record.get("layer") != layer:
        return ReferenceAgreement()
    if "max_diff_float64" not in record:
        return ReferenceAgreement()
    return ReferenceAgreement(dict(record["max_diff"]), dict(record["max_diff_float64"]))


def rank_frame(iou: np.ndarray, rho: np.ndarray, stems: Sequence[str]) -> pd.DataFrame:
    """The rank-2 and rank-3 maps against the rank-1 map, one row per image (``<stem>.jpg``):
    columns ``rho2``, ``iou2``, ``rho3``, ``iou3`` from `deepvis.gradcam.layers.rank_agreement`'s
    (N, 2) IoU and rho."""
    return pd.DataFrame(
        {"rho2": rho[:, 0], "iou2": iou[:, 0], "rho3": rho[:, 1], "iou3": iou[:, 1]},
        index=[f"{stem}.jpg" for stem in stems],
    )


def beats_random(scores: pd.DataFrame, score: str) -> list[str]:
    """The methods (rows of `scores`, an `deepvis.gradcam.evaluation.evaluate` table) whose
    `score` (a key of its ``COLUMNS``: ``"deletion"``, ...) beats the random maps' mean by more
    than two of their standard deviations across draws, in the table's order."""
    from deepvis.gradcam.evaluation import COLUMNS, RANDOM, RANDOM_SD

    column = COLUMNS[score]
    methods = scores.drop([RANDOM, RANDOM_SD])[column]
    margin = 2 * scores.loc[RANDOM_SD, column]
    if score in LOWER_IS_BETTER:
        better = methods < scores.loc[RANDOM, column] - margin
    else:
        better = methods > scores.loc[RANDOM, column] + margin
    return list(methods.index[better])


def sanity_split(scores: pd.DataFrame, threshold: float = 0.3) -> tuple[list[str], list[str]]:
    """The methods of `scores` (an `evaluate` table) that pass the sanity check (|rho| below
    `threshold`: the map is lost once the network is randomised) and those that keep much of
    their map; methods without the score (NaN: Score-CAM) are in neither."""
    from deepvis.gradcam.evaluation import COLUMNS, RANDOM, RANDOM_SD

    rho = scores.drop([RANDOM, RANDOM_SD])[COLUMNS["sanity"]].dropna()
    return list(rho.index[rho < threshold]), list(rho.index[rho >= threshold])


def most_counterfactual(counter: Any) -> int:
    """The image whose counterfactual map (`deepvis.gradcam.core.CAMResult` with method
    ``counterfactual``, rank 1) holds the most evidence against its class: the largest sum of
    its raw map."""
    return int(np.argmax(np.asarray(counter.raw).sum(axis=(1, 2, 3))))


def peak_place(grid: np.ndarray) -> str:
    """Where the maximum of a map on its layer's grid ``grid`` (h, w) lies: its cell as (row,
    column), counted from 1 at the top left, ``"cell (1, 2)"``. The first maximum in row-major
    order where tied. The grid, not the upsampled map, because a bilinearly upsampled map
    peaks at a cell centre: its position is no finer than the cell."""
    y, x = peak_cell(grid)
    return f"cell ({y + 1}, {x + 1})"


def first_below(values: pd.Series, threshold: float) -> str:
    """The index label of the first value of ``values`` (a step-indexed series, e.g. a column
    of `deepvis.gradcam.checks.Sanity.frame`) after the first (the trained map) that is below
    `threshold`; ``"never"`` when none is."""
    later = values.iloc[1:]
    hit = later[later < threshold]
    return str(hit.index[0]) if len(hit) else "never"


def with_interval(row: pd.Series, column: str, digits: int = 2) -> str:
    """``row[column]`` with its interval ``row[column + "_low"]``, ``row[column + "_high"]``,
    as the prose cites it: ``"1.63 [0.22, 3.04]"``."""
    low, high = row[f"{column}_low"], row[f"{column}_high"]
    return f"{row[column]:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def peak_on_border(grid: np.ndarray) -> bool:
    """Whether the maximum of a map on its layer's grid ``grid`` (h, w) lies in a cell on the
    grid's edge (first or last row or column); the first maximum in row-major order where
    tied, as in `peak_place`."""
    (h, w), (y, x) = np.shape(grid), peak_cell(grid)
    return y in (0, h - 1) or x in (0, w - 1)


def peak_cell(grid: np.ndarray) -> tuple[int, int]:
    """(row, column), from 0, of the maximum of a 2-D map ``grid`` (h, w): the first in
    row-major order where tied. Raises `ValueError` for anything but a non-empty 2-D map."""
    grid = np.asarray(grid)
    if grid.ndim != 2 or not grid.size:
        raise ValueError(f"grid must be a 2-D map, not shape {grid.shape}")
    y, x = np.unravel_index(int(np.argmax(grid)), grid.shape)
    return int(y), int(x)


def map_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's r between two maps of the same shape, over their cells (the write-ups' *r*)."""
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def rank_correlations(maps: np.ndarray) -> np.ndarray:
    """`map_correlation` of each image's rank-1 map with each of its lower ranks: maps
    (N, k, h, w) -> (N, k - 1)."""
    return np.array([[map_correlation(m[0], other) for other in m[1:]] for m in maps])


def image_pairs(maps: np.ndarray, measure: Callable[[np.ndarray, np.ndarray], float]) -> np.ndarray:
    """``measure`` between the maps of every two different images, maps (N, h, w) with
    N >= 2 (one per image): (N (N - 1) / 2,) float64, pairs in row-major order (0-1, 0-2, ...)."""
    if len(maps) < 2:
        raise DeepvisError(f"comparing images needs the maps of 2 images or more, not {len(maps)}")
    pairs = [(i, j) for i in range(len(maps)) for j in range(i + 1, len(maps))]
    return np.array([measure(maps[i], maps[j]) for i, j in pairs], dtype=np.float64)


def unrelated_rho(maps: np.ndarray) -> float:
    """The sanity check's floor among trained maps: the mean |`deepvis.gradcam.checks.spearman`|
    between the maps of every two different images (`image_pairs`), maps (N, h, w), N >= 2,
    one per image (e.g. each image's trained top-1 map). A map that has lost its image can keep
    this much likeness to it through what all maps share (layout, a centre bias)."""
    return float(np.mean(np.abs(image_pairs(maps, spearman))))


def chance_rho(shape: tuple[int, int], draws: int = 2000, seed: int = 0) -> float:
    """The sanity check's floor by chance: the mean |`deepvis.gradcam.checks.spearman`|
    between two independent uniform-noise maps of ``shape`` (h, w), over ``draws`` pairs
    (about sqrt(2 / (pi (h w - 1))), 0.115 on a 7 x 7 grid)."""
    noise = np.random.default_rng(seed).random((draws, 2, *shape))
    return float(np.mean([abs(spearman(a, b)) for a, b in noise]))
