"""The checks of a rendered report: files, forbidden text, headings, and the browser check."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nbformat.v4 import new_output

from deepvis.report import check

from .helpers import executed, png, write

ONE_IMAGE = f'<img src="data:image/png;base64,{png()}">'


def _page(path: Path, body: str) -> Path:
    path.write_text(f"<html><head><title>t</title></head><body>{body}</body></html>")
    return path


def test_forbidden_strings_are_reported_with_why():
    found = check.forbidden_in("Loaded cached cae from /work/main/data/models; knn5 >= 0.7")
    assert '"Loaded cached" (a cache message)' in found
    assert any('"/work/"' in f for f in found) and any('">="' in f for f in found)
    assert check.forbidden_in("A 5-NN accuracy of 0.70 ≥ 0.5, measured on the test set.") == []
    assert check.forbidden_in("The BCE is {eval}`bce`.") == [
        '"{eval}" (an unevaluated MyST expression)'
    ]


def test_html_check_counts_images_and_external_loads(tmp_path):
    good = _page(tmp_path / "good.html", ONE_IMAGE * check.MIN_HTML_IMAGES + "<p>PSNR 15.7 dB</p>")
    assert check.check_html(good) == []
    bad = _page(
        tmp_path / "bad.html",
        ONE_IMAGE + '<script src="https://cdn.example/x.js"></script><p>this notebook</p>',
    )
    problems = check.check_html(bad)
    assert any("embeds 1 images" in p for p in problems)
    assert any("loads https://cdn.example/x.js" in p for p in problems)
    assert any('"notebook" (notebook wording)' in p for p in problems)
    (missing,) = check.check_html(tmp_path / "absent.html")
    assert missing.endswith("absent.html is missing")


def test_check_lists_each_problem(tmp_path):
    nbs = tmp_path / "nbs"
    nb = executed("Step 1: a")
    nb.cells[1].outputs.append(new_output("error", ename="E", evalue="v", traceback=[]))
    write(nbs, "01_part.ipynb", nb.cells)
    problems = check.check(tmp_path / "report", nbs, browser=False)
    assert any("holds error outputs in cells [2]" in p for p in problems)
    assert any("01_part.html is missing" in p for p in problems)
    for name in ("exercise1", "exercise2", "report"):
        assert any(f"{name}.html is missing" in p for p in problems)
        assert any(f"{name}.pdf is missing" in p for p in problems)


@pytest.mark.skipif(not Path(check.CHROMIUM).exists(), reason="Debian's chromium not installed")
def test_browser_check_blocks_and_reports_outside_requests_and_tex(tmp_path):
    clean = _page(tmp_path / "clean.html", "<p>A formula: <math><mi>α</mi></math></p>")
    assert check.browser_check(clean, tmp_path / "clean.png") == []
    assert (tmp_path / "clean.png").stat().st_size > 1000  # a real screenshot
    leaky = _page(
        tmp_path / "leaky.html",
        '<script src="https://cdn.example.invalid/mathjax.js"></script><p>$\\alpha_k^c$</p>'
        "<p><math></math><mi></mi>x</p>",
    )
    problems = check.browser_check(leaky, tmp_path / "leaky.png")
    assert any("requested https://cdn.example.invalid/mathjax.js" in p for p in problems)
    assert any("TeX source" in p for p in problems)
    assert any("1 empty formulas" in p for p in problems)


def test_empty_fraction_measures_the_text_area_below_the_last_ink(tmp_path):
    from PIL import Image

    page = Image.new("L", (85, 110), 255)  # 8.5 x 11 inches at 10 dpi: margins of 10 px
    for y in range(10, 40):  # ink over the top 30 of the 90 rows of text area
        page.putpixel((40, y), 0)
    page.putpixel((40, 105), 0)  # the page number, in the bottom margin
    page.save(tmp_path / "p.png")
    assert check.empty_fraction(tmp_path / "p.png") == pytest.approx(60 / 90)
    Image.new("L", (85, 110), 255).save(tmp_path / "blank.png")
    assert check.empty_fraction(tmp_path / "blank.png") == 1.0


def test_pages_starting_finds_headings_not_contents_lines():
    pages = ["Contents\n  Appendix . . . . 3\n1\n", "text\n", "Appendix\nmore\n3\n"]
    assert check.pages_starting(pages, "Appendix") == [3]
    assert check._lines(pages[2]) == ["Appendix", "more"]  # the page number dropped


def _rendered(tmp_path: Path) -> tuple[Path, Path]:
    from deepvis.report import writeup
    from deepvis.report.render import render_html, render_pdf

    from .test_captions import _notebooks

    nb = writeup.writeup("exercise1", _notebooks(), writeup.TitleBlock())
    html, pdf = tmp_path / "exercise1.html", tmp_path / "exercise1.pdf"
    html.write_text(render_html(nb, "exercise1", tmp_path, writeup=True), encoding="utf-8")
    pdf.write_bytes(render_pdf(nb, "exercise1", tmp_path))
    return html, pdf


@pytest.mark.skipif(shutil.which("xelatex") is None, reason="xelatex not installed")
def test_layout_check_enforces_captions_and_budgets(tmp_path, monkeypatch):
    import dataclasses

    html, pdf = _rendered(tmp_path)
    titles = ["Step 1: design"]
    problems = check.check_layout(pdf, html, "exercise1", titles)
    assert [p for p in problems if "empty" not in p] == []  # a tiny document may end pages early
    main = check.pages_starting(check.page_texts(pdf), "Appendix")[0] - 1
    tight = tuple(dataclasses.replace(e, budget=(main - 1, 0)) for e in check.EXERCISES)
    monkeypatch.setattr(check, "EXERCISES", tight)
    problems = check.check_layout(pdf, html, "exercise1", titles)
    over = f"the main text takes {main} pages, over its budget of {main - 1}"
    assert any(over in p for p in problems)
    assert any("the appendix takes 1 pages, over its budget of 0" in p for p in problems)
    code_page = check.pages_starting(check.page_texts(pdf), "Code")[0]
    filled = 1 - check.empty_fractions(pdf)[code_page - 1]
    monkeypatch.setattr(check, "CODE_FILL", filled - 0.02)
    assert any("the code section fills more than" in p
               for p in check.check_layout(pdf, html, "exercise1", titles))
    monkeypatch.setattr(check, "CODE_FILL", filled + 0.02)
    assert not any("the code section" in p
                   for p in check.check_layout(pdf, html, "exercise1", titles))
    html.write_text(html.read_text().replace("<figcaption>", "<p>"), encoding="utf-8")
    problems = check.check_layout(pdf, html, "exercise1", [])
    assert any("1 of 1 images lack a caption" in p for p in problems)


def test_code_sections_may_name_notebooks():
    page = (
        '<h2 id="Step-1">Step 1</h2><p>prose</p>'
        '<h2 id="Code">Code</h2><p>the notebook 01_cae.ipynb</p>'
        '<h1 id="Exercise-2">Exercise 2</h1><p>this notebook</p>'
    )
    kept = check.without_code_html(page)
    assert "01_cae.ipynb" not in kept and "prose" in kept and "this notebook" in kept
    text = "Step 1\nprose\n1\n\fCode\nthe notebook 01_cae.ipynb\n2\n\fExercise 2\nthis notebook\n"
    kept = check.without_code_pages(text)
    assert "01_cae.ipynb" not in kept and "prose" in kept and "this notebook" in kept


@pytest.mark.skipif(shutil.which("xelatex") is None, reason="xelatex not installed")
def test_quick_mode_allows_one_more_page_of_main_text(tmp_path, monkeypatch):
    import dataclasses

    html, pdf = _rendered(tmp_path)
    main = check.pages_starting(check.page_texts(pdf), "Appendix")[0] - 1
    tight = tuple(dataclasses.replace(e, budget=(main - 1, 1)) for e in check.EXERCISES)
    monkeypatch.setattr(check, "EXERCISES", tight)
    monkeypatch.setenv("DEEPVIS_QUICK", "1")
    assert not any("budget" in p for p in check.check_layout(pdf, html, "exercise1", []))
    monkeypatch.setenv("DEEPVIS_QUICK", "0")
    assert any("budget" in p for p in check.check_layout(pdf, html, "exercise1", []))


@pytest.mark.skipif(not Path(check.CHROMIUM).exists(), reason="Debian's chromium not installed")
def test_browser_check_wants_preformatted_blocks_filled_and_monospaced(tmp_path):
    mono = _page(
        tmp_path / "mono.html",
        '<pre style="font-family: monospace">Layer (type)   Param #</pre>',
    )
    assert check.browser_check(mono, tmp_path / "mono.png") == []
    bad = _page(
        tmp_path / "bad.html",
        '<pre style="font-family: serif">Layer (type)   Param #</pre><pre style="x: y"></pre>',
    )
    problems = check.browser_check(bad, tmp_path / "bad.png")
    assert any("1 empty preformatted blocks" in p for p in problems)
    assert any("1 preformatted blocks are set in a proportional font" in p for p in problems)
    assert any("'Layer (type)   Param #'" in p for p in problems)
