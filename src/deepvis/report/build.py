"""``make report``: execute the notebooks, then render them and the write-up as HTML and PDF.

``python -m deepvis.report`` runs ``notebooks/NN_*.ipynb`` in order in the ``python3`` kernel
(nbclient), stopping at the first error, and saves the executed notebooks (in place; in quick
mode under ``build/quick/notebooks``). It then renders, with nbconvert, into the report folder:

- ``<notebook>.html``: each executed notebook with its code;
- ``report.html``: one self-contained write-up of all notebooks (title block, table of contents,
  outputs and discussion, code hidden, images embedded);
- ``report.pdf``: the same write-up through LaTeX (xelatex, ``templates/deepvis_latex``).

Everything is rendered into a temporary folder first, so a failure leaves the previous report in
place. ``SOURCE_DATE_EPOCH`` (the last commit's time) fixes every date, so two runs over the same
notebooks give a byte-identical ``report.html``.

In the write-up, cells tagged ``remove-cell`` are left out, as are the outputs of cells tagged
``remove-output`` and all stderr output (warnings, progress bars); the per-notebook pages keep
everything. ``python -m deepvis.report --check`` verifies the rendered outputs (used by CI).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError
from nbconvert import HTMLExporter, PDFExporter
from nbconvert.exporters.pdf import LatexFailed
from nbconvert.filters import html2text, markdown2html_mistune, strip_ansi
from nbconvert.preprocessors import CoalesceStreamsPreprocessor
from nbformat import NotebookNode
from traitlets.config import Config

from deepvis.config import apt_command, environment, paths, project_root, quick_mode, shown
from deepvis.errors import DeepvisError, cli_errors
from deepvis.files import atomic_write_text

#: The notebooks a report is made of, run in name order.
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
KERNEL_NAME = "python3"
#: Set in the kernel's environment on top of the project's defaults: stable hashing.
KERNEL_ENV = {"PYTHONHASHSEED": "0"}
TEMPLATES = Path(__file__).resolve().parent / "templates"
TITLE = "Visualizing what deep networks learn: convolutional autoencoders and Grad-CAM"
SUBTITLE = "CS 4/510 Computer Vision & Deep Learning, Programming Assignment #4"
#: Cell tags honoured by the write-up; ``html-only`` marks the title and contents cells that
#: the LaTeX template replaces with ``\maketitle`` and ``\tableofcontents``.
REMOVE_CELL_TAGS = ("remove-cell",)
REMOVE_OUTPUT_TAGS = ("remove-output",)
HTML_ONLY_TAG = "html-only"
#: What ``--check`` asks of a quick report.
MIN_PDF_PAGES = 6
MIN_HTML_IMAGES = 12

#: The write-up's top-level sections, the assignment's exercises, by notebook number.
PARTS = {
    "01": "Exercise 1: a convolutional autoencoder on Fashion-MNIST",
    "02": "Exercise 1: a convolutional autoencoder on Fashion-MNIST",
    "03": "Exercise 1: a convolutional autoencoder on Fashion-MNIST",
    "04": "Exercise 2: Grad-CAM saliency",
}

_HEADING = re.compile(r"<h([1-6]) id=\"([^\"]*)\">(.*?)<a class=\"anchor-link\"", re.S)
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_ATX_HEADING = re.compile(r"^( {0,3})(#{1,5})(?=[ \t]|$)", re.M)


@dataclass
class Timings:
    """Seconds spent per step, for the summary."""

    execute: dict[str, float] = field(default_factory=dict)
    render: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Execution


def find_notebooks(folder: Path) -> list[Path]:
    """The report's notebooks in `folder` (``NN_name.ipynb``), in name order."""
    return sorted(folder.glob(NOTEBOOK_GLOB))


def kernel_env() -> dict[str, str]:
    """The environment a notebook kernel runs in: ours with the project's defaults
    (`deepvis.config.environment`) plus `KERNEL_ENV`."""
    return {**environment(), **KERNEL_ENV}


