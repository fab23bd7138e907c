"""The pre-flight: every setting of the main job is checked before anything trains or runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from deepvis.data import prepare_keras_cache
from deepvis.errors import DeepvisError
from deepvis.report import build, settings

from .helpers import write

#: Variables the tests below set; unset for every test, so that the machine's own are not read.
VARIABLES = (
    "DEEPVIS_QUICK",
    "DEEPVIS_AUTHOR",
    "DEEPVIS_STUDENT_ID",
    "DEEPVIS_GRADCAM_MODEL",
    "DEEPVIS_GRADCAM_IMAGES",
    "DEEPVIS_VGG16_WEIGHTS",
    "DEEPVIS_FASHION_MNIST_DIR",
    "SOURCE_DATE_EPOCH",
)


@pytest.fixture(autouse=True)
def _clean(project_home, monkeypatch):
    """A project with one notebook, none of `VARIABLES` set, and Fashion-MNIST taken as found
    (placing it would write into Keras' cache outside the test's folder)."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    write(project_home / "notebooks", "01_a.ipynb", [])
    monkeypatch.setattr("deepvis.data.prepare_keras_cache", lambda: "Keras cache")
    return project_home


def test_good_settings_pass_with_a_summary(monkeypatch):
    monkeypatch.setenv("DEEPVIS_AUTHOR", "Ada & Co")
    assert settings.validate_settings() == "settings ok: full run; title block: Ada & Co"
    monkeypatch.setenv("DEEPVIS_QUICK", "1")
    assert settings.validate_settings("train") == (
        "settings ok: quick mode; Fashion-MNIST from Keras cache"
    )


@pytest.mark.parametrize("value", ["", "0", "1", "TRUE", "no", " yes "])
def test_quick_mode_accepts_the_documented_values(monkeypatch, value):
    monkeypatch.setenv("DEEPVIS_QUICK", value)
    settings.validate_settings()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEEPVIS_QUICK", "2", "DEEPVIS_QUICK=2 is not understood"),
        ("DEEPVIS_QUICK", "quick", "DEEPVIS_QUICK=quick is not understood"),
        ("DEEPVIS_HOME", "/nonexistent/deepvis", "DEEPVIS_HOME=/nonexistent/deepvis is not a"),
        ("TF_CPP_MIN_LOG_LEVEL", "9", "TF_CPP_MIN_LOG_LEVEL=9 is not one of 0, 1, 2, 3"),
        ("TF_ENABLE_ONEDNN_OPTS", "yes", "TF_ENABLE_ONEDNN_OPTS=yes is not one of 0, 1"),
        ("SOURCE_DATE_EPOCH", "yesterday", "SOURCE_DATE_EPOCH=yesterday is not a Unix time"),
        ("DEEPVIS_GRADCAM_MODEL", "bogus", "DEEPVIS_GRADCAM_MODEL=bogus is not a model"),
        ("DEEPVIS_GRADCAM_IMAGES", "/nonexistent/gc", "DEEPVIS_GRADCAM_IMAGES=/nonexistent/gc"),
        ("DEEPVIS_VGG16_WEIGHTS", "/nonexistent/vgg.h5", "DEEPVIS_VGG16_WEIGHTS"),
        ("DEEPVIS_AUTHOR", "Ada\nLovelace", "line break"),
    ],
)
def test_a_bad_variable_is_named_in_one_line(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(DeepvisError) as err:
        settings.validate_settings()
    assert message in str(err.value) and "\n" not in str(err.value)


def test_an_images_folder_with_one_of_the_five_files_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "gc1.jpg").write_bytes(b"\xff\xd8")
    monkeypatch.setenv("DEEPVIS_GRADCAM_IMAGES", str(folder))
    with pytest.raises(DeepvisError, match="lacks gc2.jpg, gc3.jpg, gc4.jpg, gc5.jpg"):
        settings.validate_settings()


def test_fashion_mnist_is_checked_where_training_reads_it(tmp_path, monkeypatch):
    monkeypatch.setattr("deepvis.data.prepare_keras_cache", prepare_keras_cache)  # the real one
    monkeypatch.setenv("DEEPVIS_FASHION_MNIST_DIR", str(tmp_path / "absent"))
    with pytest.raises(DeepvisError, match="DEEPVIS_FASHION_MNIST_DIR=.* is not a folder"):
        settings.validate_settings("train")
    (tmp_path / "some").mkdir()
    (tmp_path / "some" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")
    monkeypatch.setenv("DEEPVIS_FASHION_MNIST_DIR", str(tmp_path / "some"))
    with pytest.raises(DeepvisError, match="missing train-labels-idx1-ubyte.gz"):
        settings.validate_settings("train")


def test_a_broken_student_file_fails_the_report_but_not_the_training(project_home):
    (project_home / "student.toml").write_text('author = "Ada\n')
    with pytest.raises(DeepvisError, match="student.toml: not valid TOML"):
        settings.validate_settings()
    settings.validate_settings("train")


def test_the_report_needs_its_notebooks(project_home):
    (project_home / "notebooks" / "01_a.ipynb").unlink()
    with pytest.raises(DeepvisError, match="no notebooks named"):
        settings.validate_settings()


def test_exercise_2s_own_check_is_part_of_the_report_pre_flight(monkeypatch):
    def refuse():
        raise DeepvisError("a Grad-CAM setting is wrong")

    monkeypatch.setattr(settings, "validate_gradcam", refuse)
    with pytest.raises(DeepvisError, match="a Grad-CAM setting is wrong"):
        settings.validate_settings()
    settings.validate_settings("train")  # training does not read it


def test_the_report_command_checks_before_it_runs_anything(monkeypatch, capsys):
    monkeypatch.setattr(build, "quiet_terminal", lambda: None)  # keep pytest's stderr
    monkeypatch.setattr(build, "build", lambda *a, **k: pytest.fail("ran despite a bad setting"))
    monkeypatch.setenv("DEEPVIS_GRADCAM_MODEL", "bogus")
    assert build.main([]) == 2
    assert capsys.readouterr().err.startswith("error: DEEPVIS_GRADCAM_MODEL=bogus is not a")


def test_the_pre_flight_command_fails_in_one_line_without_a_traceback(project_home):
    env = {**os.environ, "DEEPVIS_GRADCAM_MODEL": "bogus"}
    done = subprocess.run(
        [sys.executable, "-m", "deepvis.report.settings"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: DEEPVIS_GRADCAM_MODEL=bogus is not a model; choose one of auto, vgg16, "
        "efficientnet-lite0"
    ]
