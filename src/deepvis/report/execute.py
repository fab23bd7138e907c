"""Executing the notebooks: a fresh kernel each, progress on the terminal, stable outputs.

The training cells of a cold run take minutes; every line a cell prints to stdout (Keras'
epoch lines among them) is echoed to the terminal as it arrives, indented under the
notebook's name, while it is also recorded in the notebook as usual.

Each markdown cell's MyST ``{eval}`` expressions are evaluated in the kernel when execution
reaches the cell, after the code cells above it, and stored in its metadata as jupyterlab-myst
stores them (`deepvis.page.myst`); so is this run's value of each expression of the
configuration that a description of particular figures was written for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import nbformat
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError
from nbconvert.filters import strip_ansi
from nbconvert.preprocessors import CoalesceStreamsPreprocessor
from nbformat import NotebookNode

from deepvis.config import environment, log_file, shown
from deepvis.errors import DeepvisError, one_line
from deepvis.files import atomic_write_text
from deepvis.page import myst
from deepvis.quiet import open_log
from deepvis.report.lab import missing_kernel_arguments

KERNEL_NAME = "python3"
#: Set in the kernel's environment on top of the project's defaults: stable hashing.
KERNEL_ENV = {"PYTHONHASHSEED": "0"}
#: What precedes each echoed line of a notebook's output.
ECHO_INDENT = "    "


def kernel_env() -> dict[str, str]:
    """The environment a notebook kernel runs in: ours with the project's defaults
    (`deepvis.config.environment`) plus `KERNEL_ENV`."""
    return {**environment(), **KERNEL_ENV}


class EvalError(Exception):
    """A markdown cell's ``{eval}`` expression failed in the kernel."""

    def __init__(self, cell_index: int, problem: str) -> None:
        super().__init__(problem)
        self.cell_index = cell_index