def execute_notebook(path: Path, cwd: Path) -> NotebookNode:
    """Run every cell of the notebook at `path` in a fresh kernel started in `cwd`.

    Output written by C libraries straight to the process's stderr (TensorFlow's start-up
    lines) stays out of the notebook and is shown only if the kernel dies. Raises
    `DeepvisError` naming the notebook, the cell number (1-based, as in Jupyter's cell list)
    and the error; the traceback goes to stderr first.
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=None,
        kernel_name=KERNEL_NAME,
        record_timing=False,
        extra_arguments=["--IPKernelApp.capture_fd_output=False"],
        resources={"metadata": {"path": str(cwd)}},
    )
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as kernel_log:
        try:
            client.execute(env=kernel_env(), stderr=kernel_log)
        except CellExecutionError as err:
            index, cell = next((i, c) for i, c in enumerate(nb.cells) if i + 1 in error_outputs(nb))
            print(strip_ansi(str(err)), file=sys.stderr)
            raise DeepvisError(
                f"{shown(path)}, cell {index + 1} (In [{cell.execution_count}]): "
                f"{err.ename}: {strip_ansi(err.evalue)}"
            ) from err
        except DeadKernelError as err:
            kernel_log.seek(0)
            print("".join(kernel_log.readlines()[-40:]), file=sys.stderr)
            raise DeepvisError(f"{shown(path)}: the kernel died ({err}); out of memory?") from err
    # How stream messages arrive split into outputs depends on timing; merge consecutive ones
    # so that identical runs give identical notebooks.
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})
    return nb


def write_notebook(nb: NotebookNode, path: Path) -> None:
    """Save `nb` atomically in Jupyter's own file format."""
    atomic_write_text(path, nbformat.writes(nb) + "\n")


def error_outputs(nb: NotebookNode) -> list[int]:
    """1-based numbers of the cells of `nb` that hold an error output."""
    return [
        i + 1
        for i, cell in enumerate(nb.cells)
        if any(o.output_type == "error" for o in cell.get("outputs", []))
    ]


# --------------------------------------------------------------------------------------------
# The combined write-up


def headings(nb: NotebookNode, max_level: int = 2) -> list[tuple[int, str, str]]:
    """``(level, html id, text)`` of the markdown headings of `nb`, as nbconvert's HTML has them.

    Cells tagged ``remove-cell`` or ``html-only`` are skipped.
    """
    found = []
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        if cell.cell_type != "markdown" or tags & {*REMOVE_CELL_TAGS, HTML_ONLY_TAG}:
            continue
        for level, anchor, inner in _HEADING.findall(markdown2html_mistune(cell.source)):
            if int(level) <= max_level:
                found.append((int(level), anchor, html2text(f"<span>{inner}</span>").strip()))
    return found


def toc_html(entries: Sequence[tuple[int, str, str]]) -> str:
    """An HTML list linking to the headings `entries` (see `headings`), indented by level."""
    items = "\n".join(
        f'<li class="toc-{level}"><a href="#{html.escape(anchor)}">{html.escape(text)}</a></li>'
        for level, anchor, text in entries
    )
    return f'<nav class="toc">\n<h2>Contents</h2>\n<ul>\n{items}\n</ul>\n</nav>'


def demote_headings(markdown: str) -> str:
    """`markdown` with every ATX heading (``#`` .. ``#####``) one level deeper; code kept."""
    lines, fenced = [], False
    for line in markdown.splitlines(keepends=True):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            line = _ATX_HEADING.sub(r"\1#\2", line)
        lines.append(line)
    return "".join(lines)


def combine(notebooks: Sequence[tuple[str, NotebookNode]], date: str | None) -> NotebookNode:
    """One notebook of all `notebooks` (``(file name, notebook)``, in order) for the write-up.

    First a title block and the contents, as markdown cells tagged ``html-only`` (the LaTeX
    template makes its own from the metadata). Notebooks that `PARTS` assigns to an exercise
    follow its heading, their own headings one level deeper. Stderr outputs are dropped and
    cell ids renumbered (they must be unique).
    """
    cells, part = [], None
    for n, (name, nb) in enumerate(notebooks, start=1):
        if PARTS.get(name[:2]) != part:
            part = PARTS.get(name[:2])
            if part:
                cells.append(nbformat.v4.new_markdown_cell(f"# {part}", id=f"part-{n}"))
        for i, cell in enumerate(nb.cells, start=1):
            cell = copy.deepcopy(cell)
            cell.id = f"nb{n}-cell{i}"
            if cell.cell_type == "markdown" and part:
                cell.source = demote_headings(cell.source)
            if cell.cell_type == "code":
                cell.outputs = [
                    o
                    for o in cell.outputs
                    if not (o.output_type == "stream" and o.name == "stderr")
                ]
            cells.append(cell)
    body = nbformat.v4.new_notebook(cells=cells)
    title = f"# {TITLE}\n\n**{SUBTITLE}**" + (f"\n\n{date}" if date else "")
    front = [
        nbformat.v4.new_markdown_cell(title, id="title"),
        nbformat.v4.new_markdown_cell(toc_html(headings(body, max_level=3)), id="contents"),
    ]
    for cell in front:
        cell.metadata["tags"] = [HTML_ONLY_TAG]
    metadata = {"title": TITLE, "subtitle": SUBTITLE}
    if date:
        metadata["date"] = date
    if notebooks:
        for key in ("kernelspec", "language_info"):
            if key in notebooks[0][1].metadata:
                metadata[key] = copy.deepcopy(notebooks[0][1].metadata[key])
    return nbformat.v4.new_notebook(cells=front + cells, metadata=metadata)


