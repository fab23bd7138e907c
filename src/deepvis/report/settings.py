"""The pre-flight of ``make report`` and ``make train``: every setting checked in seconds.

A wrong setting (an environment variable of the README's table, ``student.toml``) would
otherwise surface only when the step that reads it runs: minutes into training, or inside a
notebook. `validate_settings` reads each one the way that step does, before anything is trained
or executed, and raises `DeepvisError` in one line for the first bad one.
``python -m deepvis.report.settings [--job train]`` (the first step of both targets; the report
command runs it too) prints one line when all are good.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from deepvis.config import ENV_DEFAULTS, QUICK_OFF, QUICK_ON, project_root, quick_mode, shown
from deepvis.errors import DeepvisError, cli_errors
from deepvis.gradcam.settings import validate_settings as validate_gradcam
from deepvis.quiet import quiet_terminal

#: The jobs a pre-flight is for: the whole report, or the training step alone.
JOBS = ("report", "train")
#: The values TensorFlow accepts for the variables `deepvis.config.ENV_DEFAULTS` sets.
TENSORFLOW_VALUES = {
    "TF_CPP_MIN_LOG_LEVEL": ("0", "1", "2", "3"),
    "TF_ENABLE_ONEDNN_OPTS": ("0", "1"),
}


def check_quick() -> None:
    """``DEEPVIS_QUICK`` is unset or one of `QUICK_ON` / `QUICK_OFF` (any case)."""
    value = os.environ.get("DEEPVIS_QUICK", "")
    if value.strip().lower() not in QUICK_ON + QUICK_OFF:
        raise DeepvisError(
            f"DEEPVIS_QUICK={value} is not understood; set it to 1 for quick mode "
            "(make report QUICK=1), or to 0 or nothing for the full run"
        )


def check_home() -> None:
    """``DEEPVIS_HOME``, if set, is a folder this user can write into."""
    value = os.environ.get("DEEPVIS_HOME")
    if not value:
        return
    if not Path(value).is_dir():
        raise DeepvisError(f"DEEPVIS_HOME={value} is not a folder; create it or unset it")
    if not os.access(value, os.W_OK | os.X_OK):
        raise DeepvisError(f"DEEPVIS_HOME={value} is not writable; choose another folder")


def check_tensorflow_env() -> None:
    """The variables of `TENSORFLOW_VALUES`, if set, hold a value TensorFlow understands."""
    for name, allowed in TENSORFLOW_VALUES.items():
        value = os.environ.get(name, ENV_DEFAULTS[name])
        if value not in allowed:
            raise DeepvisError(
                f"{name}={value} is not one of {', '.join(allowed)}; fix or unset it"
            )


def check_source_date() -> None:
    """``SOURCE_DATE_EPOCH``, if set, is a Unix time in seconds (the write-ups' date)."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    if value and not value.isdigit():
        raise DeepvisError(
            f"SOURCE_DATE_EPOCH={value} is not a Unix time in seconds; fix or unset it"
        )


def check_fashion_mnist() -> str:
    """Fashion-MNIST, from ``DEEPVIS_FASHION_MNIST_DIR`` or the next source, verified and
    placed where Keras reads it (`deepvis.data.prepare_keras_cache`); where it came from."""
    from deepvis.data import prepare_keras_cache

    return prepare_keras_cache()


def check_notebooks(folder: Path) -> None:
    """`folder` holds the report's notebooks."""
    from deepvis.report.notebooks import NOTEBOOK_GLOB, find_notebooks

    if not find_notebooks(folder):
        raise DeepvisError(f"no notebooks named {NOTEBOOK_GLOB} in {shown(folder)}")


def validate_settings(job: str = "report", notebooks: Path | None = None) -> str:
    """Check every setting `job` (one of `JOBS`) reads; raise `DeepvisError` for a bad one.

    Training reads quick mode, the project folder, TensorFlow's variables and Fashion-MNIST;
    the report also reads the title block (``student.toml``, ``DEEPVIS_AUTHOR``,
    ``DEEPVIS_STUDENT_ID``), ``SOURCE_DATE_EPOCH``, Exercise 2's settings and its `notebooks`
    (default ``notebooks/``). Returns a one-line summary of what will run.
    """
    if job not in JOBS:
        raise DeepvisError(f"unknown job {job!r}; choose from {', '.join(JOBS)}")
    check_quick()
    check_home()
    check_tensorflow_env()
    mode = "quick mode" if quick_mode() else "full run"
    if job == "train":
        return f"settings ok: {mode}; Fashion-MNIST from {check_fashion_mnist()}"
    from deepvis.report.titleblock import title_block

    byline = title_block().byline()
    check_source_date()
    validate_gradcam()  # the model name, the images folder, VGG-16's weights file
    check_notebooks(notebooks or project_root() / "notebooks")
    check_fashion_mnist()  # last: it may copy the files into Keras' cache
    return f"settings ok: {mode}; title block: {byline or 'no author or student ID'}"


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m deepvis.report.settings [--job report|train]``: 0 and one line if all good."""
    parser = argparse.ArgumentParser(
        prog="python -m deepvis.report.settings", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--job", choices=JOBS, default="report", help="what is about to run")
    args = parser.parse_args(argv)
    quiet_terminal()
    print(validate_settings(args.job), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
