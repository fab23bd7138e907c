"""A quiet terminal: TensorFlow's C++ logging goes to the log file, the project's lines stay.

TensorFlow and the C++ libraries under it write straight to file descriptor 2: while they load
(CUDA probing, oneDNN notes, some of it before TensorFlow reads its log level) and while a model
trains (grappler and oneDNN notes). `quiet_terminal` points descriptor 2 at the log file
(`deepvis.config.log_file`: ``build/logs/deepvis.log``, appended) for the rest of the process,
and gives Python's `sys.stderr` a descriptor of its own on the terminal. Then:

- the project's lines reach the terminal: progress on stdout, ``error: ...`` lines on stderr;
- C/C++ output of this process and of every process it starts (training workers and notebook
  kernels inherit descriptor 2) goes to the log;
- Python warnings, and records of Python's `logging` (TensorFlow's retracing notes), go to the log;
- an uncaught exception is one line on the terminal, and its traceback goes to the log.

Each process that opens the log writes a header line first (time, process id, command).
``python -m deepvis.quiet MODULE [ARG ...]`` runs a module's command line that way.
"""

from __future__ import annotations

import datetime
import io
import logging
import os
import runpy
import shlex
import sys
import traceback
import warnings
from collections.abc import Sequence
from types import TracebackType
from typing import TextIO

from deepvis.config import log_file, project_root, shown
from deepvis.errors import one_line

#: The open log of this process once `quiet_terminal` has run.
_log: TextIO | None = None


def open_log(what: str) -> TextIO:
    """The log file, opened for appending (line-buffered) after a header line naming `what`."""
    path = log_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    log = path.open("a", encoding="utf-8", errors="backslashreplace", buffering=1)
    stamp = datetime.datetime.now().isoformat(sep=" ", timespec="seconds")
    log.write(f"==== {stamp} pid {os.getpid()}: {what}\n")
    return log


def quiet_terminal(what: str | None = None) -> None:
    """Send this process's descriptor 2 to the log from now on.

    `what` names the process in the log's header (default: its command line). Only the first
    call acts, and none while the project folder does not exist (a wrong ``DEEPVIS_HOME``, which
    the pre-flight reports: no log is made outside a project). Python's `sys.stderr` stays on
    the terminal (a copy of the old descriptor 2); warnings and uncaught exceptions are routed
    as the module docstring says.
    """
    global _log
    if _log is not None or not project_root().is_dir():
        return
    _log = open_log(what or one_line(shlex.join(sys.orig_argv)))
    sys.stderr.flush()
    terminal = os.dup(2)
    os.dup2(_log.fileno(), 2)
    sys.stderr = io.TextIOWrapper(
        io.FileIO(terminal, "w"),
        encoding=sys.stderr.encoding,
        errors="backslashreplace",
        line_buffering=True,
    )
    warnings.showwarning = _warning_to_log
    # With a handler on the root logger, TensorFlow's logger adds no terminal handler of its own.
    logging.basicConfig(stream=_log, format="%(levelname)s:%(name)s:%(message)s")
    sys.excepthook = _error_in_one_line


def _warning_to_log(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """`warnings.showwarning` that writes to the log."""
    assert _log is not None
    _log.write(warnings.formatwarning(message, category, filename, lineno, line))


def _error_in_one_line(
    kind: type[BaseException], error: BaseException, tb: TracebackType | None
) -> None:
    """`sys.excepthook`: the traceback to the log, one line naming the error to the terminal."""
    assert _log is not None
    _log.write("".join(traceback.format_exception(kind, error, tb)))
    if issubclass(kind, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return
    print(
        f"error: {kind.__name__}: {one_line(str(error))} (traceback in {shown(log_file())})",
        file=sys.stderr,
    )


def run(argv: Sequence[str]) -> None:
    """Run module ``argv[0]`` as ``python -m`` would, with ``argv[1:]`` as its arguments, after
    `quiet_terminal`."""
    if not argv:
        sys.exit("usage: python -m deepvis.quiet MODULE [ARG ...]")
    quiet_terminal()
    sys.argv = list(argv)
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    from deepvis import quiet  # the importable copy, so that its state is the one others see

    quiet.run(sys.argv[1:])
