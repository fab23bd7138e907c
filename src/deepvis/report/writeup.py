"""The write-ups a grader reads, assembled from the executed notebooks.

Three write-ups come from one execution: ``exercise1`` and ``exercise2``, the hand-ins (each
complete, since the assignment asks for one exercise, and short: `Exercise.budget`), and
``report``, the technical report with both exercises and every analysis in full.

Each notebook belongs to an exercise by its number (`EXERCISES`). Cell tags place its cells:

- ``experiments``: the opening paragraph of the exercise (moved to its start);
- ``conclusions``: its closing section (moved after the main text);
- ``references``: the reference list (after the conclusions);
- ``appendix``: moved to the exercise's appendix (in every write-up);
- ``technical``: only in the technical report, in the exercise's appendix;
- ``handin``: only in the hand-ins;
- ``report-only``: only in the technical report, in place (the fuller version of what a
  ``handin`` cell says briefly, or what a hand-in leaves out);
- ``code``: the closing "Code" section (after the appendix, on a page of its own);
- ``remove-cell`` / ``remove-output``: left out of the write-up, or only their outputs
  (nbconvert's `TagRemovePreprocessor`); notebook-only material such as set-up cells;
- ``html-only``: left out of the PDF: the title and contents cells, which the LaTeX template
  makes itself, and what only a browser shows (the code-plane explorers of
  `deepvis.cae.explorer` and the sentence about them).

Other cells keep their order. Stderr outputs are always dropped. The notebooks write their
sections as ``##`` (Step 1, ...) and ``###`` headings; the combined report adds one ``#``
heading per exercise. Figures and tables shown with a caption (`deepvis.page.captions`) are
numbered in the order in which they appear in each write-up, and the references of the prose,
``[Figure](#fig-label)`` / ``[Table](#tab-label)``, become "Figure 3" / "Table 2"
(`number_captions`). Markdown cells show their MyST ``{eval}`` results, or a prompt for the
student's own insights where they describe the figures of another run (`deepvis.page.myst`).
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

import nbformat
from nbconvert.filters import html2text, markdown2html_mistune
from nbformat import NotebookNode

from deepvis.errors import DeepvisError
from deepvis.page import myst
from deepvis.page.captions import KINDS, META, REFERENCE
from deepvis.report.titleblock import TitleBlock, as_typed_html

TITLE = "Visualizing what deep networks learn: technical report"
COURSE = "CS 4/510 Computer Vision & Deep Learning"
EXPERIMENTS_TAG, CONCLUSIONS_TAG, APPENDIX_TAG = "experiments", "conclusions", "appendix"
REFERENCES_TAG, CODE_TAG = "references", "code"
TECHNICAL_TAG, HANDIN_TAG, REPORT_ONLY_TAG = "technical", "handin", "report-only"
REMOVE_CELL_TAGS = ("remove-cell",)
REMOVE_OUTPUT_TAGS = ("remove-output",)
HTML_ONLY_TAG = "html-only"

_HEADING = re.compile(r"<h([1-6]) id=\"([^\"]*)\">(.*?)<a class=\"anchor-link\"", re.S)


@dataclass(frozen=True)
class Exercise:
    """One exercise of the assignment: its write-up file, title and notebooks (by number)."""

    key: str
    title: str
    numbers: tuple[str, ...]
    #: Headings a grader looks for, in the order of the assignment.
    steps: tuple[str, ...]
    #: The hand-in's page budget: (main text, appendix), PDF pages, figures included.
    budget: tuple[int, int]


EXERCISES = (
    Exercise(
        "exercise1",
        "Exercise 1: a convolutional autoencoder on Fashion-MNIST",
        ("01", "02", "03", "05", "06"),
        (
            "Step 1: design of the CAE",
            "Step 2: training and reconstructions",
            "Step 3: a denoising CAE",
            "Step 4: the 2-D latent space against PCA",
        ),
        (6, 1),
    ),
    Exercise(
        "exercise2",
        "Exercise 2: Grad-CAM saliency maps",
        ("04", "07"),
        (
            "Step 1: the pre-trained network and its preprocessing",
            "Step 2: top-3 predictions",
            "Step 3: the gradient of the class score at the last conv layer",
            "Step 4: importance weights and the Grad-CAM map",
            "Step 5: saliency maps of the top-3 classes",
        ),
        (5, 1),
    ),
)
#: The write-up with both exercises.
COMBINED = "report"


def exercise_of(notebook_name: str) -> Exercise | None:
    """The exercise a notebook file (``NN_name.ipynb``) belongs to, by its number."""
    return next((e for e in EXERCISES if notebook_name[:2] in e.numbers), None)


# --------------------------------------------------------------------------------------------
# Headings and contents


def headings(nb: NotebookNode, max_level: int = 2) -> list[tuple[int, str, str]]:
    """``(level, html id, text)`` of the markdown headings of `nb`, as nbconvert's HTML has them:
    those of markdown cells and of markdown outputs (prose that a code cell computes).

    Cells tagged ``remove-cell`` or ``html-only`` are skipped, and the outputs of cells tagged
    ``remove-output``.
    """
    found = []
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        if tags & {*REMOVE_CELL_TAGS, HTML_ONLY_TAG}:
            continue
        for text in _markdown_of(cell, shows_outputs=not tags & set(REMOVE_OUTPUT_TAGS)):
            for level, anchor, inner in _HEADING.findall(markdown2html_mistune(text)):
                if int(level) <= max_level:
                    found.append((int(level), anchor, html2text(f"<span>{inner}</span>").strip()))
    return found


def _markdown_of(cell: NotebookNode, shows_outputs: bool) -> list[str]:
    """The markdown a cell shows: its source, or its markdown outputs."""
    if cell.cell_type == "markdown":
        return [cell.source]
    if cell.cell_type != "code" or not shows_outputs:
        return []
    return [o.data["text/markdown"] for o in cell.outputs if "text/markdown" in o.get("data", {})]


def toc_html(entries: Sequence[tuple[int, str, str]]) -> str:
    """An HTML list linking to the headings `entries` (see `headings`), indented by level."""
    items = "\n".join(
        f'<li class="toc-{level}"><a href="#{html.escape(anchor)}">{html.escape(text)}</a></li>'
        for level, anchor, text in entries
    )
    return f'<nav class="toc">\n<h2>Contents</h2>\n<ul>\n{items}\n</ul>\n</nav>'


# --------------------------------------------------------------------------------------------
# Assembly


def _tags(cell: NotebookNode) -> set[str]:
    return set(cell.metadata.get("tags", []))


def _clean(cell: NotebookNode, cell_id: str, where: str) -> NotebookNode:
    """A copy of `cell` with a new id, without stderr outputs and, for markdown, with the text
    the write-ups show (`deepvis.page.myst.resolved`; `where` names the cell in errors)."""
    cell = copy.deepcopy(cell)
    cell.id = cell_id
    if cell.cell_type == "markdown":
        cell.source = myst.resolved(cell, where)
        cell.metadata.pop(myst.METADATA_KEY, None)
    if cell.cell_type == "code":
        cell.outputs = [
            o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")
        ]
    return cell


def _latex(command: str, cell_id: str) -> NotebookNode:
    """A raw cell that only the LaTeX/PDF output sees (e.g. ``\\clearpage``)."""
    return nbformat.v4.new_raw_cell(command, id=cell_id, metadata={"raw_mimetype": "text/latex"})


def exercise_cells(
    exercise: Exercise,
    notebooks: Sequence[tuple[str, NotebookNode]],
    *,
    heading: bool,
    technical: bool = False,
) -> list[NotebookNode]:
    """The cells of one exercise in write-up order: experiments, main text, conclusions,
    references, then ``## Appendix`` and ``## Code``, each after a page break in the PDF.

    `notebooks`: ``(file name, executed notebook)`` pairs, all of them; those of other
    exercises are ignored. `heading`: start with ``# <exercise title>``. `technical`: the
    technical report's version (cells tagged ``technical`` in the appendix, those tagged
    ``handin`` left out); otherwise the hand-in's (cells tagged ``handin`` in place, those
    tagged ``technical`` or ``report-only`` left out).
    """
    order = ("experiments", "main", "conclusions", "references", "appendix", "code")
    slots: dict[str, list[NotebookNode]] = {slot: [] for slot in order}
    skip = {HANDIN_TAG} if technical else {TECHNICAL_TAG, REPORT_ONLY_TAG}
    for n, (name, nb) in enumerate(notebooks, start=1):
        if exercise_of(name) != exercise:
            continue
        for i, cell in enumerate(nb.cells, start=1):
            tags = _tags(cell)
            if skip & tags:
                continue
            slot = next(
                (
                    slot
                    for slot, tag in (
                        ("experiments", EXPERIMENTS_TAG),
                        ("conclusions", CONCLUSIONS_TAG),
                        ("references", REFERENCES_TAG),
                        ("code", CODE_TAG),
                        ("appendix", APPENDIX_TAG),
                        ("appendix", TECHNICAL_TAG),
                    )
                    if tag in tags
                ),
                "main",
            )
            slots[slot].append(_clean(cell, f"{exercise.key}-nb{n}-cell{i}", f"{name}, cell {i}"))
    cells = []
    if heading:
        cells.append(nbformat.v4.new_markdown_cell(f"# {exercise.title}", id=exercise.key))
    cells += slots["experiments"] + slots["main"] + slots["conclusions"] + slots["references"]
    if slots["appendix"]:
        cells.append(_latex("\\clearpage", f"{exercise.key}-appendix-break"))
        cells.append(
            nbformat.v4.new_markdown_cell("## Appendix", id=f"{exercise.key}-appendix")
        )
        cells += slots["appendix"]
    if slots["code"]:
        cells.append(_latex("\\clearpage", f"{exercise.key}-code-break"))
        cells += slots["code"]
    return cells


def captioned(cells: Sequence[NotebookNode]) -> list[dict]:
    """The caption metadata (`deepvis.page.captions.META`) of every captioned output of `cells`, in
    order: the same dicts as in the outputs, so that changing one changes the output."""
    return [
        output.metadata[META]
        for cell in cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if META in output.get("metadata", {})
    ]


def number_captions(
    cells: Sequence[NotebookNode], where: str, *, strict: bool = True
) -> dict[str, str]:
    """Number the captioned figures and tables of `cells` in order (figures and tables
    separately), and replace every reference of their markdown (``[Figure](#fig-label)``) by
    "Figure N" / "Table N". Modifies `cells`; returns ``{"fig:label": "Figure N", ...}``.

    Each caption's metadata gains ``number`` ("Figure 3"); references in captions are
    resolved like those of the prose. Raises `DeepvisError` for a label
    used twice or, if `strict`, a reference to a label that `cells` do not show (`where` names
    the write-up); otherwise such a reference becomes the word "Figure" or "Table".
    """
    names: dict[str, str] = {}
    counts = dict.fromkeys(KINDS, 0)
    for meta in captioned(cells):
        ref = f"{meta['kind']}:{meta['label']}"
        if ref in names:
            raise DeepvisError(f"{where}: the label {ref!r} is used by two items; make it unique")
        counts[meta["kind"]] += 1
        names[ref] = meta["number"] = f"{KINDS[meta['kind']]} {counts[meta['kind']]}"

    def resolve(text: str) -> str:
        def one(match: re.Match) -> str:
            ref = f"{match.group(1)}:{match.group(2)}"
            if ref not in names and not strict:
                return KINDS[match.group(1)]
            if ref not in names:
                raise DeepvisError(
                    f"{where}: the reference to {ref!r} refers to nothing that this write-up "
                    "shows; "
                    f"known: {sorted(names)}"
                )
            return names[ref]

        return REFERENCE.sub(one, text)

    for meta in captioned(cells):  # a caption may refer to another item ("As Figure 1, ...")
        meta["caption"] = resolve(meta["caption"])
    for cell in cells:
        if cell.cell_type == "markdown":
            cell.source = resolve(cell.source)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/markdown" in data:
                data["text/markdown"] = resolve(data["text/markdown"])
    return names


def notebook_page(name: str, nb: NotebookNode) -> NotebookNode:
    """A copy of one executed notebook as its own HTML page shows it: markdown with its
    ``{eval}`` results, stderr dropped, the cells tagged ``handin`` left out (the page shows the
    technical report's fuller version beside them), and the references to its own figures and
    tables numbered (those to other notebooks' read "Figure" or "Table")."""
    page = copy.deepcopy(nb)
    page.cells = [
        _clean(cell, cell.get("id") or f"cell{i}", f"{name}, cell {i}")
        for i, cell in enumerate(nb.cells, start=1)
        if HANDIN_TAG not in _tags(cell)
    ]
    number_captions(page.cells, name, strict=False)
    return page


def preface_cell() -> NotebookNode:
    """The technical report's opening note: what it holds, and the two hand-ins."""
    files = " and ".join(f"**{e.key}.pdf** ({e.title.split(':')[0]})" for e in EXERCISES)
    text = (
        "## About this document\n\n"
        "This technical report holds both exercises of the assignment with every analysis in "
        "full. The assignment asks for one exercise; each is also rendered as a short hand-in "
        f"of its own, {files}, which answer the assignment's steps with the same experiments "
        "and keep only the analyses that most support the answer. Each part below opens with "
        "a short description of the experiments and ends with conclusions; everything beyond "
        "the assignment's steps is in each part's appendix."
    )
    return nbformat.v4.new_markdown_cell(text, id="preface")


def writeup(
    key: str, notebooks: Sequence[tuple[str, NotebookNode]], block: TitleBlock
) -> NotebookNode:
    """The write-up `key` (an exercise's key or `COMBINED`) as one notebook for nbconvert.

    It opens with a title block and the contents (markdown cells tagged ``html-only``; the
    LaTeX template makes its own from the metadata ``title``, ``subtitle``, ``authors`` and
    ``date``).
    """
    if key == COMBINED:
        title, body = TITLE, [preface_cell()]
        for k, exercise in enumerate(EXERCISES):
            if k:
                body.append(_latex("\\clearpage", f"{exercise.key}-break"))
            body += exercise_cells(exercise, notebooks, heading=True, technical=True)
    else:
        exercise = next((e for e in EXERCISES if e.key == key), None)
        if exercise is None:
            raise DeepvisError(f"unknown write-up {key!r}; choose from {write_up_names()}")
        title, body = exercise.title, exercise_cells(exercise, notebooks, heading=False)
    number_captions(body, key)
    subtitle = f"{COURSE}, Programming Assignment #4" if key != COMBINED else COURSE
    lines = [f"# {title}", "", f"**{subtitle}**"]
    lines += [as_typed_html(part) for part in (block.byline(), block.date) if part]
    front = [
        nbformat.v4.new_markdown_cell("\n\n".join(lines), id="title"),
        nbformat.v4.new_markdown_cell(
            toc_html(headings(nbformat.v4.new_notebook(cells=body), max_level=3)), id="contents"
        ),
    ]
    for cell in front:
        cell.metadata["tags"] = [HTML_ONLY_TAG]
    # The PDF lists its contents only for the long technical report; the hand-ins are short.
    # The hand-ins keep the items captioned `here` where they stand, next to their prose; the
    # technical report lets every item float (``floats``), so that its pages fill.
    metadata: dict = {
        "title": title,
        "subtitle": subtitle,
        "contents": key == COMBINED,
        "floats": key == COMBINED,
    }
    if block.byline():
        metadata["authors"] = [{"name": block.byline()}]
    if block.date:
        metadata["date"] = block.date
    if notebooks:
        for meta_key in ("kernelspec", "language_info"):
            if meta_key in notebooks[0][1].metadata:
                metadata[meta_key] = copy.deepcopy(notebooks[0][1].metadata[meta_key])
    return nbformat.v4.new_notebook(cells=front + body, metadata=metadata)


def write_up_names() -> list[str]:
    """The write-ups rendered: one per exercise, then the combined report."""
    return [e.key for e in EXERCISES] + [COMBINED]


def step_headings(key: str) -> list[str]:
    """The Step headings a grader looks for in write-up `key`."""
    chosen = EXERCISES if key == COMBINED else [e for e in EXERCISES if e.key == key]
    return [step for e in chosen for step in e.steps]
