"""``deepvis.report``: execution, the combined write-up, atomic and reproducible rendering.

The unmarked tests use tiny notebooks made in ``tmp_path``. The tests marked ``report`` check
the real quick outputs after ``make report QUICK=1`` (``pytest -m report``, run by ``.ci/run``).
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess

import nbformat
import pytest
from nbformat.v4 import (
    new_code_cell,
    new_markdown_cell,
    new_notebook,
    new_output,
)

from deepvis.config import paths
from deepvis.errors import DeepvisError
from deepvis.report import build as report


def _png() -> str:
    """A small PNG, base64 encoded, as a notebook output holds it."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _executed(title: str, images: int = 1) -> nbformat.NotebookNode:
    """A notebook as if executed: a heading, code with stdout, stderr, images and a table."""
    outputs = [
        new_output("stream", name="stdout", text="β ≥ 0.5 → done\n"),
        new_output("stream", name="stderr", text="a TensorFlow warning\n"),
    ]
    outputs += [new_output("display_data", data={"image/png": _png()}) for _ in range(images)]
    return new_notebook(
        cells=[
            new_markdown_cell(f"# {title}\n\nSome discussion with $\\alpha_k^c$."),
            new_code_cell("print('secret_source_line')", execution_count=1, outputs=outputs),
            new_markdown_cell("## Findings\n\nShort."),
        ]
    )


def _write(folder, name: str, cells: list) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=cells), folder / name)


@pytest.fixture
def no_pdf(monkeypatch):
    """Pretend that xelatex is missing: builds stop after the HTML, fast."""
    monkeypatch.setattr(report, "missing_pdf_tools", lambda: ["xelatex"])


def test_find_notebooks_in_name_order(tmp_path):
    for name in ("02_b.ipynb", "01_a.ipynb", "scratch.ipynb", "10_c.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in report.find_notebooks(tmp_path)] == [
        "01_a.ipynb",
        "02_b.ipynb",
        "10_c.ipynb",
    ]


def test_execute_runs_cells_in_the_notebook_folder_with_the_kernel_env(tmp_path):
    _write(
        tmp_path,
        "01_a.ipynb",
        [
            new_code_cell("import os\nx = 20 + 22"),
            new_code_cell(
                "print(x, os.environ['PYTHONHASHSEED'], os.environ['TF_CPP_MIN_LOG_LEVEL'])\n"
                "print(os.getcwd())"
            ),
            new_code_cell(
                "import sys, time\nprint('a', flush=True)\ntime.sleep(0.3)\nprint('b')\n"
                "print('c', file=sys.stderr)"
            ),
        ],
    )
    nb = report.execute_notebook(tmp_path / "01_a.ipynb", cwd=tmp_path)
    text = nb.cells[1].outputs[0].text.splitlines()
    assert text[0] == "42 0 2"
    assert text[1] == str(tmp_path)
    # Stream messages that arrived apart are merged, so outputs do not depend on timing.
    assert [(o.name, o.text) for o in nb.cells[2].outputs] == [
        ("stdout", "a\nb\n"),
        ("stderr", "c\n"),
    ]
    assert all("execution" not in cell.metadata for cell in nb.cells)  # record_timing off


def test_a_failing_cell_is_named_with_its_number(tmp_path, capsys):
    _write(
        tmp_path,
        "01_a.ipynb",
        [new_markdown_cell("# A"), new_code_cell("x = 1"), new_code_cell("1 / 0")],
    )
    with pytest.raises(DeepvisError) as err:
        report.execute_notebook(tmp_path / "01_a.ipynb", cwd=tmp_path)
    message = str(err.value)
    assert "01_a.ipynb, cell 3 (In [2])" in message
    assert "ZeroDivisionError" in message
    assert "1 / 0" in capsys.readouterr().err  # the traceback is shown


def test_combine_adds_title_and_contents_and_drops_stderr():
    combined = report.combine(
        [("01_a.ipynb", _executed("First part")), ("04_b.ipynb", _executed("Second part"))],
        "7 August 2022",
    )
    ids = [cell.id for cell in combined.cells]
    assert len(ids) == len(set(ids))
    title, contents = combined.cells[:2]
    assert all(report.HTML_ONLY_TAG in c.metadata.tags for c in (title, contents))
    assert report.TITLE in title.source and "7 August 2022" in title.source
    assert 'href="#First-part"' in contents.source and 'href="#Second-part"' in contents.source
    parts = [c.source for c in combined.cells if c.id.startswith("part-")]
    assert parts == [f"# {report.PARTS['01']}", f"# {report.PARTS['04']}"]
    assert "## First part" in combined.cells[3].source  # demoted below its exercise
    streams = [o.get("name") for c in combined.cells if c.cell_type == "code" for o in c.outputs]
    assert streams.count("stdout") == 2 and "stderr" not in streams
    assert combined.metadata.title == report.TITLE and combined.metadata.date == "7 August 2022"


def test_demote_headings_leaves_code_blocks_alone():
    text = "# Title\n\n```python\n# a comment\n```\n## Step 1\n#hashtag\n"
    assert report.demote_headings(text) == (
        "## Title\n\n```python\n# a comment\n```\n### Step 1\n#hashtag\n"
    )


