"""``python -m deepvis.report --check``: what a grader would object to, found by machine.

For every write-up (`deepvis.report.writeup.write_up_names`): the HTML and the PDF exist; the
HTML embeds its images and loads nothing from outside the file; the PDF has the Step headings
of its exercise; the text of neither holds anything from the pipeline (`FORBIDDEN`); and in a
real browser (headless Chromium, every request outside the file blocked) nothing outside the
file is requested and no formula is left as TeX source. A screenshot of each page is saved
next to it as ``.<name>.png`` (git-ignored).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import nbformat

from deepvis.config import apt_command, shown
from deepvis.report.execute import error_outputs, find_notebooks
from deepvis.report.writeup import (
    COMBINED,
    exercise_of,
    headings,
    step_headings,
    write_up_names,
)

#: What ``--check`` asks of every write-up at least.
MIN_PDF_PAGES = 3
MIN_HTML_IMAGES = 5
CHROMIUM = "/usr/bin/chromium"

#: Text that must not appear in a write-up (compared case-sensitively), with why.
FORBIDDEN: dict[str, str] = {
    "/work/": "a path of the build machine",
    "/tmp/": "a path of the build machine",
    "/root/": "a path of the build machine",
    "data/models": "a cache path",
    ".ipynb": "a notebook file name",
    "notebook": "notebook wording",
    "Notebook": "notebook wording",
    "the cell": "cell wording",
    "cells above": "cell wording",
    "Loaded cached": "a cache message",
    "Training cae": "a training log line",
    "Epoch 1/": "a training log line",
    "Traceback": "an error",
    "NaN": "a missing value shown as NaN",
    "CAEConfig(": "a Python object's repr",
    "object at 0x": "a Python object's repr",
    "<keras": "a Python object's repr",
    "cae.test_bce": "an internal metric key",
    "latent.cae.": "an internal metric key",
    "dcae.psnr": "an internal metric key",
    "psnr_db": "a raw column name",
    "knn5": "a raw column name",
    ">=": "ASCII notation (write ≥)",
    "<=": "ASCII notation (write ≤)",
    "Goals missed": "self-set goals",
}

_TEX_LEFT = re.compile(r"\$[^$\n]*\\[a-zA-Z]+|\\(alpha|frac|sum|partial|mathrm)\b")


def pdf_text(pdf: Path) -> str:
    """The text of a PDF, by ``pdftotext`` (poppler-utils)."""
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout


def html_text(page: str) -> str:
    """The visible text of an HTML page, roughly: scripts, styles and tags removed."""
    page = re.sub(r"<(script|style|math)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def forbidden_in(text: str) -> list[str]:
    """The entries of `FORBIDDEN` found in `text`, each as ``'"string" (why)'``."""
    return [f'"{s}" ({why})' for s, why in FORBIDDEN.items() if s in text]


def squash(text: str) -> str:
    """Lower-case letters and digits only: text compared across HTML, LaTeX and pdftotext."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def check_html(page_path: Path) -> list[str]:
    """Problems of one write-up's HTML file (see the module doc), one line each."""
    if not page_path.exists():
        return [f"{shown(page_path)} is missing"]
    page = page_path.read_text(encoding="utf-8")
    problems = []
    embedded = len(re.findall(r"<img[^>]*\ssrc=\"data:image/", page))
    if embedded < MIN_HTML_IMAGES:
        problems.append(
            f"{shown(page_path)} embeds {embedded} images, fewer than {MIN_HTML_IMAGES}"
        )
    external = re.findall(r"<(?:script|img|link)[^>]*\s(?:src|href)=\"(?!data:|#)([^\"]+)", page)
    if external:
        problems.append(f"{shown(page_path)} loads {external[0]} (and {len(external) - 1} more)")
    for found in forbidden_in(html_text(page)):
        problems.append(f"{shown(page_path)} shows {found}")
    return problems