# --------------------------------------------------------------------------------------------
# Rendering


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
    """HTML of `nb` with every image embedded; `writeup` hides the code (``report.html``)."""
    exporter = HTMLExporter(
        config=_exporter_config(writeup=writeup, latex=False),
        template_name="deepvis_html" if writeup else "lab",
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(
        nb, resources={"metadata": {"name": name, "path": str(source_dir)}}
    )
    return body


def render_pdf(nb: NotebookNode, source_dir: Path) -> bytes:
    """The write-up `nb` as PDF via LaTeX (xelatex), code hidden, DejaVu fonts."""
    exporter = PDFExporter(
        config=_exporter_config(writeup=True, latex=True), template_name="deepvis_latex"
    )
    try:
        body, _ = exporter.from_notebook_node(
            nb, resources={"metadata": {"name": "report", "path": str(source_dir)}}
        )
    except LatexFailed as err:
        print("\n".join(err.output.splitlines()[-40:]), file=sys.stderr)
        raise DeepvisError("xelatex failed on the write-up: see the end of its log above") from err
    return body


def missing_pdf_tools() -> list[str]:
    """The programs that the PDF needs and this machine lacks."""
    return [tool for tool in ("pandoc", "xelatex") if shutil.which(tool) is None]


def source_date_epoch(root: Path) -> int | None:
    """``SOURCE_DATE_EPOCH`` if set, else the last commit's time; None outside a git checkout."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%ct"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except FileNotFoundError:
        return None
    return int(out) if out.isdigit() else None


@contextlib.contextmanager
def _source_date(epoch: int | None) -> Iterator[None]:
    """Set ``SOURCE_DATE_EPOCH`` (and TeX's ``FORCE_SOURCE_DATE``) for the duration."""
    saved = {k: os.environ.get(k) for k in ("SOURCE_DATE_EPOCH", "FORCE_SOURCE_DATE")}
    if epoch is not None:
        os.environ.update(SOURCE_DATE_EPOCH=str(epoch), FORCE_SOURCE_DATE="1")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _date(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    day = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
    return f"{day.day} {day:%B %Y}"


# --------------------------------------------------------------------------------------------
# The pipeline


def build(
    source_dir: Path,
    executed_dir: Path,
    report_dir: Path,
    *,
    execute: bool = True,
) -> Timings:
    """Execute the notebooks of `source_dir` into `executed_dir`, then render into `report_dir`.

    With ``execute=False`` the notebooks already in `executed_dir` are rendered as they are.
    Raises `DeepvisError` for a failing notebook (nothing is saved or rendered then) and, after
    the HTML files are in place, when the PDF toolchain is missing.
    """
    timings = Timings()
    epoch = source_date_epoch(project_root())
    sources = find_notebooks(source_dir if execute else executed_dir)
    if not sources:
        where = source_dir if execute else executed_dir
        raise DeepvisError(f"no notebooks named {NOTEBOOK_GLOB} in {shown(where)}")

    executed: list[tuple[Path, NotebookNode]] = []
    for k, path in enumerate(sources, start=1):
        if not execute:
            executed.append((path, nbformat.read(path, as_version=4)))
            continue
        print(f"[{k}/{len(sources)}] executing {shown(path)} ...", flush=True)
        start = time.perf_counter()
        nb = execute_notebook(path, cwd=source_dir)
        timings.execute[path.name] = time.perf_counter() - start
        print(f"[{k}/{len(sources)}] {path.name}: {timings.execute[path.name]:.1f} s", flush=True)
        executed.append((path, nb))
    if execute:
        for path, nb in executed:
            write_notebook(nb, executed_dir / path.name)

    report_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=report_dir.parent, prefix=".report-") as tmp:
        staged = Path(tmp)
        for path, nb in executed:
            start = time.perf_counter()
            text = render_html(nb, path.stem, source_dir, writeup=False)
            (staged / f"{path.stem}.html").write_text(text, encoding="utf-8")
            timings.render[f"{path.stem}.html"] = time.perf_counter() - start
        writeup = combine([(path.name, nb) for path, nb in executed], _date(epoch))
        start = time.perf_counter()
        text = render_html(writeup, "report", source_dir, writeup=True)
        (staged / "report.html").write_text(text, encoding="utf-8")
        timings.render["report.html"] = time.perf_counter() - start
        print(f"rendered HTML: {timings.render['report.html']:.1f} s for report.html", flush=True)
        missing = missing_pdf_tools()
        if not missing:
            start = time.perf_counter()
            with _source_date(epoch):
                (staged / "report.pdf").write_bytes(render_pdf(writeup, source_dir))
            timings.render["report.pdf"] = time.perf_counter() - start
            print(f"rendered PDF: {timings.render['report.pdf']:.1f} s", flush=True)
        for item in sorted(staged.iterdir()):
            os.replace(item, report_dir / item.name)
    _summary(timings, executed_dir if execute else None, report_dir)
    if missing:
        raise DeepvisError(
            f"{' and '.join(missing)} not found, so report.pdf was not made (the HTML was); "
            f"install with: {apt_command('pdf')}"
        )
    return timings


def _summary(timings: Timings, executed_dir: Path | None, report_dir: Path) -> None:
    print("summary:")
    for name, seconds in timings.execute.items():
        print(f"  execute {name:<32} {seconds:8.1f} s")
    for name, seconds in timings.render.items():
        print(f"  render  {name:<32} {seconds:8.1f} s")
    total = sum(timings.execute.values()) + sum(timings.render.values())
    print(f"  total   {'':<32} {total:8.1f} s")
    if executed_dir is not None:
        print(f"executed notebooks: {shown(executed_dir)}/")
    print(f"report: {shown(report_dir)}/ ({', '.join(timings.render)})")


# --------------------------------------------------------------------------------------------
# --check


def check(report_dir: Path, executed_dir: Path) -> list[str]:
    """Problems with a rendered report, one line each (an empty list: all good).

    The PDF has at least `MIN_PDF_PAGES` pages and contains every level-1/2 heading of the
    notebooks, ``report.html`` embeds at least `MIN_HTML_IMAGES` images (and links none),
    each notebook has its HTML page, and no executed notebook holds an error output.
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

    page = report_dir / "report.html"
    if page.exists():
        text = page.read_text(encoding="utf-8")
        embedded = len(re.findall(r"<img[^>]*\ssrc=\"data:image/", text))
        linked = len(re.findall(r"<img[^>]*\ssrc=\"(?!data:)", text))
        if embedded < MIN_HTML_IMAGES:
            problems.append(f"{shown(page)} embeds {embedded} images, fewer than {MIN_HTML_IMAGES}")
        if linked:
            problems.append(f"{shown(page)} links {linked} images instead of embedding them")
    else:
        problems.append(f"{shown(page)} is missing")

    pdf = report_dir / "report.pdf"
    if not pdf.exists():
        problems.append(f"{shown(pdf)} is missing")
    elif missing := [t for t in ("pdfinfo", "pdftotext") if shutil.which(t) is None]:
        problems.append(f"{', '.join(missing)} not found: {apt_command('checks')}")
    else:
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1)) if "Pages:" in info else 0
        if pages < MIN_PDF_PAGES:
            problems.append(f"{shown(pdf)} has {pages} pages, fewer than {MIN_PDF_PAGES}")
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        found = _squash(text)
        for nb in notebooks.values():
            for _, _, title in headings(nb):
                if _squash(title) not in found:
                    problems.append(f"{shown(pdf)} lacks the section title {title!r}")
    return problems


def _squash(text: str) -> str:
    """Lower-case letters and digits only: text compared across HTML, LaTeX and pdftotext."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


# --------------------------------------------------------------------------------------------
# CLI


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the report (default) or ``--check`` the rendered one."""
    parser = argparse.ArgumentParser(
        prog="python -m deepvis.report", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="check the rendered report, exit 2 on problems"
    )
    parser.add_argument(
        "--notebooks",
        type=Path,
        help="folder of the notebooks to run (default: notebooks/); outside quick mode the "
        "executed notebooks replace them",
    )
    parser.add_argument("--report-dir", type=Path, help="where to render (default: report/)")
    parser.add_argument(
        "--skip-execute",
        action="store_true",
        help="render the already executed notebooks without running them",
    )
    args = parser.parse_args(argv)
    where = paths()
    source_dir = (args.notebooks or where.root / "notebooks").resolve()
    executed_dir = where.notebooks_out if quick_mode() else source_dir
    report_dir = (args.report_dir or where.report).resolve()
    if args.check:
        problems = check(report_dir, executed_dir)
        for problem in problems:
            print(f"check failed: {problem}", file=sys.stderr)
        if problems:
            return 2
        print(f"report check passed: {shown(report_dir)}")
        return 0
    build(source_dir, executed_dir, report_dir, execute=not args.skip_execute)
    return 0


if __name__ == "__main__":
    sys.exit(main())
