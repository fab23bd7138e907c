"""Numbered figures and tables: what a cell shows carries a label and a caption.

A notebook shows a figure with `figure` and a table with `deepvis.page.tables.table`; both put
``{"deepvis": {"kind": ..., "label": ..., "caption": ...}}`` into the output's metadata (`META`).
Prose refers to them with MyST's link to a target, ``[Figure](#fig-<label>)`` and
``[Table](#tab-<label>)`` (`deepvis.page.myst.REFERENCE`): JupyterLab shows the word, linked.
When a write-up is
assembled (`deepvis.report.writeup`), its figures and its tables are numbered in the order in
which they appear, every reference becomes "Figure 3" or "Table 2", and the templates print the
caption under the figure (above the table) and use it as the image's alt text.
"""

from __future__ import annotations

import inspect
import os
import re
import textwrap
from typing import Any

from deepvis.errors import DeepvisError
from deepvis.files import atomic_write_bytes, png_bytes
from deepvis.page.myst import REFERENCE

__all__ = [
    "DPI",
    "KINDS",
    "META",
    "REFERENCE",
    "caption_metadata",
    "figure",
    "listing",
    "text_table",
]

#: The output-metadata key of a captioned figure or table.
META = "deepvis"
#: Reference kinds: the prefix used in prose, and the word it becomes.
KINDS = {"fig": "Figure", "tab": "Table"}
_LABEL = re.compile(r"^[A-Za-z0-9_.-]+$")
DPI = 150


def caption_metadata(
    kind: str, label: str, caption: str, here: bool = False
) -> dict[str, dict[str, Any]]:
    """The output metadata of a captioned item; `kind` is ``"fig"`` or ``"tab"``. With `here`,
    the hand-ins' LaTeX keeps the item where it stands (placement ``H``) instead of floating it;
    the technical report (notebook metadata ``floats``) floats every item.

    Raises `DeepvisError` for an unknown kind, a label that is not ``[A-Za-z0-9_.-]+`` or an
    empty caption.
    """
    if kind not in KINDS:
        raise DeepvisError(f"caption kind must be one of {sorted(KINDS)}, got {kind!r}")
    if not _LABEL.match(label):
        raise DeepvisError(f"label {label!r}: use letters, digits, '-', '_' or '.' only")
    if not caption.strip():
        raise DeepvisError(
            f"{KINDS[kind].lower()} {label!r} has no caption; write one or two sentences"
        )
    meta: dict[str, Any] = {"kind": kind, "label": label, "caption": " ".join(caption.split())}
    if here:
        meta["here"] = True
    return {META: meta}


def figure(
    fig: Any, path: str | os.PathLike, *, label: str, caption: str, here: bool = False
) -> None:
    """Save `fig` as PNG at `path` (`DPI`, atomically), close it, and display it with its
    `label` and `caption` (one or two sentences that say what to look at). With `here`, the
    PDF keeps the figure where it stands in the text (LaTeX placement ``H``), so that prose
    about it can follow it directly; otherwise LaTeX places it where it fits best."""
    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    meta = caption_metadata("fig", label, caption, here)
    data = png_bytes(fig, DPI)
    atomic_write_bytes(path, data)
    plt.close(fig)
    display(Image(data=data, format="png"), metadata=meta)


def listing(
    obj: Any, start: str | None = None, stop: str | None = None, *, comments: bool = True
) -> str:
    """The source lines of `obj` (a function, class or module) as a fenced Python block.

    With `start`, the listing begins at the first line containing that text; with `stop`, it
    ends at the first line from there on containing it, or after the line that closes the
    brackets still open there. Without `comments`, the lines that hold only a comment are left
    out (a short listing for print). Quoting the source keeps a listing from drifting away from
    the code. Raises `DeepvisError` when a marker is not found.
    """
    lines = textwrap.dedent(inspect.getsource(obj)).splitlines()
    begin = 0
    if start is not None:
        begin = next((i for i, line in enumerate(lines) if start in line), -1)
        if begin < 0:
            raise DeepvisError(f"{start!r} not found in the source of {obj.__qualname__}")
    end = len(lines)
    if stop is not None:
        end = next((i + 1 for i in range(begin, len(lines)) if stop in lines[i]), -1)
        if end < 0:
            raise DeepvisError(f"{stop!r} not found in the source of {obj.__qualname__}")
        while end < len(lines) and _open_brackets(lines[begin:end]) > 0:
            end += 1
    kept = [line for line in lines[begin:end] if comments or not line.lstrip().startswith("#")]
    body = textwrap.dedent("\n".join(kept))
    return f"```python\n{body}\n```"


def _open_brackets(lines: list[str]) -> int:
    """How many brackets the code `lines` leave open (strings and comments not parsed)."""
    text = "\n".join(lines)
    return sum(text.count(c) for c in "([{") - sum(text.count(c) for c in ")]}")


#: The most characters a line of `text_table` may have at 7 points (LaTeX's scriptsize) in the
#: PDF: the 6.5-inch text width over the width of a character of the write-ups' monospaced
#: font (DejaVu Sans Mono, 0.602 em, scaled by 0.87).
SCRIPTSIZE_CHARS = 128


def text_table(text: str, *, label: str, caption: str, small: bool = False) -> None:
    """Display preformatted `text` (a model summary, say) as a numbered table of the write-up:
    monospaced, kept on one page, with its `label` and `caption`; `small` sets it in 7 points
    in the PDF (LaTeX's scriptsize) instead of 8. Text with lines longer than
    `SCRIPTSIZE_CHARS` is set smaller still, at the size where its longest line fits the text
    width."""
    import html

    from IPython.display import display

    longest = max((len(line) for line in text.splitlines()), default=0)
    if longest > SCRIPTSIZE_CHARS:
        points = 7 * SCRIPTSIZE_CHARS / longest
        size = f"\\fontsize{{{points:.2f}pt}}{{{1.15 * points:.2f}pt}}\\selectfont"
    else:
        fits_8pt = longest <= SCRIPTSIZE_CHARS * 7 / 8  # 112 characters at 8 points
        size = "\\footnotesize" if fits_8pt and not small else "\\scriptsize"
    bundle = {
        "text/plain": text,
        "text/html": f'<pre class="deepvis-text">{html.escape(text)}</pre>',
        "text/latex": f"\\begin{{Verbatim}}[fontsize={size}]\n{text}\n\\end{{Verbatim}}",
    }
    display(bundle, raw=True, metadata=caption_metadata("tab", label, caption))
