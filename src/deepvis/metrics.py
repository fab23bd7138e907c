"""``report/metrics.json``: every headline number of the report, under dotted keys."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deepvis.config import paths
from deepvis.files import atomic_write_json


def _to_json(value: Any) -> Any:
    """Convert NumPy scalars and arrays (and containers of them) to plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def load(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read the metrics file; an absent file reads as an empty dict."""
    path = Path(path) if path else paths().metrics
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def update(values: Mapping[str, Any], path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Merge `values` (dotted keys such as ``cae.test_bce``) into the metrics file, atomically.

    Floats are rounded to 6 significant digits so reruns do not churn the file. Returns the
    merged dict.
    """
    path = Path(path) if path else paths().metrics
    merged = load(path)
    for key, value in _to_json(dict(values)).items():
        merged[key] = _round(value)
    atomic_write_json(path, merged)
    return merged


def prefixed(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` under dotted keys: ``prefixed("cae", {"test_bce": 0.3})`` gives
    ``{"cae.test_bce": 0.3}``."""
    return {f"{prefix}.{key}": value for key, value in values.items()}


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


#: The project's quality goals (from the issues): key -> (description, comparison, target).
GOALS: dict[str, tuple[str, str, float]] = {
    "cae.test_bce": ("CAE test binary cross-entropy per pixel", "<=", 0.32),
    "dcae.psnr": ("Denoising CAE PSNR at N(0, 1) noise (dB)", ">=", 16.0),
    "latent.cae.knn5": ("CAE 2-D codes, 5-NN accuracy", ">=", 0.78),
    "latent.cae.trustworthiness": ("CAE 2-D codes, trustworthiness (k = 5)", ">=", 0.98),
}


def goals_table(values: Mapping[str, Any] | None = None):
    """A pandas DataFrame, one row per goal of `GOALS`: measured value, target and whether met.

    `values` defaults to the metrics file; a goal whose key is missing shows as not measured.
    """
    import pandas as pd

    values = load() if values is None else values
    rows = []
    for key, (what, op, target) in GOALS.items():
        value = values.get(key)
        met = None if value is None else (value <= target if op == "<=" else value >= target)
        rows.append(
            {
                "goal": what,
                "key": key,
                "measured": value,
                "target": f"{op} {target:g}",
                "met": {None: "not measured", True: "yes", False: "no"}[met],
            }
        )
    return pd.DataFrame(rows).set_index("goal")
