"""Shared configuration: paths shown relative to the project, and the environment defaults."""

import os
import subprocess
import sys

import pytest

from deepvis.config import ENV_DEFAULTS, environment, shown


def test_shown_paths_are_relative_inside_the_project(project_home, tmp_path_factory):
    assert shown(project_home / "data" / "models" / "cae-x") == "data/models/cae-x"
    outside = tmp_path_factory.mktemp("elsewhere")
    assert shown(outside) == str(outside.resolve())


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
