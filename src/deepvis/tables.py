"""Tables as a grader reads them: human headings with units, rounded values, "—" for missing.

`table` turns a pandas DataFrame into HTML for a notebook (and, through nbconvert, for the
HTML and PDF write-ups): no index-name row, no ``NaN``, each column formatted on its own.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from IPython.display import HTML

#: Shown for a missing value.
MISSING = "—"


def formatted(
    frame: pd.DataFrame, columns: Mapping[str, tuple[str, str]], index: str | None = None
) -> pd.DataFrame:
    """A copy of `frame` as strings: only the `columns` given, in their order, each renamed
    and formatted: ``{column: (heading, format spec)}``, e.g. ``{"psnr_db": ("PSNR (dB)",
    ".2f")}``. Missing values become `MISSING`. With `index`, the index becomes the first
    column under that heading; without, it is dropped."""
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise KeyError(f"no columns {unknown} in the table; it has {list(frame.columns)}")
    out = pd.DataFrame(
        {
            heading: [MISSING if pd.isna(v) else format(v, spec) for v in frame[column]]
            for column, (heading, spec) in columns.items()
        }
    )
    if index is not None:
        out.insert(0, index, [str(v) for v in frame.index])
    return out


def table(
    frame: pd.DataFrame, columns: Mapping[str, tuple[str, str]], index: str | None = None
) -> HTML:
    """`formatted` as an HTML table (class ``dataframe``, which the PDF template converts)."""
    html = formatted(frame, columns, index).to_html(index=False, border=0)
    return HTML(html)
