"""The quiet terminal: C-level stderr to the log file, the project's lines to the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from deepvis import quiet
from deepvis.config import log_file

#: A process that writes the way TensorFlow's C++ code does (straight to descriptor 2), prints
#: the project's lines, warns, logs as TensorFlow's Python code does, and then starts a worker
#: the way `deepvis.cae.train` does.
SCRIPT = textwrap.dedent(
    """
    import logging, multiprocessing, os, sys, warnings

    from deepvis.quiet import quiet_terminal

    def worker():
        os.write(2, b"W0000 C++ line of a spawned worker\\n")

    if __name__ == "__main__":
        quiet_terminal()
        os.write(2, b"E0000 failed call to cuInit\\n")
        print("progress line", flush=True)
        print("error: a project error line", file=sys.stderr, flush=True)
        warnings.warn("a library warning")
        logging.getLogger("tensorflow").warning("5 out of the last 13 calls triggered retracing")
        child = multiprocessing.get_context("spawn").Process(target=worker)
        child.start()
        child.join()
        {last}
    """
)


def _run(project_home, tmp_path, last: str = "pass") -> subprocess.CompletedProcess:
    script = tmp_path / "job.py"
    script.write_text(SCRIPT.format(last=last))
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env={**os.environ, "DEEPVIS_HOME": str(project_home)},
        timeout=120,
    )


def test_c_level_stderr_and_warnings_go_to_the_log(project_home, tmp_path):
    done = _run(project_home, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "progress line\n"
    assert done.stderr == "error: a project error line\n"
    log = (project_home / "build" / "logs" / "deepvis.log").read_text()
    assert log.startswith("==== ") and f"{tmp_path / 'job.py'}\n" in log.splitlines(True)[0]
    for line in ("E0000 failed call to cuInit", "W0000 C++ line of a spawned worker"):
        assert line in log
    assert "UserWarning: a library warning" in log
    assert "WARNING:tensorflow:5 out of the last 13 calls triggered retracing" in log


def test_an_uncaught_error_is_one_line_with_its_traceback_in_the_log(project_home, tmp_path):
    done = _run(project_home, tmp_path, last="{}['missing']")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: a project error line",
        "error: KeyError: 'missing' (traceback in build/logs/deepvis.log)",
    ]
    log = (project_home / "build" / "logs" / "deepvis.log").read_text()
    assert "Traceback (most recent call last):" in log and "KeyError: 'missing'" in log


def test_the_log_is_appended_with_a_header_per_process(project_home, tmp_path):
    _run(project_home, tmp_path)
    _run(project_home, tmp_path)
    log = (project_home / "build" / "logs" / "deepvis.log").read_text()
    assert log.count("==== ") == 2 and log.count("E0000 failed call to cuInit") == 2


def test_a_module_run_quietly_shows_no_tensorflow_line(project_home):
    """``python -m deepvis.quiet MODULE ...`` (make train): TensorFlow loads, its C++ start-up
    lines stay off stderr, the module's own output and exit code come through."""
    done = subprocess.run(
        [sys.executable, "-m", "deepvis.quiet", "deepvis.cae.train", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "DEEPVIS_HOME": str(project_home)},
        timeout=300,
    )
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("usage: python -m deepvis.cae.train")
    assert "-m deepvis.quiet deepvis.cae.train --help" in log_file().read_text()


def test_the_runner_needs_a_module(project_home):
    with pytest.raises(SystemExit, match="usage: python -m deepvis.quiet MODULE"):
        quiet.run([])


def test_no_log_is_made_outside_a_project(tmp_path, monkeypatch):
    """A wrong ``DEEPVIS_HOME`` is the pre-flight's to report: no folder appears for it."""
    monkeypatch.setenv("DEEPVIS_HOME", str(tmp_path / "absent"))
    quiet.quiet_terminal()
    assert not (tmp_path / "absent").exists() and quiet._log is None
