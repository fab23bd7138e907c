"""The whole pipeline: execution, the six write-up files, atomicity and reproducibility."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell

from deepvis.config import paths
from deepvis.errors import DeepvisError
from deepvis.report import build, check, notebooks, writeup

from .helpers import executed, write


@pytest.fixture(autouse=True)
def _in_process(tmp_path, monkeypatch):
    """Kernel connection files and IPython's history go to the temporary folder, not ``~``;
    `build.main` leaves pytest's descriptor 2 and `sys.stderr` alone (no `quiet_terminal`)."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setattr(build, "quiet_terminal", lambda *args: None)


@pytest.fixture
def no_pdf(monkeypatch):
    """Pretend that xelatex is missing: builds stop after the HTML, fast."""
    monkeypatch.setattr(build, "missing_pdf_tools", lambda: ["xelatex"])


@pytest.fixture
def pdf_calls(monkeypatch):
    """The PDF toolchain present, with a stand-in for LaTeX that records what it was given.

    Each call is recorded as (write-up name, ``SOURCE_DATE_EPOCH``, ``FORCE_SOURCE_DATE``) as
    they were while it ran; it returns ``%PDF-stand-in <name>``.
    """
    calls = []

    def render_pdf(nb, name, source_dir):
        env = os.environ
        calls.append((name, env.get("SOURCE_DATE_EPOCH"), env.get("FORCE_SOURCE_DATE")))
        return f"%PDF-stand-in {name}".encode()

    monkeypatch.setattr(build, "missing_pdf_tools", lambda: [])
    monkeypatch.setattr(build, "render_pdf", render_pdf)
    monkeypatch.setattr(build, "PDF_WORKERS", 1)  # in this process, where the stand-in is
    return calls


def _git_project(root: Path, commit_time: int) -> None:
    """Make `root` a git checkout whose last commit is at `commit_time` (Unix seconds)."""
    date = f"@{commit_time} +0000"
    env = os.environ | {"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date}
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "pinned"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
            cwd=root,
            env=env,
            check=True,
        )


def test_source_date_is_the_environment_else_the_last_commit(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert build.source_date_epoch(tmp_path) is None  # not a git checkout
    _git_project(tmp_path, 1659900000)
    assert build.source_date_epoch(tmp_path) == 1659900000
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert build.source_date_epoch(tmp_path) == 1700000000


def test_pdfs_are_rendered_with_the_commit_date_and_the_environment_restored(
    tmp_path, project_home, pdf_calls, monkeypatch
):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    monkeypatch.delenv("FORCE_SOURCE_DATE", raising=False)
    _git_project(project_home, 1659900000)  # 7 August 2022, 19:20 UTC
    nbs = tmp_path / "nbs"
    write(nbs, "01_part.ipynb", executed("Step 1: part").cells)
    write(nbs, "04_part.ipynb", executed("Step 1: other").cells)
    out = tmp_path / "report"
    timings = build.build(nbs, nbs, out, execute=False)  # no error: the PDFs were made
    names = writeup.write_up_names()
    assert sorted(pdf_calls) == sorted((name, "1659900000", "1") for name in names)
    for name in names:
        assert (out / f"{name}.pdf").read_bytes() == f"%PDF-stand-in {name}".encode()
        assert f"{name}.pdf" in timings.render
        assert "7 August 2022" in (out / f"{name}.html").read_text(encoding="utf-8")
    assert "SOURCE_DATE_EPOCH" not in os.environ and "FORCE_SOURCE_DATE" not in os.environ
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []


def test_a_failing_pdf_leaves_the_previous_report(tmp_path, pdf_calls, monkeypatch):
    def failing_latex(nb, name, source_dir):
        raise DeepvisError(f"xelatex failed on {name}")

    monkeypatch.setattr(build, "render_pdf", failing_latex)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1659900000")
    nbs = tmp_path / "nbs"
    write(nbs, "01_part.ipynb", executed("Step 1: part").cells)
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.pdf").write_bytes(b"previous")
    with pytest.raises(DeepvisError, match="xelatex failed"):
        build.build(nbs, nbs, out, execute=False)
    assert [p.name for p in out.iterdir()] == ["report.pdf"]
    assert (out / "report.pdf").read_bytes() == b"previous"
    assert os.environ["SOURCE_DATE_EPOCH"] == "1659900000" and "FORCE_SOURCE_DATE" not in os.environ


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
    assert not any("embeds" in p for p in problems)  # enough images (uncaptioned here)
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
        [new_code_cell("from deepvis.page import metrics\nmetrics.update({'a': 2})")],
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


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative path -> content)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


