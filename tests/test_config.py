"""Shared configuration: quick mode, where outputs go, paths shown relative to the project, and
the environment defaults."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepvis.config import ENV_DEFAULTS, environment, paths, project_root, quick_mode, shown


def test_shown_paths_are_relative_inside_the_project(project_home, tmp_path_factory):
    assert shown(project_home / "data" / "models" / "cae-x") == "data/models/cae-x"
    outside = tmp_path_factory.mktemp("elsewhere")
    assert shown(outside) == str(outside.resolve())


@pytest.mark.parametrize("value", ["1", "true", "yes", "TRUE", " Yes\n"])
def test_quick_mode_accepts_true_values(monkeypatch, value):
    monkeypatch.setenv("DEEPVIS_QUICK", value)
    assert quick_mode() is True


@pytest.mark.parametrize("value", [None, "", "0", "false", "no", "off", "2"])
def test_quick_mode_is_off_otherwise(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("DEEPVIS_QUICK", raising=False)
    else:
        monkeypatch.setenv("DEEPVIS_QUICK", value)
    assert quick_mode() is False


def test_full_run_outputs_are_the_committed_folders(project_home):
    where = paths()
    assert where.root == project_home
    assert where.figures == project_home / "figures"
    assert where.report == project_home / "report"
    assert where.metrics == project_home / "report" / "metrics.json"
    assert where.notebooks_out == project_home / "notebooks"
    assert where.models == project_home / "data" / "models"


def test_quick_mode_sends_every_output_to_build_quick(project_home, monkeypatch):
    monkeypatch.setenv("DEEPVIS_QUICK", "yes")
    where = paths()
    quick = project_home / "build" / "quick"
    outputs = [where.figures, where.report, where.metrics, where.notebooks_out]
    assert outputs == [
        quick / "figures",
        quick / "report",
        quick / "report" / "metrics.json",
        quick / "notebooks",
    ]
    for committed in ("figures", "report", "notebooks"):
        assert not any(p.is_relative_to(project_home / committed) for p in outputs)
    # Inputs and the weight cache are shared: a quick run reuses them.
    assert where.data == project_home / "data" and where.models == project_home / "data" / "models"


def test_project_root_defaults_to_the_checkout(monkeypatch):
    monkeypatch.delenv("DEEPVIS_HOME", raising=False)
    assert (project_root() / "src" / "deepvis" / "config.py").is_file()


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("0", "0")])
def test_importing_deepvis_turns_onednn_on_unless_set(given, expected):
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if given is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = given
    code = "import os, deepvis; print(os.environ['TF_ENABLE_ONEDNN_OPTS'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == expected, out.stderr


def test_environment_fills_defaults_and_keeps_what_is_set(monkeypatch):
    for name in ENV_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    assert {k: environment()[k] for k in ENV_DEFAULTS} == ENV_DEFAULTS
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    assert environment()["TF_CPP_MIN_LOG_LEVEL"] == "0"


def test_keras_home_is_the_folder_keras_itself_uses(monkeypatch):
    from keras.src.backend import config as keras_config

    from deepvis.config import keras_home

    if "KERAS_HOME" not in os.environ:
        assert keras_home() == Path(keras_config.keras_home())
    monkeypatch.setenv("KERAS_HOME", "/somewhere/else")
    assert keras_home() == Path("/somewhere/else")
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # home not writable
    assert keras_home() == Path("/tmp/.keras")