def check_pdf(pdf: Path, steps: list[str], titles: list[str]) -> list[str]:
    """Problems of one write-up's PDF: missing, too short, lacking a Step heading or a section
    title of its notebooks, or showing a `FORBIDDEN` string."""
    if not pdf.exists():
        return [f"{shown(pdf)} is missing"]
    if missing := [t for t in ("pdfinfo", "pdftotext") if shutil.which(t) is None]:
        return [f"{', '.join(missing)} not found: {apt_command('checks')}"]
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1)) if "Pages:" in info else 0
    problems = []
    if pages < MIN_PDF_PAGES:
        problems.append(f"{shown(pdf)} has {pages} pages, fewer than {MIN_PDF_PAGES}")
    text = pdf_text(pdf)
    found = squash(text)
    for title in [*steps, *titles]:
        if squash(title) not in found:
            problems.append(f"{shown(pdf)} lacks the heading {title!r}")
    problems += [f"{shown(pdf)} shows {f}" for f in forbidden_in(text)]
    return problems


def browser_check(page_path: Path, screenshot: Path) -> list[str]:
    """Open `page_path` in headless Chromium with every request outside the file blocked.

    Problems: any request made to something other than the file itself or a ``data:`` URL,
    TeX source left in the rendered text, or an empty ``<math>`` element (broken MathML).
    Saves a PNG of the first screen to `screenshot` and, when the page has displayed formulas,
    one at the first of them (``<stem>-math.png``).
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return ["playwright not installed: run `make setup`"]
    if not Path(CHROMIUM).exists():
        return [f"{CHROMIUM} not found: {apt_command('checks')}"]
    url = page_path.resolve().as_uri()
    outside: list[str] = []

    def route(request_route, request) -> None:  # noqa: ANN001 (playwright's types)
        if request.url == url or request.url.startswith("data:"):
            request_route.continue_()
        else:
            outside.append(request.url)
            request_route.abort()

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.route("**/*", route)
            page.goto(url, wait_until="load")
            text = page.inner_text("body")
            empty = page.evaluate(
                "[...document.querySelectorAll('math')].filter(m => !m.textContent.trim()).length"
            )
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
            formulas = page.locator('math[display="block"]')
            if formulas.count():  # a second view, at the first displayed formula
                formulas.first.scroll_into_view_if_needed()
                page.screenshot(path=str(screenshot.with_name(f"{screenshot.stem}-math.png")))
        finally:
            browser.close()
    problems = [f"{shown(page_path)} requested {u}" for u in outside]
    if empty:
        problems.append(f"{shown(page_path)} has {empty} empty formulas (broken MathML)")
    if tex := _TEX_LEFT.search(text):
        problems.append(f"{shown(page_path)} shows TeX source in the browser: {tex.group(0)!r}")
    return problems


def check(report_dir: Path, executed_dir: Path, *, browser: bool = True) -> list[str]:
    """Problems with a rendered report, one line each (an empty list: all good).

    Every executed notebook has its HTML page and no error output; every write-up passes
    `check_html`, `check_pdf` and (with `browser`) `browser_check`.
    """
    problems = []
    notebooks = {path: nbformat.read(path, as_version=4) for path in find_notebooks(executed_dir)}
    if not notebooks:
        problems.append(f"no executed notebooks in {shown(executed_dir)}")
    for path, nb in notebooks.items():
        if cells := error_outputs(nb):
            problems.append(f"{shown(path)} holds error outputs in cells {cells}")
        if not (report_dir / f"{path.stem}.html").exists():
            problems.append(f"{shown(report_dir / path.stem)}.html is missing")
    titles = {path.name: [t for _, _, t in headings(nb)] for path, nb in notebooks.items()}
    for name in write_up_names():
        page = report_dir / f"{name}.html"
        problems += check_html(page)
        own = [t for nb_name, ts in titles.items() for t in ts if _belongs(nb_name, name)]
        problems += check_pdf(report_dir / f"{name}.pdf", step_headings(name), own)
        if browser and page.exists():
            problems += browser_check(page, report_dir / f".{name}.png")
    return problems


def _belongs(notebook_name: str, writeup_name: str) -> bool:
    """Whether the notebook's sections appear in the write-up."""
    exercise = exercise_of(notebook_name)
    return exercise is not None and writeup_name in (COMBINED, exercise.key)
