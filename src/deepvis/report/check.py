"""``python -m deepvis.report --check``: what a grader would object to, found by machine.

For every write-up (`deepvis.report.writeup.write_up_names`): the HTML and the PDF exist; the
HTML embeds its images and loads nothing from outside the file; the PDF has the Step headings
of its exercise; the text of neither holds anything from the pipeline (`FORBIDDEN`); and in a
real browser (headless Chromium, every request outside the file blocked) nothing outside the
file is requested and no formula is left as TeX source. A screenshot of each page is saved
next to it as ``.<name>.png`` (git-ignored).

The document itself (`check_layout`): every figure and table is numbered and captioned in both
formats (the caption is the image's alt text); a hand-in keeps its page budget
(`deepvis.report.writeup.Exercise.budget`: main text, appendix, and half a page of code); no
page is more than `MAX_EMPTY` empty, except the last page before a page break; no page ends
with a heading.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import nbformat

from deepvis.config import apt_command, quick_mode, shown
from deepvis.report.execute import error_outputs
from deepvis.report.notebooks import find_notebooks
from deepvis.report.writeup import (
    COMBINED,
    EXERCISES,
    exercise_of,
    headings,
    step_headings,
    write_up_names,
)

#: What ``--check`` asks of every write-up at least.
MIN_PDF_PAGES = 3
MIN_HTML_IMAGES = 5
CHROMIUM = "/usr/bin/chromium"
#: The most of a page's text area that may stay empty (pages before a page break excepted).
MAX_EMPTY = 0.25
#: Page geometry of the PDF write-ups (nbconvert's article: 1-inch margins).
MARGIN_INCHES = 1.0
#: The share of one page that the closing "Code" section may fill (the issue's "code ≤ ½ page").
CODE_FILL = 0.5
#: Extra pages of main text allowed to a hand-in rendered in quick mode.
QUICK_SLACK = 1

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
    "this machine": "machine wording",
    "build machine": "machine wording",
    "{eval}": "an unevaluated MyST expression",
}

_TEX_LEFT = re.compile(r"\$[^$\n]*\\[a-zA-Z]+|\\(alpha|frac|sum|partial|mathrm)\b")


#: The closing section of each exercise that names the notebooks and modules (and so may say
#: "notebook" and ".ipynb"): exempt from `FORBIDDEN`.
CODE_HEADING = "Code"


def without_code_html(page: str) -> str:
    """`page` without its "Code" sections (from each ``<h2 id="Code...">`` to the next h1/h2)."""
    return re.sub(
        rf'<h2 id="{CODE_HEADING}[^"]*">.*?(?=<h[12][ >]|$)', " ", page, flags=re.S
    )


def without_code_pages(text: str) -> str:
    """A PDF's text (pages separated by form feeds) without the pages on which a "Code" section
    starts: each starts on a page of its own (`deepvis.report.writeup`)."""
    pages = text.split("\f")
    return "\f".join(p for p in pages if CODE_HEADING not in _lines(p)[:1])


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
    for found in forbidden_in(html_text(without_code_html(page))):
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
    problems += [f"{shown(pdf)} shows {f}" for f in forbidden_in(without_code_pages(text))]
    return problems


def page_texts(pdf: Path) -> list[str]:
    """The text of each page of a PDF, in layout mode (``pdftotext -layout``)."""
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True)
    pages = out.stdout.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def _lines(page: str) -> list[str]:
    """A page's non-empty lines, stripped, without the page number at its foot."""
    lines = [line.strip() for line in page.splitlines() if line.strip()]
    return lines[:-1] if lines and lines[-1].isdigit() else lines


def pages_starting(pages: list[str], title: str) -> list[int]:
    """1-based numbers of the pages on which a line reads exactly `title` (a heading)."""
    return [n for n, page in enumerate(pages, start=1) if title in _lines(page)]


def empty_fraction(png: Path) -> float:
    """How much of the text area of a rendered page (a greyscale PNG) is empty below its last
    ink, from 0 (full) to 1 (blank). The margins (and the page number in the foot) are
    ignored."""
    import numpy as np
    from PIL import Image

    page = np.asarray(Image.open(png).convert("L"))
    margin = round(page.shape[0] * MARGIN_INCHES / 11.0)
    area = page[margin : page.shape[0] - margin]
    ink = np.flatnonzero((area < 200).any(axis=1))
    return 1.0 if not ink.size else 1.0 - (ink[-1] + 1) / area.shape[0]


