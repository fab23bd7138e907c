"""Numbered figures and tables in the write-ups: numbering, references, tags, HTML and PDF."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from deepvis.errors import DeepvisError
from deepvis.page.captions import caption_metadata
from deepvis.report import writeup
from deepvis.report.render import render_html, render_pdf

from .helpers import png


def _figure(label: str, caption: str, tags: tuple[str, ...] = ()):
    out = new_output(
        "display_data", data={"image/png": png()}, metadata=caption_metadata("fig", label, caption)
    )
    cell = new_code_cell("show()", execution_count=1, outputs=[out])
    cell.metadata["tags"] = list(tags)
    return cell


def _table(label: str, caption: str):
    data = {
        "text/html": '<table class="dataframe"><tr><td>a_b</td></tr></table>',
        "text/latex": "\\begin{tabular}{l}\n\\toprule\na\\_b \\\\\n\\bottomrule\n\\end{tabular}",
        "text/plain": "a_b",
    }
    out = new_output("display_data", data=data, metadata=caption_metadata("tab", label, caption))
    return new_code_cell("table()", execution_count=2, outputs=[out])


def _markdown(text: str, tags: tuple[str, ...] = ()):
    cell = new_markdown_cell(text)
    cell.metadata["tags"] = list(tags)
    return cell


def _notebooks():
    ex1 = new_notebook(
        cells=[
            _markdown("## Step 1: design\n\nSee [Figure](#fig-loss) and [Table](#tab-scores)."),
            _figure("loss", "The loss falls."),
            _table("scores", "Scores of the two methods."),
            _markdown("### More\n\n[Figure](#fig-extra) is extra.", tags=("technical",)),
            _figure("extra", "Only in the technical report.", tags=("technical",)),
            _markdown("Short note for the grader.", tags=("handin",)),
            _markdown("### Appendix part\n\nIn every write-up.", tags=("appendix",)),
            _markdown("## Code\n\nThe code.", tags=("code",)),
            _markdown("## References\n\n1. A paper.", tags=("references",)),
        ]
    )
    ex2 = new_notebook(
        cells=[_markdown("## Step 1: Grad-CAM\n\n[Figure](#fig-cam)"), _figure("cam", "A map.")]
    )
    return [("01_a.ipynb", ex1), ("04_a.ipynb", ex2)]


def _text(nb) -> str:
    parts = [c.source for c in nb.cells if c.cell_type == "markdown"]
    return "\n".join(parts)


def test_hand_in_numbers_its_items_and_resolves_references():
    nb = writeup.writeup("exercise1", _notebooks(), writeup.TitleBlock())
    text = _text(nb)
    assert "See Figure 1 and Table 1." in text
    assert "Only in the technical report" not in str(nb) and "Short note for the grader." in text
    numbers = [m["number"] for m in writeup.captioned(nb.cells)]
    assert numbers == ["Figure 1", "Table 1"]
    order = [text.index(s) for s in ("## Step 1", "## References", "## Appendix", "## Code")]
    assert order == sorted(order)


def test_technical_report_numbers_across_exercises():
    nb = writeup.writeup("report", _notebooks(), writeup.TitleBlock())
    text = _text(nb)
    assert "Figure 2 is extra." in text and "Short note for the grader." not in text
    assert [m["number"] for m in writeup.captioned(nb.cells)] == [
        "Figure 1",
        "Table 1",
        "Figure 2",
        "Figure 3",
    ]
    assert "## Step 1: Grad-CAM\n\nFigure 3" in text


def test_a_report_only_cell_stays_in_place_in_the_technical_report_only():
    notebooks = _notebooks()
    cells = notebooks[0][1].cells
    cells.insert(3, _markdown("The fuller reading of Table 1.", tags=("report-only",)))
    hand_in = _text(writeup.writeup("exercise1", notebooks, writeup.TitleBlock()))
    report = _text(writeup.writeup("report", notebooks, writeup.TitleBlock()))
    assert "The fuller reading" not in hand_in
    page = _text(writeup.notebook_page("01_a.ipynb", notebooks[0][1]))  # the notebook's own page
    assert "The fuller reading" in page and "Short note for the grader." not in page
    # in place: after Step 1's table, before the technical cells that go to the appendix
    assert report.index("The fuller reading") < report.index("## Appendix") < report.index(
        "is extra."
    )


def test_a_caption_that_refers_to_another_figure_gets_its_number():
    notebooks = _notebooks()
    notebooks[1][1].cells.append(_figure("cam2", "As [Figure](#fig-cam), for another image."))
    hand_in = writeup.writeup("exercise2", notebooks, writeup.TitleBlock())
    report = writeup.writeup("report", notebooks, writeup.TitleBlock())
    assert writeup.captioned(hand_in.cells)[-1]["caption"] == "As Figure 1, for another image."
    assert writeup.captioned(report.cells)[-1]["caption"] == "As Figure 3, for another image."


def test_a_reference_to_an_item_the_write_up_lacks_is_an_error():
    notebooks = _notebooks()
    notebooks[0][1].cells[0].source += " And [Figure](#fig-extra)."  # technical-only figure
    with pytest.raises(DeepvisError, match=r"exercise1: the reference to .fig:extra. refers to no"):
        writeup.writeup("exercise1", notebooks, writeup.TitleBlock())
    writeup.writeup("report", notebooks, writeup.TitleBlock())  # there it exists


def test_a_label_used_twice_is_an_error():
    notebooks = _notebooks()
    notebooks[0][1].cells.append(_figure("loss", "Again."))
    with pytest.raises(DeepvisError, match="used by two items"):
        writeup.writeup("exercise1", notebooks, writeup.TitleBlock())


def test_html_shows_captions_and_uses_them_as_alt_text(tmp_path):
    nb = writeup.writeup("exercise1", _notebooks(), writeup.TitleBlock())
    page = render_html(nb, "exercise1", tmp_path, writeup=True)
    assert 'alt="Figure 1. The loss falls." src="data:image/png;base64,' in page
    assert "<figcaption><strong>Figure 1.</strong> The loss falls." in page
    assert '<p class="deepvis-caption"><strong>Table 1.</strong> Scores' in page
    assert "No description has been provided" not in page


@pytest.mark.skipif(shutil.which("xelatex") is None, reason="xelatex not installed")
def test_pdf_shows_numbered_captions(tmp_path):
    nb = writeup.writeup("exercise1", _notebooks(), writeup.TitleBlock())
    pdf = tmp_path / "e.pdf"
    pdf.write_bytes(render_pdf(nb, "exercise1", tmp_path))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    for expected in (
        "See Figure 1 and Table 1.",
        "Figure 1. The loss falls.",
        "Table 1. Scores of the two methods.",
        "a_b",
    ):
        assert expected in text
