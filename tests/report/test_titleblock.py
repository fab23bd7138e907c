"""The title block shows the author and student ID exactly as typed, in the HTML and the PDF."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from nbformat.v4 import new_markdown_cell, new_notebook

from deepvis.errors import DeepvisError
from deepvis.report import render, titleblock, writeup

#: Every LaTeX special, TeX's quote, dash and dot ligatures, and HTML/markdown markup.
AUTHOR = 'Ada_Love & 100% {x} $5 #1 ~a ^b \\c O\'Brien "q" `g` -- ... <b>Ada</b> *em*'
STUDENT_ID = "a_b&c%$#1"
#: What a reader must see: ``byline()``'s words around the values as typed.
SHOWN = f"{AUTHOR} (student ID {STUDENT_ID})"


def _writeup():
    block = writeup.TitleBlock(author=AUTHOR, student_id=STUDENT_ID, date="1 May 2025")
    plain = new_notebook(cells=[new_markdown_cell("## Step 1: a\n\nPlain text.")])
    return writeup.writeup("exercise1", [("01_a.ipynb", plain)], block)


class _Text(HTMLParser):
    """The text of an HTML page (entities decoded) and the names of its elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_html_shows_the_byline_as_text_not_markup(tmp_path):
    page = render.render_html(_writeup(), "exercise1", tmp_path, writeup=True)
    parsed = _Text()
    parsed.feed(page)
    assert SHOWN in "".join(parsed.text)
    # Neither the <b> nor the *em* became markup, and $5 ... $ started no formula.
    assert "b" not in parsed.tags and "em" not in parsed.tags and "math" not in parsed.tags


@pytest.mark.skipif(
    render.missing_pdf_tools() or shutil.which("pdftotext") is None, reason="no TeX toolchain"
)
def test_pdf_shows_the_byline_as_typed(tmp_path):
    pdf = tmp_path / "exercise1.pdf"
    pdf.write_bytes(render.render_pdf(_writeup(), "exercise1", tmp_path))  # xelatex succeeds
    first = subprocess.run(
        ["pdftotext", "-l", "1", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert " ".join(SHOWN.split()) in " ".join(first.split())


@pytest.mark.parametrize("variable", ["DEEPVIS_AUTHOR", "DEEPVIS_STUDENT_ID"])
def test_a_line_break_in_the_title_block_is_refused(tmp_path, monkeypatch, variable):
    monkeypatch.setenv(variable, "Ada\nLovelace")
    with pytest.raises(DeepvisError, match=f"on one line \\({variable}"):
        titleblock.title_block(root=tmp_path)


def test_any_other_text_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPVIS_AUTHOR", AUTHOR)
    monkeypatch.setenv("DEEPVIS_STUDENT_ID", STUDENT_ID)
    assert titleblock.title_block(root=tmp_path).byline() == SHOWN
