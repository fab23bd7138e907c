"""What notebook 07's analyses found, in the form its prose cites: small reductions of the
tables and results of `deepvis.gradcam.layers`, `checks`, `evaluation` and `reference`.

Every function here takes a result and returns numbers, names or a table; none computes a map.
Prose that only makes sense for one network (the layer choice of EfficientNet-Lite0, the
agreement with pytorch-grad-cam) still has values to cite on another network, NaN where nothing
was measured (`layer_choice` of no table, an empty `ReferenceAgreement`): the write-ups show a
prompt instead of such prose there (`deepvis.page.myst`), but the notebook evaluates it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: A layer's gradient must vary over positions by more than this (`gradient_spread`) for
#: equation (1) to average more than a constant.
MIN_SPREAD = 0.01
#: The scores of `deepvis.gradcam.evaluation.evaluate` for which lower is better.
LOWER_IS_BETTER = ("deletion", "morf", "sanity")


def choose_layer(table: pd.DataFrame, min_spread: float = MIN_SPREAD) -> str:
    """The Grad-CAM layer that a layer comparison (`deepvis.gradcam.layers.compare_layers`)
    picks: among the layers whose gradient spread exceeds `min_spread`, the one whose maps have
    the lowest deletion AUC (the most faithful); ``""`` when no layer qualifies."""
    varying = table[table["spread"] > min_spread]
    return str(varying["deletion"].idxmin()) if len(varying) else ""


@dataclass(frozen=True)
class LayerChoice:
    """What a layer comparison says, for the prose: the layer it picks (`choose_layer`; ``""``
    when none), the table's rows of the network's last activation (``top``) and of the pick
    (``picked``), and the largest difference in deletion or insertion AUC between the layers
    (``auc_range``). Rows absent from the table, or no table at all, read NaN."""

    pick: str
    top: pd.Series
    picked: pd.Series
    auc_range: float


def layer_choice(
    table: pd.DataFrame | None, top: str, min_spread: float = MIN_SPREAD
) -> LayerChoice:
    """The `LayerChoice` of a `compare_layers` table whose last activation is layer `top`;
    `table` None (a network whose layers were not compared) gives pick ``""`` and NaN values."""
    from deepvis.gradcam.layers import COLUMNS

    table = pd.DataFrame(columns=list(COLUMNS), dtype=float) if table is None else table
    pick = choose_layer(table, min_spread)
    empty = pd.Series(np.nan, index=table.columns)
    aucs = table[["deletion", "insertion"]].astype(float)
    return LayerChoice(
        pick=pick,
        top=table.loc[top] if top in table.index else empty,
        picked=table.loc[pick] if pick in table.index else empty,
        auc_range=float((aucs.max() - aucs.min()).max()) if len(table) else float("nan"),
    )


@dataclass(frozen=True)
class ReferenceAgreement:
    """The largest difference between this implementation's maps and pytorch-grad-cam's, per
    method (``report/gradcam_reference.json``, written by `deepvis.gradcam.reference`'s
    benchmark): ``float32`` with both networks in float32, ``float64`` (gradient methods only)
    in float64. Empty when nothing was recorded for the network and layer in use."""

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


def final_correlations(sanity: Mapping[str, Sequence[Any]]) -> dict[str, float]:
    """|Spearman rho| between the trained and the fully randomised map, per image: the last
    `deepvis.gradcam.checks.SanityStep` of each image's cascade in `sanity`."""
    return {image: abs(float(steps[-1].spearman)) for image, steps in sanity.items()}


def rank_frame(iou: np.ndarray, rho: np.ndarray, stems: Sequence[str]) -> pd.DataFrame:
    """The rank-2 and rank-3 maps against the rank-1 map, one row per image (``<stem>.jpg``):
    columns ``rho2``, ``iou2``, ``rho3``, ``iou3`` from `deepvis.gradcam.layers.rank_agreement`'s
    (N, 2) IoU and rho."""
    return pd.DataFrame(
        {"rho2": rho[:, 0], "iou2": iou[:, 0], "rho3": rho[:, 1], "iou3": iou[:, 1]},
        index=[f"{stem}.jpg" for stem in stems],
    )


def cascade_frame(columns: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """|rho| after each step of several sanity cascades of the same network, side by side:
    one column per entry of `columns` (name -> `SanityStep` list), one row per step, labelled
    ``trained`` then ``+ <weight group>``."""
    steps = next(iter(columns.values()))
    index = ["trained"] + [f"+ {step.name}" for step in steps[1:]]
    return pd.DataFrame(
        {name: [abs(float(s.spearman)) for s in cascade] for name, cascade in columns.items()},
        index=index,
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