QUICK_NOTEBOOK = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from deepvis.page import metrics
from deepvis.config import paths
from deepvis.files import save_figure
fig, ax = plt.subplots(figsize=(1, 1))
save_figure(fig, paths().figures / "quick.png")
metrics.update({"quick.value": 1.5})
print("wrote", paths().figures)
"""


def test_a_quick_run_writes_under_build_quick_only(project_home, pdf_calls, monkeypatch):
    """``make report QUICK=1``'s report step: the committed report/, figures/ and notebooks/
    (here: those of a temporary project holding a notebook that saves a figure and a metric)
    are left byte for byte as they were; every output lands in build/quick/."""
    monkeypatch.setenv("DEEPVIS_QUICK", "1")
    monkeypatch.setattr(build, "validate_settings", lambda *args, **kwargs: None)
    write(project_home / "notebooks", "01_quick.ipynb", [new_code_cell(QUICK_NOTEBOOK)])
    for folder, name in (("report", "metrics.json"), ("figures", "quick.png")):
        (project_home / folder).mkdir()
        (project_home / folder / name).write_text("committed")
    committed = {
        name: _snapshot(project_home / name) for name in ("report", "figures", "notebooks")
    }
    assert build.main([]) == 0
    assert {name: _snapshot(project_home / name) for name in committed} == committed
    quick = project_home / "build" / "quick"
    assert (quick / "figures" / "quick.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((quick / "report" / "metrics.json").read_text()) == {"quick.value": 1.5}
    assert "wrote" in (quick / "notebooks" / "01_quick.ipynb").read_text()  # executed copy
    rendered = {p.name for p in (quick / "report").iterdir()}
    assert {"01_quick.html", "report.html", "report.pdf"} <= rendered


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
    sources = [p.name for p in notebooks.find_notebooks(quick.root / "notebooks")]
    assert sources and [p.name for p in notebooks.find_notebooks(quick.notebooks_out)] == sources
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


@pytest.mark.skipif(
    build.missing_pdf_tools() or shutil.which("pdftotext") is None, reason="no TeX toolchain"
)
def test_two_pdfs_typeset_in_parallel_processes_are_those_of_one_at_a_time(tmp_path):
    """The parallel path (worker processes) gives valid PDFs, each timed, of the right text."""
    from nbformat.v4 import new_markdown_cell, new_notebook

    docs = {
        key: new_notebook(cells=[new_markdown_cell(f"# Heading of {key}\n\nSome text.")])
        for key in ("first", "second")
    }
    parallel, serial = build.Timings(), build.Timings()
    (tmp_path / "p").mkdir()
    (tmp_path / "s").mkdir()
    build._render_pdfs(parallel, tmp_path / "p", docs, tmp_path, workers=2)
    build._render_pdfs(serial, tmp_path / "s", docs, tmp_path, workers=1)
    assert set(parallel.render) == set(serial.render) == {"first.pdf", "second.pdf"}
    assert all(seconds > 0 for seconds in parallel.render.values())
    for key in docs:
        pdf = (tmp_path / "p" / f"{key}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF")
        text = subprocess.run(
            ["pdftotext", str(tmp_path / "p" / f"{key}.pdf"), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"Heading of {key}" in text


def test_needs_come_from_the_metadata_else_the_exercises_earlier_notebooks(tmp_path):
    write(tmp_path, "01_a.ipynb", [], needs=["cae"])
    write(tmp_path, "02_b.ipynb", [], needs=["dcae"])
    write(tmp_path, "04_c.ipynb", [], needs=[])
    write(tmp_path, "05_d.ipynb", [])
    write(tmp_path, "06_e.ipynb", [], needs=["01_a", "99_elsewhere"])
    write(tmp_path, "99_elsewhere.ipynb", [])
    sources = [tmp_path / f"{n}.ipynb" for n in ("01_a", "02_b", "04_c", "05_d", "06_e")]
    trained = {p.stem: build.needs(p, sources, train=True) for p in sources}
    assert trained == {
        "01_a": ["cae"],
        "02_b": ["dcae"],
        "04_c": [],
        "05_d": ["cae", "dcae", "01_a", "02_b"],  # no metadata: all before it in Exercise 1
        "06_e": ["01_a"],  # a notebook that does not run this time is not waited for
    }
    # Without training the notebooks train what they load, one after the other.
    untrained = {p.stem: build.needs(p, sources, train=False) for p in sources}
    assert untrained["01_a"] == [] and untrained["02_b"] == ["01_a"]
    assert untrained["04_c"] == [] and untrained["05_d"] == ["01_a", "02_b"]


@pytest.mark.parametrize(
    ("needs", "message"),
    [
        (["02_b"], r"01_a\.ipynb needs 02_b, which runs after it: reorder them"),
        (["vae"], r"01_a\.ipynb needs 'vae', which is neither a training step \(cae, dcae\)"),
    ],
)
def test_a_need_that_cannot_be_met_is_one_line(tmp_path, needs, message):
    write(tmp_path, "01_a.ipynb", [], needs=needs)
    write(tmp_path, "02_b.ipynb", [])
    sources = [tmp_path / "01_a.ipynb", tmp_path / "02_b.ipynb"]
    with pytest.raises(DeepvisError, match=message):
        build.needs(sources[0], sources, True)


def _waits_for(mine: Path, theirs: Path, key: str) -> str:
    """A cell that marks `mine`, updates the metrics, and waits up to 60 s for `theirs`."""
    return (
        "import pathlib, time\nfrom deepvis.page import metrics\n"
        f"pathlib.Path({str(mine)!r}).touch()\n"
        f"for k in range(30): metrics.update({{f'{key}.{{k}}': k}})\n"
        f"deadline = time.time() + 60\n"
        f"while not pathlib.Path({str(theirs)!r}).exists():\n"
        "    assert time.time() < deadline, 'the other exercise never started'\n"
        "    time.sleep(0.05)\n"
        f"print('{key} saw the other')"
    )


def test_the_two_exercises_run_side_by_side(tmp_path, no_pdf, capsys, monkeypatch):
    """Each exercise's notebook waits for the other's to start: this finishes only if they run
    at once. Their metrics updates all arrive, and each echoed line names its notebook."""
    monkeypatch.setattr(build, "LANES", 2)
    nbs, a, b = tmp_path / "nbs", tmp_path / "a", tmp_path / "b"
    write(nbs, "01_a.ipynb", [new_code_cell(_waits_for(a, b, "one"))])
    write(nbs, "04_b.ipynb", [new_code_cell(_waits_for(b, a, "two"))])
    with pytest.raises(DeepvisError, match="xelatex"):
        build.build(nbs, nbs, tmp_path / "out")
    out = capsys.readouterr().out
    assert "    01 | one saw the other\n" in out and "    04 | two saw the other\n" in out
    assert len(json.loads(paths().metrics.read_text())) == 60


def test_a_failing_exercise_stops_the_other(tmp_path, no_pdf, monkeypatch):
    """One line naming the failing notebook, within seconds, while the other still runs."""
    import time

    monkeypatch.setattr(build, "LANES", 2)
    nbs = tmp_path / "nbs"
    write(nbs, "01_slow.ipynb", [new_code_cell("import time; time.sleep(120)")])
    write(nbs, "04_bad.ipynb", [new_code_cell("raise ValueError('broken')")])
    before = _snapshot(nbs)
    start = time.perf_counter()
    with pytest.raises(DeepvisError, match=r"04_bad\.ipynb, cell 1 .*ValueError: broken"):
        build.build(nbs, nbs, tmp_path / "out")
    assert time.perf_counter() - start < 60
    assert _snapshot(nbs) == before  # nothing saved


#: A stand-in for `build.TRAIN_COMMAND`: prints the model it was asked for (its last argument).
_TRAIN = ("-c", "import sys; print('trained', sys.argv[-1], flush=True)")


def test_training_runs_before_the_notebooks_that_need_it(tmp_path, no_pdf, capfd, monkeypatch):
    """``train``: each model in training order, before the notebook that needs it; a failure is
    one line."""
    monkeypatch.setattr(build, "TRAIN_COMMAND", _TRAIN)
    nbs = tmp_path / "nbs"
    write(nbs, "01_a.ipynb", [new_code_cell("print('notebook one')")], needs=["dcae"])
    with pytest.raises(DeepvisError, match="xelatex"):
        build.build(nbs, nbs, tmp_path / "out", train=True)
    out = capfd.readouterr().out
    assert out.index("trained cae") < out.index("trained dcae") < out.index("[1/1] executing")
    monkeypatch.setattr(build, "TRAIN_COMMAND", ("-c", "raise SystemExit(3)"))
    with pytest.raises(DeepvisError, match=r"training cae failed \(exit 3\)"):
        build.build(nbs, nbs, tmp_path / "out", train=True)


def test_a_notebook_that_needs_the_cae_runs_beside_the_denoising_training(
    tmp_path, no_pdf, capfd, monkeypatch
):
    """The denoising CAE's training waits (up to 60 s) for notebook 01, which needs the CAE
    only, to start: this finishes only if they run at once. 02 needs the denoising CAE."""
    monkeypatch.setattr(build, "LANES", 2)
    marker = tmp_path / "01-started"
    waits = (
        "import pathlib, sys, time\n"
        "deadline = time.time() + 60\n"
        f"while sys.argv[-1] == 'dcae' and not pathlib.Path({str(marker)!r}).exists():\n"
        "    assert time.time() < deadline, 'notebook 01 never started'\n"
        "    time.sleep(0.05)\n"
        "print('trained', sys.argv[-1], flush=True)"
    )
    monkeypatch.setattr(build, "TRAIN_COMMAND", ("-c", waits))
    nbs = tmp_path / "nbs"
    touch = new_code_cell(f"import pathlib; pathlib.Path({str(marker)!r}).touch()")
    write(nbs, "01_a.ipynb", [touch], needs=["cae"])
    write(nbs, "02_b.ipynb", [new_code_cell("print('two')")], needs=["dcae"])
    with pytest.raises(DeepvisError, match="xelatex"):
        build.build(nbs, nbs, tmp_path / "out", train=True)
    out = capfd.readouterr().out
    assert out.index("trained cae") < out.index("[1/2] executing") < out.index("trained dcae")
    assert out.index("trained dcae") < out.index("[2/2] executing")
