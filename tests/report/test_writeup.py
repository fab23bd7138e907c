"""Assembling the write-ups: exercises, tag placement, the preface and the title block."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from deepvis.errors import DeepvisError
from deepvis.report import titleblock, writeup

from .helpers import executed


def _notebooks():
    return [
        ("01_a.ipynb", executed("Step 1: first")),
        ("01_b.ipynb", executed("Appendix part", tags=("appendix",))),
        ("02_a.ipynb", executed("Overview", tags=("experiments",))),
        ("03_a.ipynb", executed("Conclusions", tags=("conclusions",))),
        ("04_a.ipynb", executed("Step 1: Grad-CAM")),
    ]


def _sources(nb):
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def test_exercise_write_up_orders_experiments_main_conclusions_appendix():
    block = writeup.TitleBlock(author="Ada", student_id="42", date="7 August 2022")
    nb = writeup.writeup("exercise1", _notebooks(), block)
    text = "\n".join(_sources(nb))
    order = [
        "## Overview",
        "## Step 1: first",
        "## Conclusions",
        "## Appendix",
        "## Appendix part",
    ]
    positions = [text.index(s) for s in order]
    assert positions == sorted(positions)
    assert "Grad-CAM" not in text  # Exercise 2's notebook stays out
    raw = [c for c in nb.cells if c.cell_type == "raw"]
    assert [c.source for c in raw] == ["\\clearpage"]
    assert raw[0].metadata.raw_mimetype == "text/latex"  # a page break in the PDF only
    title, contents = nb.cells[:2]
    assert all(writeup.HTML_ONLY_TAG in c.metadata.tags for c in (title, contents))
    assert "Ada (student ID 42)" in title.source and "7 August 2022" in title.source
    assert nb.metadata.authors == [{"name": "Ada (student ID 42)"}]
    assert not nb.metadata.floats  # a hand-in keeps the items marked `here` in place
    assert 'href="#Step-1:-first"' in contents.source
    ids = [cell.id for cell in nb.cells]
    assert len(ids) == len(set(ids))
    streams = [o.get("name") for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert "stdout" in streams and "stderr" not in streams


def test_combined_report_has_a_preface_and_both_exercises():
    nb = writeup.writeup("report", _notebooks(), writeup.TitleBlock())
    sources = _sources(nb)
    assert sources[2].startswith("## About this document") and "exercise1.pdf" in sources[2]
    parts = [s for s in sources if s.startswith("# Exercise")]
    assert parts == [f"# {e.title}" for e in writeup.EXERCISES]
    assert "authors" not in nb.metadata and "date" not in nb.metadata  # unset: left out
    assert nb.metadata.floats  # the technical report floats every item
    assert "student ID" not in sources[0]


def test_unknown_write_up_is_refused():
    with pytest.raises(DeepvisError, match="unknown write-up"):
        writeup.writeup("exercise3", _notebooks(), writeup.TitleBlock())


def test_title_block_from_the_student_file_and_the_environment(tmp_path, monkeypatch):
    for env in titleblock.STUDENT_ENV.values():
        monkeypatch.delenv(env, raising=False)
    assert titleblock.title_block(tmp_path).byline() == ""  # no file: nothing shown
    (tmp_path / titleblock.STUDENT_FILE).write_text('author = "Ada Lovelace"\nstudent_id = ""\n')
    block = titleblock.title_block(tmp_path, epoch=1659900000)
    assert block.byline() == "Ada Lovelace" and block.date == "7 August 2022"
    monkeypatch.setenv("DEEPVIS_STUDENT_ID", "907")
    assert titleblock.title_block(tmp_path).byline() == "Ada Lovelace (student ID 907)"
    (tmp_path / titleblock.STUDENT_FILE).write_text('name = "x"\n')
    with pytest.raises(DeepvisError, match="unknown keys"):
        titleblock.title_block(tmp_path)
    (tmp_path / titleblock.STUDENT_FILE).write_text("author = \n")
    with pytest.raises(DeepvisError, match="not valid TOML"):
        titleblock.title_block(tmp_path)


def test_headings_of_markdown_cells_and_outputs_skip_removed_ones():
    nb = executed("Step 2: shown")
    hidden = new_markdown_cell("## Hidden")
    hidden.metadata["tags"] = ["remove-cell"]
    computed = new_code_cell(
        "Markdown(...)",
        outputs=[
            new_output("display_data", data={"text/markdown": "## Step 3: computed\n\nText."})
        ],
    )
    removed = new_code_cell(
        "", outputs=[new_output("display_data", data={"text/markdown": "## Not shown"})]
    )
    removed.metadata["tags"] = ["remove-output"]
    nb.cells += [hidden, computed, removed]
    titles = [t for _, _, t in writeup.headings(nb)]
    assert titles == ["Step 2: shown", "Step 3: computed"]


def _evaluated(source: str, results: dict[str, str], **deepvis):
    cell = new_markdown_cell(source)
    cell.metadata["user_expressions"] = [
        {"expression": e, "result": {"status": "ok", "data": {"text/plain": r}, "metadata": {}}}
        for e, r in results.items()
    ]
    if deepvis:
        cell.metadata["deepvis"] = deepvis
    return cell


def test_write_ups_and_notebook_pages_show_eval_results_and_prompts_for_other_runs():
    nb = executed("Step 1: first")
    nb.cells += [
        _evaluated("The BCE is {eval}`f'{b:.4f}'` per pixel.", {"f'{b:.4f}'": "'0.3181'"}),
        _evaluated(
            "The bag cloud is diffuse.", {}, describes={"quick_mode()": False},
            describes_run={"quick_mode()": True},
        ),
    ]
    doc = writeup.writeup("exercise1", [("01_a.ipynb", nb)], writeup.TitleBlock())
    text = "\n".join(_sources(doc))
    assert "The BCE is 0.3181 per pixel." in text and "{eval}" not in text
    assert "bag cloud" not in text and "Your insights here" in text
    assert all("user_expressions" not in c.metadata for c in doc.cells)
    page = writeup.notebook_page("01_a.ipynb", nb)
    assert "The BCE is 0.3181 per pixel." in "\n".join(_sources(page))
    assert "{eval}" in nb.cells[-2].source  # the notebook itself is untouched
