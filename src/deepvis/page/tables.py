"""Tables as a grader reads them: human headings with units, rounded values, "—" for missing.

`table` shows a pandas DataFrame in a notebook and, through nbconvert, in the HTML and PDF
write-ups: no index-name row, no ``NaN``, each column formatted on its own, text columns
left-aligned and numbers right-aligned, and (with a label and caption) numbered as a table of
the write-up (`deepvis.page.captions`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import pandas as pd

from deepvis.page.captions import caption_metadata

#: Shown for a missing value.
MISSING = "—"
#: LaTeX's special characters and what each becomes in a table cell.
_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


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


def numeric_columns(text: pd.DataFrame) -> list[bool]:
    """For each column of a `formatted` table: whether every cell reads as a number, a number
    with its spread (``0.699 ± 0.002``) or is `MISSING`, so that it is right-aligned."""

    def is_number(cell: str) -> bool:
        try:
            for part in cell.split(" ± "):
                float(part.replace(",", "").replace("−", "-").rstrip("%×x"))
        except ValueError:
            return cell == MISSING
        return True

    return [all(is_number(str(v)) for v in text[c]) for c in text.columns]


def to_html(text: pd.DataFrame) -> str:
    """A `formatted` table as an HTML table (class ``dataframe``); text columns left-aligned."""
    align = ["right" if n else "left" for n in numeric_columns(text)]

    def row(cells: list[str], tag: str) -> str:
        return (
            "<tr>"
            + "".join(
                f'<{tag} style="text-align: {a}">{html.escape(str(c))}</{tag}>'
                for c, a in zip(cells, align, strict=True)
            )
            + "</tr>"
        )

    head = row(list(text.columns), "th")
    body = "\n".join(row(list(r), "td") for r in text.itertuples(index=False))
    return f'<table class="dataframe">\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>'


def latex_escape(text: str) -> str:
    """`text` with LaTeX's special characters escaped (for xelatex: Unicode stays as it is)."""
    return "".join(_LATEX.get(ch, ch) for ch in text)


def to_latex(text: pd.DataFrame) -> str:
    """A `formatted` table as a booktabs ``tabular``; text columns left-aligned."""
    spec = "".join("r" if n else "l" for n in numeric_columns(text))

    def row(cells: list[str]) -> str:
        return " & ".join(latex_escape(str(c)) for c in cells) + r" \\"

    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", row(list(text.columns)), r"\midrule"]
    lines += [row(list(r)) for r in text.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


def table(
    frame: pd.DataFrame,
    columns: Mapping[str, tuple[str, str]],
    index: str | None = None,
    *,
    label: str | None = None,
    caption: str | None = None,
    here: bool = False,
) -> None:
    """Display `formatted` as a table (HTML and LaTeX), with `label` and `caption` numbered
    as a table of the write-up (`deepvis.page.captions`; both or neither). With `here`, the PDF
    keeps the table where it stands (as `deepvis.page.captions.figure` does a figure)."""
    from IPython.display import display

    if (label is None) != (caption is None):
        raise ValueError("give a table both a label and a caption, or neither")
    if here and label is None:
        raise ValueError("only a captioned table can be kept in place (here=True)")
    text = formatted(frame, columns, index)
    meta = caption_metadata("tab", label, caption, here) if label is not None else {}
    bundle = {"text/html": to_html(text), "text/latex": to_latex(text), "text/plain": str(text)}
    display(bundle, raw=True, metadata=meta)
