"""Exercise 2's settings are checked in one go, in one line, before anything runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deepvis.errors import DeepvisError
from deepvis.gradcam.settings import validate_settings
from deepvis.gradcam.testimages import COURSE_FILES

VARIABLES = ("DEEPVIS_GRADCAM_MODEL", "DEEPVIS_GRADCAM_IMAGES", "DEEPVIS_VGG16_WEIGHTS")


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _course(folder, names=COURSE_FILES):
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")  # only their presence is checked here
    return folder


def test_defaults_and_good_settings_pass(tmp_path, monkeypatch):
    assert validate_settings() is None
    monkeypatch.setenv("DEEPVIS_GRADCAM_MODEL", "vgg16")
    monkeypatch.setenv("DEEPVIS_GRADCAM_IMAGES", str(_course(tmp_path / "course")))
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"x")
    monkeypatch.setenv("DEEPVIS_VGG16_WEIGHTS", str(weights))
    assert validate_settings() is None


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEEPVIS_GRADCAM_MODEL", "bogus", "DEEPVIS_GRADCAM_MODEL=bogus is not a model"),
        ("DEEPVIS_GRADCAM_IMAGES", "{tmp}/nope", "is not a folder"),
        ("DEEPVIS_GRADCAM_IMAGES", "{tmp}/one", "lacks gc2.jpg, gc3.jpg, gc4.jpg, gc5.jpg"),
        ("DEEPVIS_VGG16_WEIGHTS", "{tmp}/missing.h5", "is not a file"),
    ],
)
def test_a_bad_setting_raises_one_line(tmp_path, monkeypatch, variable, value, message):
    _course(tmp_path / "one", ["gc1.jpg"])
    monkeypatch.setenv(variable, value.format(tmp=tmp_path))
    with pytest.raises(DeepvisError, match=message) as err:
        validate_settings()
    assert "\n" not in str(err.value)


def test_validation_loads_neither_tensorflow_nor_keras():
    code = (
        "import sys; from deepvis.gradcam.settings import validate_settings; validate_settings(); "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
