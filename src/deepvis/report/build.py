"""``make report``: execute the notebooks, then render them and the three write-ups.

``python -m deepvis.report`` first checks every setting (`deepvis.report.settings`), then runs
``notebooks/NN_*.ipynb`` in order in the ``python3`` kernel
(`deepvis.report.execute`), stopping at the first error, echoing each notebook's printed
progress (training epochs among it) and its elapsed time, and saves the executed notebooks
(in place; in quick mode under ``build/quick/notebooks``). It then renders into the report
folder (`deepvis.report.render`):

- ``<notebook>.html``: each executed notebook with its code;
- ``exercise1.html``/``.pdf``, ``exercise2.html``/``.pdf``: one complete hand-in per exercise;
- ``report.html``/``.pdf``: both exercises after a preface (`deepvis.report.writeup`).

Everything is rendered into a temporary folder first, so a failure leaves the previous report in
place. ``SOURCE_DATE_EPOCH`` (the last commit's time) fixes every date, so two runs over the same
notebooks give byte-identical HTML. ``--check`` verifies the rendered outputs
(`deepvis.report.check`, used by CI). TensorFlow's C++ logging and the tracebacks of failures go
to the log file, not the terminal (`deepvis.quiet`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from deepvis.config import paths, project_root, quick_mode, shown
from deepvis.errors import DeepvisError, cli_errors
from deepvis.files import atomic_write_bytes
from deepvis.quiet import quiet_terminal
from deepvis.report.check import check
from deepvis.report.execute import ECHO_INDENT, execute_notebook_async, write_notebook
from deepvis.report.notebooks import NOTEBOOK_GLOB, find_notebooks
from deepvis.report.render import missing_pdf_tools, pdf_tools_hint, render_html, render_pdf
from deepvis.report.settings import validate_settings
from deepvis.report.titleblock import title_block
from deepvis.report.writeup import exercise_of, write_up_names, writeup


@dataclass
class Timings:
    """Seconds spent per step, for the summary."""

    execute: dict[str, float] = field(default_factory=dict)
    render: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)


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


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


#: The command that trains (or loads) the CAE models, run first in Exercise 1's lane by
#: ``--train``: `deepvis.cae.train` under `deepvis.quiet`.
TRAIN_COMMAND = ("-m", "deepvis.quiet", "deepvis.cae.train")
#: How many exercises' notebooks run at once: one per core, at most two (there are two).
LANES = max(1, min(2, os.cpu_count() or 1))


def lanes(sources: Sequence[Path]) -> list[list[Path]]:
    """`sources` grouped by exercise (`deepvis.report.writeup.exercise_of`), each group in order,
    groups in the order of their first notebook. Exercises share no results, so their groups
    can run side by side; within one, a notebook may use what an earlier one computed."""
    groups: dict[str, list[Path]] = {}
    for path in sources:
        exercise = exercise_of(path.name)
        groups.setdefault(exercise.key if exercise else "", []).append(path)
    return list(groups.values())


def execute_all(
    sources: Sequence[Path], source_dir: Path, timings: Timings, train: bool = False
) -> list[NotebookNode]:
    """Execute `sources`, printing progress; nothing is saved if one fails.

    With ``train``, `TRAIN_COMMAND` runs first in the first lane (Exercise 1's, whose notebooks
    use the models). With two cores or more (`LANES`), each exercise's notebooks (`lanes`) run
    in their own kernels beside the other's, and every echoed line names its notebook; with one,
    all run in turn. A failure cancels the other lane (its kernel is shut down).
    Returns the executed notebooks in the order of `sources`.
    """
    groups = lanes(sources) if LANES > 1 else [list(sources)]
    side_by_side = len(groups) > 1
    number = {path: k for k, path in enumerate(sources, start=1)}
    done: dict[Path, NotebookNode] = {}

    async def run_lane(lane: list[Path], first: bool) -> None:
        if train and first:
            await _train(timings)
        for path in lane:
            tag = f"[{number[path]}/{len(sources)}]"
            print(f"{tag} executing {shown(path)} ...", flush=True)
            start = time.perf_counter()
            prefix = f"{ECHO_INDENT}{path.name[:2]} | " if side_by_side else ECHO_INDENT
            done[path] = await execute_notebook_async(path, source_dir, sys.stdout, prefix)
            timings.execute[path.name] = time.perf_counter() - start
            print(f"{tag} {path.name} done in {_minutes(timings.execute[path.name])}", flush=True)

    async def run_all() -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for k, lane in enumerate(groups):
                    group.create_task(run_lane(lane, first=k == 0))
        except BaseExceptionGroup as errors:  # the first failure, as if run alone
            raise errors.exceptions[0] from None

    asyncio.run(run_all())
    return [done[path] for path in sources]


def _terminal() -> int | None:
    """The descriptor of `sys.stderr` (the terminal, under `deepvis.quiet`); None to inherit."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None


