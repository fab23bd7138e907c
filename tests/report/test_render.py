"""Rendering: self-contained HTML with MathML, code hidden in write-ups, the PDF."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from deepvis.report import render, writeup

from .helpers import executed


def test_tex_becomes_mathml_outside_code():
    out = render.tex_to_mathml("a $\\alpha_k^c$, `$x$` and $$\\sum_k A^k$$ cost \\$5")
    assert out.count("<math") == 2 and 'display="block"' in out and "<mi>k</mi>" in out
    assert "`$x$`" in out and "\\$5" in out


def test_writeup_html_is_self_contained_and_hides_code(tmp_path):
    nb = writeup.writeup(
        "exercise1", [("01_a.ipynb", executed("Step 1: a", 2))], writeup.TitleBlock()
    )
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.metadata["tags"] = ["remove-output"]
    page = render.render_html(nb, "exercise1", tmp_path, writeup=True)
    assert "secret_source_line" not in page and "β ≥ 0.5" not in page
    assert "<math" in page and "\\alpha" not in page
    assert "<msubsup><mi>α</mi><mi>k</mi><mi>c</mi></msubsup>" in page  # kept whole
    assert "<script src=" not in page and "cdnjs" not in page
    assert 'id="Step-1:-a"' in page and 'href="#Step-1:-a"' in page
    full = render.render_html(executed("Step 1: a", images=2), "01_a", tmp_path, writeup=False)
    assert "secret_source_line" in full and full.count('src="data:image/png') == 2
    assert "<script src=" not in full


@pytest.mark.skipif(
    render.missing_pdf_tools() or shutil.which("pdftotext") is None, reason="no TeX toolchain"
)
def test_pdf_keeps_unicode_and_fits_wide_outputs(tmp_path):
    nb = writeup.writeup(
        "exercise1", [("01_a.ipynb", executed("Unicode → β ≥ 0.5 × 3"))], writeup.TitleBlock()
    )
    wide = "┃ " + "layer " * 20 + "┃"  # 124 characters: must be set small, not cut
    nb.cells.append(new_code_cell("", outputs=[new_output("stream", name="stdout", text=wide)]))
    pdf = tmp_path / "exercise1.pdf"
    pdf.write_bytes(render.render_pdf(nb, "exercise1", tmp_path))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Unicode → β ≥ 0.5 × 3" in text
    assert "layer " * 19 + "layer ┃" in text.replace("\n", " ")
    assert "secret_source_line" not in text


@pytest.mark.skipif(render.missing_pdf_tools(), reason="no TeX toolchain")
def test_latex_page_breaks_reach_the_pdf_only(tmp_path):
    notebooks = [
        ("01_a.ipynb", executed("Step 1: a")),
        ("01_b.ipynb", executed("B", tags=("appendix",))),
    ]
    nb = writeup.writeup("exercise1", notebooks, writeup.TitleBlock())
    pdf = tmp_path / "exercise1.pdf"
    pdf.write_bytes(render.render_pdf(nb, "exercise1", tmp_path))
    first = subprocess.run(["pdftotext", "-l", "1", str(pdf), "-"], capture_output=True, text=True)
    rest = subprocess.run(["pdftotext", "-f", "2", str(pdf), "-"],
                          capture_output=True, text=True)
    assert "Step 1: a" in first.stdout and "Appendix" not in first.stdout  # new page
    assert "Appendix" in rest.stdout
    assert "clearpage" not in render.render_html(nb, "exercise1", tmp_path, writeup=True)


@pytest.mark.skipif(
    render.missing_pdf_tools() or shutil.which("pdftotext") is None, reason="no TeX toolchain"
)
def test_cells_tagged_html_only_reach_the_html_not_the_pdf(tmp_path):
    """The route of the code-plane explorers (`deepvis.cae.explorer`): an interactive output and
    its sentence, tagged ``html-only`` in the notebook, stay out of the PDF."""
    nb = executed("Step 4: a")
    widget = new_output(
        "display_data",
        data={
            "text/html": '<div data-deepvis-explorer="cae">planewidget</div>',
            "text/plain": "plainwidget",  # what the PDF would show of it
        },
    )
    for cell in (
        new_code_cell("show()", outputs=[widget]),
        new_markdown_cell("Explore the plane (interactivesentence)."),
    ):
        cell.metadata["tags"] = [writeup.HTML_ONLY_TAG]
        nb.cells.insert(2, cell)
    doc = writeup.writeup("exercise1", [("03_a.ipynb", nb)], writeup.TitleBlock())
    page = render.render_html(doc, "exercise1", tmp_path, writeup=True)
    assert 'data-deepvis-explorer="cae">planewidget' in page and "interactivesentence" in page
    pdf = tmp_path / "exercise1.pdf"
    pdf.write_bytes(render.render_pdf(doc, "exercise1", tmp_path))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Step 4: a" in text
    assert "plainwidget" not in text and "interactivesentence" not in text
