"""Which notebooks a report is made of (read by the settings pre-flight without nbformat)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["NOTEBOOK_GLOB", "find_notebooks"]

#: The notebooks a report is made of, run in name order.
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


def find_notebooks(folder: Path) -> list[Path]:
    """The report's notebooks in `folder` (``NN_name.ipynb``), in name order."""
    return sorted(folder.glob(NOTEBOOK_GLOB))