async def _train(timings: Timings) -> None:
    """Run `TRAIN_COMMAND`, its output and one-line errors straight to the terminal (its C++
    logging to the log, by `deepvis.quiet`); `DeepvisError` if it fails."""
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, *TRAIN_COMMAND, cwd=project_root(), stderr=_terminal()
    )
    try:
        code = await process.wait()
    finally:
        if process.returncode is None:  # cancelled: the other lane failed
            process.kill()
            await process.wait()
    if code:
        raise DeepvisError(f"training failed (exit {code}): see the error above")
    timings.execute["training"] = time.perf_counter() - start


def build(
    source_dir: Path,
    executed_dir: Path,
    report_dir: Path,
    *,
    execute: bool = True,
    train: bool = False,
) -> Timings:
    """Execute the notebooks of `source_dir` into `executed_dir`, then render into `report_dir`.

    With ``execute=False`` the notebooks already in `executed_dir` are rendered as they are;
    with ``train`` the CAE models are trained (or loaded) first, beside Exercise 2's notebooks
    (`execute_all`).
    Raises `DeepvisError` for a failing notebook (nothing is saved or rendered then) and, after
    the HTML files are in place, when the PDF toolchain is missing.
    """
    timings = Timings()
    epoch = source_date_epoch(project_root())
    block = title_block(epoch=epoch)
    sources = find_notebooks(source_dir if execute else executed_dir)
    if not sources:
        where = source_dir if execute else executed_dir
        raise DeepvisError(f"no notebooks named {NOTEBOOK_GLOB} in {shown(where)}")
    if execute:
        notebooks = _fresh_metrics(lambda: execute_all(sources, source_dir, timings, train))
        for path, nb in zip(sources, notebooks, strict=True):
            write_notebook(nb, executed_dir / path.name)
    else:
        notebooks = [nbformat.read(path, as_version=4) for path in sources]
    named = [(path.name, nb) for path, nb in zip(sources, notebooks, strict=True)]

    missing = missing_pdf_tools()
    report_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=report_dir.parent, prefix=".report-") as tmp:
        staged = Path(tmp)
        for name, nb in named:
            stem = Path(name).stem
            page = partial(render_html, nb, stem, source_dir, writeup=False)
            _render(timings, staged / f"{stem}.html", page)
        docs = {key: writeup(key, named, block) for key in write_up_names()}
        for key, doc in docs.items():
            page = partial(render_html, doc, key, source_dir, writeup=True)
            _render(timings, staged / f"{key}.html", page)
        if not missing:
            with _source_date(epoch):
                _render_pdfs(timings, staged, docs, source_dir)
        for item in sorted(staged.iterdir()):
            os.replace(item, report_dir / item.name)
    _summary(timings, executed_dir if execute else None, report_dir)
    if missing:
        raise DeepvisError(
            f"{' and '.join(missing)} not found, so the PDFs were not made (the HTML was); "
            f"install with: {pdf_tools_hint()}"
        )
    return timings


def _fresh_metrics(run: Callable[[], list[NotebookNode]]) -> list[NotebookNode]:
    """``run()`` with the metrics file started afresh, so that it holds this run's numbers
    only; if `run` fails, the previous file is put back."""
    path = paths().metrics
    previous = path.read_bytes() if path.is_file() else None
    path.unlink(missing_ok=True)
    try:
        return run()
    except BaseException:
        if previous is not None:
            atomic_write_bytes(path, previous)
        raise


