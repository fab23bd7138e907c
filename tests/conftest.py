"""Shared fixtures: a quiet TensorFlow, and outputs kept out of the project's folders."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

import deepvis  # noqa: E402, F401  (sets the oneDNN default before any test module loads Keras)


@pytest.fixture
def project_home(tmp_path, monkeypatch):
    """Point `deepvis.config.paths()` at a temporary project folder (caches, figures, metrics)."""
    monkeypatch.setenv("DEEPVIS_HOME", str(tmp_path))
    monkeypatch.delenv("DEEPVIS_QUICK", raising=False)
    return tmp_path
