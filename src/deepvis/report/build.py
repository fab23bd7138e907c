"""``make report``: execute the notebooks, then render them and the three write-ups.

``python -m deepvis.report`` first checks every setting (`deepvis.report.settings`), then runs
``notebooks/NN_*.ipynb`` in the ``python3`` kernel (`deepvis.report.execute`), two at a time
where each has what it needs (`execute_all`; with ``--train`` the CAE models' training among
the steps), stopping at the first error, echoing each notebook's printed progress and its
elapsed time, and saves the executed notebooks
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
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from deepvis.cae.config import REPORT_MODELS
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
from deepvis.report.writeup import exercise_of, notebook_page, write_up_names, writeup


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


#: The command that trains (or loads) one of the CAE models, named after it (`TRAIN_STEPS`), run
#: by ``--train``: `deepvis.cae.train` under `deepvis.quiet`.
TRAIN_COMMAND = ("-m", "deepvis.quiet", "deepvis.cae.train")
#: The training steps, in order (`deepvis.cae.config.REPORT_MODELS`: the denoising CAE is the CAE
#: fine-tuned). A notebook names those it needs in its metadata (`needs`).
TRAIN_STEPS = REPORT_MODELS
#: How many steps (training, notebooks) run at once: one per core, at most two.
LANES = max(1, min(2, os.cpu_count() or 1))


def needs(path: Path, sources: Sequence[Path], train: bool) -> list[str]:
    """The steps notebook `path` (one of `sources`) waits for: training steps (`TRAIN_STEPS`)
    and stems of earlier notebooks.

    They are its metadata's ``deepvis.needs`` (e.g. ``["cae"]`` for a notebook that loads the
    CAE, ``["01_cae", "02_denoising"]`` for one that reads their metrics); without that entry,
    every earlier notebook of its exercise (`deepvis.report.writeup.exercise_of`) and, with
    ``train``, the whole training. Without ``train`` the notebooks train the models they load
    themselves, so one that needs a model waits for the earlier notebooks of its exercise (one
    training at a time). Steps that do not run this time (training without ``train``, a notebook
    not among `sources`) are left out. Raises `DeepvisError` for a name that is neither, or for
    a notebook that comes later (it would wait forever).
    """
    position = sources.index(path)
    exercise = exercise_of(path.name)
    earlier = [s.stem for s in sources[:position] if exercise_of(s.name) == exercise]
    declared = nbformat.read(path, as_version=4).metadata.get("deepvis", {}).get("needs")
    if declared is None:
        declared = [*TRAIN_STEPS, *earlier]
    elif not train and any(step in TRAIN_STEPS for step in declared):
        declared = [*declared, *earlier]
    stems = [source.stem for source in sources]
    for step in declared:
        if step in stems[position:]:
            raise DeepvisError(f"{path.name} needs {step}, which runs after it: reorder them")
        if step not in TRAIN_STEPS and not (path.parent / f"{step}.ipynb").is_file():
            raise DeepvisError(
                f"{path.name} needs {step!r}, which is neither a training step "
                f"({', '.join(TRAIN_STEPS)}) nor a notebook beside it"
            )
    running = [*TRAIN_STEPS] if train else []
    return [step for step in declared if step in running or step in stems]


def execute_all(
    sources: Sequence[Path], source_dir: Path, timings: Timings, train: bool = False
) -> list[NotebookNode]:
    """Execute `sources`, printing progress; nothing is saved if one fails.

    With ``train``, the training steps (`TRAIN_STEPS`, one `TRAIN_COMMAND` each) run too. Each
    step starts once the steps it needs (`needs`) are done and one of the `LANES` is free, the
    earliest first (training, then notebooks in order); so with two cores Exercise 2's notebook
    runs beside the CAE's training, and notebooks that need only the CAE beside the denoising
    CAE's. Side by side, every echoed line names its notebook. A failure cancels the other
    steps (a notebook's kernel is shut down, a training process killed).
    Returns the executed notebooks in the order of `sources`.
    """
    number = {path: k for k, path in enumerate(sources, start=1)}
    done: dict[Path, NotebookNode] = {}
    steps = [*TRAIN_STEPS] if train else []
    waits = {step: [*TRAIN_STEPS[: TRAIN_STEPS.index(step)]] for step in steps}
    waits |= {path.stem: needs(path, sources, train) for path in sources}
    side_by_side = LANES > 1 and len(waits) > 1

    async def execute(path: Path) -> None:
        tag = f"[{number[path]}/{len(sources)}]"
        print(f"{tag} executing {shown(path)} ...", flush=True)
        start = time.perf_counter()
        prefix = f"{ECHO_INDENT}{path.name[:2]} | " if side_by_side else ECHO_INDENT
        done[path] = await execute_notebook_async(path, source_dir, sys.stdout, prefix)
        timings.execute[path.name] = time.perf_counter() - start
        print(f"{tag} {path.name} done in {_minutes(timings.execute[path.name])}", flush=True)

    async def run_all() -> None:
        finished = {step: asyncio.Event() for step in waits}
        lanes = asyncio.Semaphore(LANES)

        async def run(step: str, work: Callable[[], Awaitable[None]]) -> None:
            for other in waits[step]:
                await finished[other].wait()
            async with lanes:
                await work()
            finished[step].set()

        try:
            async with asyncio.TaskGroup() as group:  # tasks queue for a lane in this order
                for step in steps:
                    group.create_task(run(step, partial(_train, step, timings)))
                for path in sources:
                    group.create_task(run(path.stem, partial(execute, path)))
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


async def _train(step: str, timings: Timings) -> None:
    """Run `TRAIN_COMMAND` for the model `step`, its output and one-line errors straight to the
    terminal (its C++ logging to the log, by `deepvis.quiet`); `DeepvisError` if it fails."""
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, *TRAIN_COMMAND, step, cwd=project_root(), stderr=_terminal()
    )
    try:
        code = await process.wait()
    finally:
        if process.returncode is None:  # cancelled: another step failed
            process.kill()
            await process.wait()
    if code:
        raise DeepvisError(f"training {step} failed (exit {code}): see the error above")
    timings.execute[f"training {step}"] = time.perf_counter() - start


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
    with ``train`` the CAE models are trained (or loaded) too, each before the notebooks that
    need it (`execute_all`).
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
            page = partial(render_html, notebook_page(name, nb), stem, source_dir, writeup=False)
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
        help="train (or load) the CAE models too, before the notebooks that need them",
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