class _EchoingClient(NotebookClient):
    """A `NotebookClient` that also writes each stdout stream message to `echo` as it arrives."""

    def __init__(self, nb: NotebookNode, echo: IO[str] | None, prefix: str, **kwargs: Any) -> None:
        super().__init__(nb, **kwargs)
        self._echo = echo
        self._prefix = prefix

    async def async_execute_cell(  # noqa: ANN201 (nbclient's)
        self, cell: NotebookNode, cell_index: int, execution_count=None, store_history=True
    ):
        if cell.cell_type == "markdown":
            await self._evaluate_markdown(cell, cell_index)
            return cell
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    async def _evaluate_markdown(self, cell: NotebookNode, cell_index: int) -> None:
        """Store the results of the cell's ``{eval}`` expressions, and this run's values of its
        description's configuration, in its metadata (`deepvis.page.myst`)."""
        exprs = myst.expressions(cell.source)
        config = myst.describes(cell)
        if exprs:
            results = await self._user_expressions(exprs, cell)
            cell.metadata[myst.METADATA_KEY] = myst.stored(exprs, results)
            problem = myst.failure(cell.metadata[myst.METADATA_KEY])
            if problem:
                raise EvalError(cell_index, problem)
        else:
            cell.metadata.pop(myst.METADATA_KEY, None)
        if config:
            keys = list(config)
            as_json = [f"__import__('json').dumps({key})" for key in keys]
            results = await self._user_expressions(as_json, cell)
            entries = myst.stored(keys, results)
            problem = myst.failure(entries)
            if problem:
                raise EvalError(cell_index, f"the description's configuration: {problem}")
            cell.metadata.setdefault(myst.DEEPVIS_KEY, {})["describes_run"] = {
                entry["expression"]: json.loads(myst.shown_value(entry["result"]))
                for entry in entries
            }

    async def _user_expressions(self, exprs: list[str], cell: NotebookNode) -> dict:
        """The kernel's results for `exprs`, keyed ``"0"``, ``"1"``, ... (a silent request)."""
        assert self.kc is not None
        msg_id = self.kc.execute(
            "",
            silent=True,
            store_history=False,
            user_expressions={str(i): expr for i, expr in enumerate(exprs)},
        )
        reply = await self.async_wait_for_reply(msg_id, cell)
        return reply["content"].get("user_expressions", {})

    def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001, ANN201 (nbclient's)
        content = msg.get("content", {})
        if self._echo and msg["msg_type"] == "stream" and content.get("name") == "stdout":
            text = strip_ansi(content.get("text", ""))
            self._echo.write("".join(f"{self._prefix}{line}\n" for line in text.splitlines()))
            self._echo.flush()
        return super().output(outs, msg, display_id, cell_index)


def execute_notebook(
    path: Path, cwd: Path, echo: IO[str] | None = None, prefix: str = ECHO_INDENT
) -> NotebookNode:
    """Run every cell of the notebook at `path` in a fresh kernel started in `cwd`.

    Markdown cells get the results of their ``{eval}`` expressions in their metadata (see the
    module's docstring); an expression that fails stops the run with a `DeepvisError` naming the
    notebook, the cell and the expression. Stdout lines are echoed to `echo` (e.g.
    ``sys.stdout``), each after `prefix`, while the notebook runs. Output written by C libraries
    straight to the kernel process's stderr (TensorFlow's C++ logging) stays out of the notebook
    and goes to the log file
    (`deepvis.quiet.open_log`, after a header naming the notebook). Raises `DeepvisError` in one
    line naming the notebook, the cell number (1-based, as in Jupyter's cell list) and the
    error; the cell's traceback goes to the log.
    """
    return run_sync(execute_notebook_async)(path, cwd, echo, prefix)


async def execute_notebook_async(
    path: Path, cwd: Path, echo: IO[str] | None = None, prefix: str = ECHO_INDENT
) -> NotebookNode:
    """`execute_notebook` as a coroutine, so that several notebooks can run at once."""
    nb = nbformat.read(path, as_version=4)
    client = _EchoingClient(
        nb,
        echo,
        prefix,
        timeout=None,
        kernel_name=KERNEL_NAME,
        record_timing=False,
        extra_arguments=missing_kernel_arguments(),
        resources={"metadata": {"path": str(cwd)}},
    )
    with open_log(f"kernel of {shown(path)}") as log:
        try:
            await client.async_execute(env=kernel_env(), stderr=log)
        except CellExecutionError as err:
            index, cell = next((i, c) for i, c in enumerate(nb.cells) if i + 1 in error_outputs(nb))
            log.write(f"{shown(path)}, cell {index + 1}:\n{strip_ansi(str(err))}\n")
            raise DeepvisError(
                f"{shown(path)}, cell {index + 1} (In [{cell.execution_count}]): "
                f"{err.ename}: {one_line(strip_ansi(err.evalue))} "
                f"(traceback in {shown(log_file())})"
            ) from err
        except EvalError as err:
            where = f"{shown(path)}, cell {err.cell_index + 1}"
            raise DeepvisError(f"{where}: {one_line(str(err))}") from err
        except DeadKernelError as err:
            raise DeepvisError(
                f"{shown(path)}: the kernel died ({one_line(str(err))}); out of memory? "
                f"Its last output is in {shown(log_file())}"
            ) from err
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


def main(argv: list[str] | None = None) -> int:
    """``python -m deepvis.report.execute NOTEBOOK...``: execute notebooks one after the other,
    each saved in place (in quick mode under ``build/quick/notebooks``), with the stdout of its
    cells echoed; stops at the first failure in one line (exit code 2). For working on one
    notebook without building the write-ups."""
    import argparse
    import sys

    from deepvis.config import paths, project_root
    from deepvis.errors import cli_errors

    parser = argparse.ArgumentParser(
        prog="python -m deepvis.report.execute", description=main.__doc__
    )
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)

    @cli_errors
    def run() -> int:
        out = paths().notebooks_out
        for path in args.notebooks:
            print(f"executing {shown(path)} ...", flush=True)
            nb = execute_notebook(path.resolve(), project_root() / "notebooks", sys.stdout)
            target = path if out.resolve() == path.resolve().parent else out / path.name
            write_notebook(nb, target)
            print(f"saved {shown(target)}", flush=True)
        return 0

    return run()


if __name__ == "__main__":
    raise SystemExit(main())