def check_layout(pdf: Path, html_page: Path, key: str, titles: list[str]) -> list[str]:
    """Problems of a write-up as a document (see the module doc), one line each.

    `key`: the write-up; `titles`: its section headings (a page must not end with one).
    """
    problems = []
    page = html_page.read_text(encoding="utf-8") if html_page.exists() else ""
    images = len(re.findall(r"<img\b", page))
    figures = re.findall(r"<figcaption><strong>(Figure \d+)\.</strong>", page)
    tables = len(re.findall(r'<table class="dataframe"|<pre class="deepvis-text"', page))
    table_captions = re.findall(r'<p class="deepvis-caption"><strong>(Table \d+)\.</strong>', page)
    if images != len(figures):
        problems.append(
            f"{shown(html_page)}: {images - len(figures)} of {images} images lack a caption"
        )
    if tables != len(table_captions):
        problems.append(
            f"{shown(html_page)}: {tables - len(table_captions)} of {tables} tables lack a caption"
        )
    if re.search(r'href="#(fig|tab)-', page):
        problems.append(f"{shown(html_page)}: an unresolved figure or table reference")
    if not pdf.exists():
        return problems
    pages = page_texts(pdf)
    text = "\n".join(pages)
    problems += [
        f"{shown(pdf)} lacks the caption of {n}"
        for n in [*figures, *table_captions]
        if f"{n}." not in text
    ]
    appendix = pages_starting(pages, "Appendix")
    code = pages_starting(pages, "Code")
    fractions = empty_fractions(pdf)
    exercise = next((e for e in EXERCISES if e.key == key), None)
    if exercise is not None:
        main_budget, appendix_budget = exercise.budget
        # Quick mode's tiny models misread more garments, and the prose that lists them runs
        # longer: one page of slack there; the full run keeps the budget exactly.
        main_budget += QUICK_SLACK if quick_mode() else 0
        end_main = (appendix or code or [len(pages) + 1])[0] - 1
        if end_main > main_budget:
            problems.append(
                f"{shown(pdf)}: the main text takes {end_main} pages, "
                f"over its budget of {main_budget}"
            )
        if appendix:
            used = (code or [len(pages) + 1])[0] - appendix[0]
            if used > appendix_budget:
                problems.append(
                    f"{shown(pdf)}: the appendix takes {used} pages, "
                    f"over its budget of {appendix_budget}"
                )
        if code and (
            len(pages) - code[0] + 1 > 1 or 1 - fractions[code[0] - 1] > CODE_FILL
        ):
            problems.append(f"{shown(pdf)}: the code section fills more than {CODE_FILL:.0%} "
                            "of a page")
    # Pages before a forced page break (appendix, code, the next exercise) may end early.
    breaks = set(appendix + code) | {  # an exercise starts on a new page, titled in full or not
        n
        for e in EXERCISES
        for title in {e.title, e.title.split(": ", 1)[-1]}
        for n in pages_starting(pages, title)
    }
    exempt = {n - 1 for n in breaks} | {len(pages)}
    problems += [
        f"{shown(pdf)}: page {n} is {fraction:.0%} empty"
        for n, fraction in enumerate(fractions, start=1)
        if fraction > MAX_EMPTY and n not in exempt
    ]
    for n, page_text in enumerate(pages, start=1):
        lines = _lines(page_text)
        if lines and lines[-1] in titles:
            problems.append(f"{shown(pdf)}: page {n} ends with the heading {lines[-1]!r}")
    return problems


def empty_fractions(pdf: Path, dpi: int = 30) -> list[float]:
    """`empty_fraction` of every page of `pdf`, rendered at `dpi` with ``pdftoppm``."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["pdftoppm", "-gray", "-png", "-r", str(dpi), str(pdf), f"{tmp}/page"], check=True
        )
        return [empty_fraction(p) for p in sorted(Path(tmp).glob("page-*.png"), key=_page_number)]


def _page_number(png: Path) -> int:
    return int(png.stem.rsplit("-", 1)[1])


#: For every ``<pre>`` of a page: its first text, its computed font and whether that font is
#: monospaced (the widths of "iiii" and "MMMM" set in it agree).
_PRE_FONTS = """
[...document.querySelectorAll('pre')].map(pre => {
  const probe = s => {
    const span = document.createElement('span');
    span.style.font = getComputedStyle(pre).font;
    span.style.whiteSpace = 'pre';
    span.textContent = s;
    pre.appendChild(span);
    const width = span.getBoundingClientRect().width;
    span.remove();
    return width;
  };
  const text = pre.textContent.trim().slice(0, 40);
  return {text, font: getComputedStyle(pre).fontFamily,
          monospace: Math.abs(probe('iiii') - probe('MMMM')) < 0.5};
})
"""


def browser_check(page_path: Path, screenshot: Path) -> list[str]:
    """Open `page_path` in headless Chromium with every request outside the file blocked.

    Problems: any request made to something other than the file itself or a ``data:`` URL,
    TeX source left in the rendered text, an empty ``<math>`` element (broken MathML), an
    empty ``<pre>`` block, or a ``<pre>`` block (a model summary, a code listing) whose
    computed font is not monospaced: "iiii" and "MMMM" set in it must be equally wide.
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
            blocks = page.evaluate(_PRE_FONTS)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
            formulas = page.locator('math[display="block"]')
            if formulas.count():  # a second view, at the first displayed formula
                formulas.first.scroll_into_view_if_needed()
                page.screenshot(path=str(screenshot.with_name(f"{screenshot.stem}-math.png")))
        finally:
            browser.close()
    problems = [f"{shown(page_path)} requested {u}" for u in outside]
    if blank := sum(1 for b in blocks if not b["text"]):
        problems.append(f"{shown(page_path)} has {blank} empty preformatted blocks")
    if proportional := [b for b in blocks if b["text"] and not b["monospace"]]:
        problems.append(
            f"{shown(page_path)}: {len(proportional)} preformatted blocks are set in a "
            f"proportional font ({proportional[0]['font']}), e.g. {proportional[0]['text']!r}"
        )
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
        problems += check_layout(report_dir / f"{name}.pdf", page, name, own)
        if browser and page.exists():
            problems += browser_check(page, report_dir / f".{name}.png")
    return problems


def _belongs(notebook_name: str, writeup_name: str) -> bool:
    """Whether the notebook's sections appear in the write-up."""
    exercise = exercise_of(notebook_name)
    return exercise is not None and writeup_name in (COMBINED, exercise.key)