def test_writeup_html_hides_code_and_links_the_headings(tmp_path):
    nb = report.combine([("99_a.ipynb", _executed("First part", images=2))], None)
    nb.cells[3].metadata["tags"] = ["remove-output"]  # the code cell
    page = report.render_html(nb, "report", tmp_path, writeup=True)
    assert "secret_source_line" not in page
    assert "β ≥ 0.5" not in page  # its output was removed by the tag
    assert 'id="First-part"' in page and 'href="#First-part"' in page
    full = report.render_html(_executed("First part", images=2), "01_a", tmp_path, writeup=False)
    assert "secret_source_line" in full and full.count('src="data:image/png') == 2


def test_build_without_xelatex_renders_html_then_fails_with_the_apt_command(
    tmp_path, no_pdf, capsys
):
    nbs = tmp_path / "nbs"
    for k in (1, 2):
        _write(nbs, f"0{k}_part.ipynb", _executed(f"Part {k}", images=7).cells)
    out = tmp_path / "report"
    with pytest.raises(DeepvisError, match="sudo apt-get install .*texlive-xetex"):
        report.build(nbs, nbs, out, execute=False)
    assert sorted(p.name for p in out.iterdir()) == ["01_part.html", "02_part.html", "report.html"]
    assert "render  report.html" in capsys.readouterr().out  # the summary
    problems = report.check(out, nbs)
    assert any("report.pdf is missing" in p for p in problems)
    assert not any("images" in p for p in problems)  # 14 embedded images
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_report_html_is_byte_identical_across_runs(tmp_path, no_pdf, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1659900000")
    nbs = tmp_path / "nbs"
    _write(nbs, "01_part.ipynb", _executed("Part", images=2).cells)
    pages = []
    for run in ("a", "b"):
        with pytest.raises(DeepvisError):
            report.build(nbs, nbs, tmp_path / run, execute=False)
        pages.append((tmp_path / run / "report.html").read_bytes())
    assert pages[0] == pages[1]
    assert b"7 August 2022" in pages[0]


def test_a_failing_notebook_leaves_the_previous_report_and_notebooks(tmp_path, no_pdf):
    nbs = tmp_path / "nbs"
    _write(nbs, "01_ok.ipynb", [new_code_cell("print('fine')")])
    _write(nbs, "02_bad.ipynb", [new_code_cell("raise ValueError('broken on purpose')")])
    before = (nbs / "01_ok.ipynb").read_bytes()
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.html").write_text("previous report")
    with pytest.raises(DeepvisError, match=r"02_bad.ipynb, cell 1 .*ValueError: broken on purpose"):
        report.build(nbs, nbs, out)
    assert (out / "report.html").read_text() == "previous report"
    assert sorted(p.name for p in out.iterdir()) == ["report.html"]
    assert (nbs / "01_ok.ipynb").read_bytes() == before  # nothing saved from a failed run


def test_check_lists_each_problem(tmp_path):
    nbs = tmp_path / "nbs"
    nb = _executed("Part")
    nb.cells[1].outputs.append(new_output("error", ename="E", evalue="v", traceback=[]))
    _write(nbs, "01_part.ipynb", nb.cells)
    problems = report.check(tmp_path / "report", nbs)
    assert any("holds error outputs in cells [2]" in p for p in problems)
    assert any("01_part.html is missing" in p for p in problems)
    assert any("report.html is missing" in p for p in problems)
    assert any("report.pdf is missing" in p for p in problems)


def test_check_cli_fails_with_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DEEPVIS_QUICK", raising=False)
    assert (
        report.main(["--check", "--notebooks", str(tmp_path), "--report-dir", str(tmp_path)]) == 2
    )
    assert "check failed: no executed notebooks" in capsys.readouterr().err


@pytest.mark.skipif(
    report.missing_pdf_tools() or shutil.which("pdftotext") is None, reason="no TeX toolchain"
)
def test_pdf_keeps_unicode_and_fits_wide_outputs(tmp_path):
    nb = report.combine([("01_a.ipynb", _executed("Unicode → β ≥ 0.5 × 3"))], "7 August 2022")
    wide = "┃ " + "layer " * 20 + "┃"  # 124 characters: must be set small, not cut
    nb.cells.append(new_code_cell("", outputs=[new_output("stream", name="stdout", text=wide)]))
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(report.render_pdf(nb, tmp_path))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Unicode → β ≥ 0.5 × 3" in text
    assert "layer " * 19 + "layer ┃" in text.replace("\n", " ")
    assert "secret_source_line" not in text


# ---------------------------------------------------------------------------------------------
# The real quick report (after `make report QUICK=1`)


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setenv("DEEPVIS_QUICK", "1")
    monkeypatch.delenv("DEEPVIS_HOME", raising=False)
    return paths()


@pytest.mark.report
def test_quick_report_passes_the_check(quick):
    assert report.check(quick.report, quick.notebooks_out) == []


@pytest.mark.report
def test_quick_report_covers_every_notebook(quick):
    sources = [p.name for p in report.find_notebooks(quick.root / "notebooks")]
    assert sources and [p.name for p in report.find_notebooks(quick.notebooks_out)] == sources
    page = (quick.report / "report.html").read_text(encoding="utf-8")
    assert '<nav class="toc">' in page and report.TITLE in page
    assert "hl-ipython3" not in page  # no highlighted code in the write-up


@pytest.mark.report
def test_quick_pdf_uses_the_unicode_fonts(quick):
    fonts = subprocess.run(
        ["pdffonts", str(quick.report / "report.pdf")], capture_output=True, text=True
    ).stdout
    assert "DejaVuSerif" in fonts