def _render(timings: Timings, target: Path, render: Callable[[], str | bytes]) -> None:
    """Write what ``render()`` returns (HTML text or PDF bytes) to `target`, timing it."""
    start = time.perf_counter()
    content = render()
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8")
    timings.render[target.name] = time.perf_counter() - start


def _timed_pdf(doc: NotebookNode, key: str, source_dir: Path) -> tuple[bytes, float]:
    """`render_pdf` and its wall time in seconds (run in a worker process)."""
    start = time.perf_counter()
    return render_pdf(doc, key, source_dir), time.perf_counter() - start


#: How many write-ups are typeset at once: one per core, at most two (there are three).
PDF_WORKERS = max(1, min(2, os.cpu_count() or 1))


def _render_pdfs(
    timings: Timings,
    staged: Path,
    docs: dict[str, NotebookNode],
    source_dir: Path,
    workers: int | None = None,
) -> None:
    """Each write-up of `docs` as ``<key>.pdf`` in `staged`, `workers` (default `PDF_WORKERS`)
    at a time. nbconvert changes the working directory while xelatex runs, so parallel ones run
    in processes of their own; with one worker they run here, one after the other."""
    workers = PDF_WORKERS if workers is None else workers
    if workers <= 1 or len(docs) <= 1:
        results = ((key, _timed_pdf(doc, key, source_dir)) for key, doc in docs.items())
        _store_pdfs(timings, staged, results)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {key: pool.submit(_timed_pdf, doc, key, source_dir) for key, doc in docs.items()}
        _store_pdfs(timings, staged, ((key, f.result()) for key, f in futures.items()))


def _store_pdfs(
    timings: Timings, staged: Path, results: Iterable[tuple[str, tuple[bytes, float]]]
) -> None:
    """Write each (key, (PDF bytes, seconds)) of `results` to ``<key>.pdf`` and time it."""
    for key, (body, seconds) in results:
        (staged / f"{key}.pdf").write_bytes(body)
        timings.render[f"{key}.pdf"] = seconds
        print(f"rendered {key}", flush=True)


def _summary(timings: Timings, executed_dir: Path | None, report_dir: Path) -> None:
    print("summary:")
    for name, seconds in timings.execute.items():
        print(f"  execute {name:<32} {seconds:8.1f} s")
    for name, seconds in timings.render.items():
        print(f"  render  {name:<32} {seconds:8.1f} s")
    total = time.perf_counter() - timings.started  # wall time: the PDFs overlap
    print(f"  total   {'':<32} {total:8.1f} s")
    if executed_dir is not None:
        print(f"executed notebooks: {shown(executed_dir)}/")
    print(f"report: {shown(report_dir)}/ ({', '.join(timings.render)})")


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
        "--train",
        action="store_true",
        help="first train (or load) the CAE models, beside Exercise 2's notebooks (make report)",
    )
    parser.add_argument(
        "--skip-execute",
        action="store_true",
        help="render the already executed notebooks without running them",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="with --check: skip the Chromium check"
    )
    args = parser.parse_args(argv)
    quiet_terminal()
    where = paths()
    source_dir = (args.notebooks or where.root / "notebooks").resolve()
    executed_dir = where.notebooks_out if quick_mode() else source_dir
    report_dir = (args.report_dir or where.report).resolve()
    if args.check:
        problems = check(report_dir, executed_dir, browser=not args.no_browser)
        for problem in problems:
            print(f"check failed: {problem}", file=sys.stderr)
        if problems:
            return 2
        print(f"report check passed: {shown(report_dir)}")
        return 0
    if not args.skip_execute:  # a bad setting fails before any run
        print(validate_settings("report", notebooks=source_dir), flush=True)
    build(source_dir, executed_dir, report_dir, execute=not args.skip_execute, train=args.train)
    return 0


if __name__ == "__main__":
    sys.exit(main())
