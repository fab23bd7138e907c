"""Rendering notebooks with nbconvert: self-contained HTML and PDF through LaTeX.

HTML pages load nothing from outside the file: images are embedded, the templates drop
nbconvert's require.js and MathJax scripts, and every ``$...$`` / ``$$...$$`` formula of a
markdown cell or markdown output is converted to MathML at build time (`MathMLPreprocessor`),
which current browsers display without a script. The PDF keeps the TeX formulas for LaTeX.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from latex2mathml.converter import convert as latex_to_mathml
from nbconvert import HTMLExporter, PDFExporter
from nbconvert.exporters.pdf import LatexFailed
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets.config import Config

from deepvis.config import apt_command
from deepvis.errors import DeepvisError
from deepvis.report.writeup import HTML_ONLY_TAG, REMOVE_CELL_TAGS, REMOVE_OUTPUT_TAGS

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: ``$$display$$`` or ``$inline$`` (not ``\\$``), display first.
_MATH = re.compile(r"(?<!\\)\$\$(.+?)\$\$|(?<![\\$])\$(?!\s)(.+?)(?<![\\\s])\$", re.S)
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)


def tex_to_mathml(markdown: str) -> str:
    """`markdown` with its TeX formulas replaced by MathML; code spans and blocks untouched."""

    def formula(match: re.Match) -> str:
        display, inline = match.groups()
        tex = display if display is not None else inline
        return latex_to_mathml(tex.strip(), display="block" if display is not None else "inline")

    parts = _CODE.split(markdown)
    return "".join(p if i % 2 else _MATH.sub(formula, p) for i, p in enumerate(parts))


class MathMLPreprocessor(Preprocessor):
    """Convert the TeX formulas of markdown cells and markdown outputs to MathML."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):  # noqa: ANN201
        if cell.cell_type == "markdown":
            cell.source = tex_to_mathml(cell.source)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/markdown" in data:
                data["text/markdown"] = tex_to_mathml(data["text/markdown"])
        return cell, resources


def _exporter_config(*, writeup: bool, latex: bool) -> Config:
    config = Config()
    config.TemplateExporter.extra_template_basedirs = [str(TEMPLATES)]
    if writeup:
        config.TemplateExporter.exclude_input = True
        config.TemplateExporter.exclude_input_prompt = True
        config.TemplateExporter.exclude_output_prompt = True
        config.TagRemovePreprocessor.enabled = True
        config.TagRemovePreprocessor.remove_cell_tags = set(REMOVE_CELL_TAGS) | (
            {HTML_ONLY_TAG} if latex else set()
        )
        config.TagRemovePreprocessor.remove_all_outputs_tags = set(REMOVE_OUTPUT_TAGS)
    return config


def render_html(nb: NotebookNode, name: str, source_dir: Path, *, writeup: bool) -> str:
    """Self-contained HTML of `nb`; `writeup` hides the code and honours the cell tags."""
    # Output images are embedded by the template (data URIs). `embed_images` only concerns
    # images linked from markdown, which the notebooks do not use, and it would re-serialise
    # inline HTML tag by tag, breaking MathML apart.
    exporter = HTMLExporter(
        config=_exporter_config(writeup=writeup, latex=False), template_name="deepvis_html"
    )
    exporter.register_preprocessor(MathMLPreprocessor, enabled=True)
    body, _ = exporter.from_notebook_node(
        nb, resources={"metadata": {"name": name, "path": str(source_dir)}}
    )
    return body


def render_pdf(nb: NotebookNode, name: str, source_dir: Path) -> bytes:
    """The write-up `nb` as PDF via LaTeX (xelatex), code hidden, DejaVu fonts."""
    # Raw cells marked text/latex (page breaks) reach the PDF: by default the PDF exporter
    # keeps only those marked application/pdf.
    exporter = PDFExporter(
        config=_exporter_config(writeup=True, latex=True),
        template_name="deepvis_latex",
        raw_mimetypes=["text/latex", ""],
    )
    try:
        body, _ = exporter.from_notebook_node(
            nb, resources={"metadata": {"name": name, "path": str(source_dir)}}
        )
    except LatexFailed as err:
        print("\n".join(err.output.splitlines()[-40:]), file=sys.stderr)
        raise DeepvisError(f"xelatex failed on {name}: see the end of its log above") from err
    return body


def missing_pdf_tools() -> list[str]:
    """The programs that the PDF needs and this machine lacks."""
    return [tool for tool in ("pandoc", "xelatex") if shutil.which(tool) is None]


def pdf_tools_hint() -> str:
    """How to install what `missing_pdf_tools` reports."""
    return apt_command("pdf")
