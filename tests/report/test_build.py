"""The whole pipeline: execution, the six write-up files, atomicity and reproducibility."""

from __future__ import annotations

import json
import subprocess

import pytest
from nbformat.v4 import new_code_cell

from deepvis.config import paths
from deepvis.errors import DeepvisError
from deepvis.report import build, check, execute, writeup

from .helpers import executed, write


@pytest.fixture
def no_pdf(monkeypatch):
    """Pretend that xelatex is missing: builds stop after the HTML, fast."""
    monkeypatch.setattr(build, "missing_pdf_tools", lambda: ["xelatex"])


def test_build_without_xelatex_renders_html_then_fails_with_the_apt_command(
    tmp_path, no_pdf, capsys
):
    nbs = tmp_path / "nbs"
    write(nbs, "01_part.ipynb", executed("Step 1: part", images=7).cells)
    write(nbs, "04_part.ipynb", executed("Step 1: other", images=7).cells)
    out = tmp_path / "report"
    with pytest.raises(DeepvisError, match="sudo apt-get install .*texlive-xetex"):
        build.build(nbs, nbs, out, execute=False)
    assert sorted(p.name for p in out.iterdir()) == [
        "01_part.html",
        "04_part.html",
        "exercise1.html",
        "exercise2.html",
        "report.html",
    ]
    assert "render  report.html" in capsys.readouterr().out  # the summary
    problems = check.check(out, nbs, browser=False)
    assert any("report.pdf is missing" in p for p in problems)
    assert not any("images" in p for p in problems)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_write_ups_are_byte_identical_across_runs(tmp_path, no_pdf, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1659900000")
    nbs = tmp_path / "nbs"
    write(nbs, "01_part.ipynb", executed("Step 1: part", images=2).cells)
    pages = []
    for run in ("a", "b"):
        with pytest.raises(DeepvisError):
            build.build(nbs, nbs, tmp_path / run, execute=False)
        pages.append((tmp_path / run / "exercise1.html").read_bytes())
    assert pages[0] == pages[1]
    assert b"7 August 2022" in pages[0]


def test_a_failing_notebook_leaves_the_previous_report_and_notebooks(tmp_path, no_pdf):
    nbs = tmp_path / "nbs"
    write(nbs, "01_ok.ipynb", [new_code_cell("print('fine')")])
    write(nbs, "02_bad.ipynb", [new_code_cell("raise ValueError('broken on purpose')")])
    before = (nbs / "01_ok.ipynb").read_bytes()
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.html").write_text("previous report")
    with pytest.raises(DeepvisError, match=r"02_bad.ipynb, cell 1 .*ValueError: broken on purpose"):
        build.build(nbs, nbs, out)
    assert (out / "report.html").read_text() == "previous report"
    assert sorted(p.name for p in out.iterdir()) == ["report.html"]
    assert (nbs / "01_ok.ipynb").read_bytes() == before  # nothing saved from a failed run


def test_metrics_start_afresh_and_survive_a_failed_run(tmp_path, no_pdf, project_home):
    metrics_file = paths().metrics
    metrics_file.parent.mkdir(parents=True)
    metrics_file.write_text('{"stale.key": 1}')
    nbs = tmp_path / "nbs"
    write(nbs, "01_bad.ipynb", [new_code_cell("raise ValueError('broken')")])
    with pytest.raises(DeepvisError, match="broken"):
        build.build(nbs, nbs, tmp_path / "out")
    assert metrics_file.read_text() == '{"stale.key": 1}'  # put back
    write(
        nbs,
        "01_bad.ipynb",
        [new_code_cell("from deepvis import metrics\nmetrics.update({'a': 2})")],
    )
    with pytest.raises(DeepvisError):  # no xelatex
        build.build(nbs, nbs, tmp_path / "out")
    assert json.loads(metrics_file.read_text()) == {"a": 2}  # this run's numbers only


def test_build_prints_progress_and_elapsed_time(tmp_path, no_pdf, capsys):
    nbs = tmp_path / "nbs"
    write(nbs, "01_a.ipynb", [new_code_cell("print('Epoch 1/2'); print('Epoch 2/2')")])
    with pytest.raises(DeepvisError):  # no xelatex
        build.build(nbs, nbs, tmp_path / "out")
    out = capsys.readouterr().out
    assert "[1/1] executing" in out and "    Epoch 1/2\n    Epoch 2/2\n" in out
    assert "[1/1] 01_a.ipynb done in" in out


def test_check_cli_fails_with_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DEEPVIS_QUICK", raising=False)
    argv = ["--check", "--notebooks", str(tmp_path), "--report-dir", str(tmp_path)]
    assert build.main(argv) == 2
    assert "check failed: no executed notebooks" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The real quick report (after `make report QUICK=1`)


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setenv("DEEPVIS_QUICK", "1")
    monkeypatch.delenv("DEEPVIS_HOME", raising=False)
    return paths()


@pytest.mark.report
def test_quick_report_passes_the_check(quick):
    assert check.check(quick.report, quick.notebooks_out) == []


@pytest.mark.report
def test_quick_report_covers_every_notebook_and_write_up(quick):
    sources = [p.name for p in execute.find_notebooks(quick.root / "notebooks")]
    assert sources and [p.name for p in execute.find_notebooks(quick.notebooks_out)] == sources
    for name in writeup.write_up_names():
        page = (quick.report / f"{name}.html").read_text(encoding="utf-8")
        assert '<nav class="toc">' in page
        assert "hl-ipython3" not in page  # no highlighted code in a write-up
        text = check.pdf_text(quick.report / f"{name}.pdf")
        for step in writeup.step_headings(name):
            assert step in text.replace("\n", " "), (name, step)


@pytest.mark.report
def test_quick_pdf_uses_the_unicode_fonts(quick):
    fonts = subprocess.run(
        ["pdffonts", str(quick.report / "report.pdf")], capture_output=True, text=True
    ).stdout
    assert "DejaVuSerif" in fonts
