"""The checks of a rendered report: files, forbidden text, headings, and the browser check."""

from __future__ import annotations

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
