"""``report/metrics.json``: every headline number of the report, under dotted keys."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deepvis.config import paths
from deepvis.files import atomic_write_json, folder_lock


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
    merged dict, its keys sorted (whatever order the notebooks ran in). The folder is locked
    while the file is read and written, so notebooks that run at once lose no update.
    """
    path = Path(path) if path else paths().metrics
    with folder_lock(path.parent):
        merged = load(path)
        for key, value in _to_json(dict(values)).items():
            merged[key] = _round(value)
        merged = dict(sorted(merged.items()))
        atomic_write_json(path, merged)
    return merged


def drop(*keys: str, path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Remove `keys` from the metrics file (absent keys are ignored), atomically and locked as
    in `update`: for a measurement that an analysis no longer makes. Returns the rest."""
    path = Path(path) if path else paths().metrics
    with folder_lock(path.parent):
        kept = {k: v for k, v in load(path).items() if k not in keys}
        atomic_write_json(path, kept)
    return kept


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
