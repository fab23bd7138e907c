"""The public names of each subpackage, importable from its face, and the faces stay cheap."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

FACES = ["deepvis.cae", "deepvis.gradcam", "deepvis.gradcam.imagenet"]


def test_the_names_a_user_looks_for():
    from deepvis.cae import (
        CAEConfig,
        TrainedCAE,
        build_cae,
        cae_config,
        denoising_config,
        fit_or_load,
    )
    from deepvis.cae.config import CAEConfig as config_class
    from deepvis.cae.model import build_cae as build_function
    from deepvis.cae.train import TrainedCAE as trained_class
    from deepvis.cae.train import fit_or_load as fit_function
    from deepvis.gradcam import METHODS, CAMResult, GradCAM, load_image, load_model
    from deepvis.gradcam.core import CAMResult as result_class
    from deepvis.gradcam.core import GradCAM as cam_class
    from deepvis.gradcam.imagenet.models import load_model as model_function
    from deepvis.gradcam.images import load_image as image_function
    from deepvis.gradcam.methods import METHODS as methods_table

    assert (CAEConfig, build_cae, TrainedCAE, fit_or_load) == (
        config_class,
        build_function,
        trained_class,
        fit_function,
    )
    assert cae_config().name == "cae" and denoising_config().noise_std > 0
    assert (GradCAM, CAMResult, METHODS, load_image, load_model) == (
        cam_class,
        result_class,
        methods_table,
        image_function,
        model_function,
    )


@pytest.mark.parametrize("face", FACES)
def test_every_exported_name_resolves_to_its_defining_module(face):
    package = importlib.import_module(face)
    assert package.__all__ == sorted(set(package.__all__)) and package.__all__
    for name in package.__all__:
        value = getattr(package, name)
        defined_in = getattr(value, "__module__", None)
        if defined_in is not None and not isinstance(value, dict):
            assert defined_in.startswith(face), (name, defined_in)
        assert name in dir(package)


@pytest.mark.parametrize("face", FACES)
def test_no_export_hides_a_submodule(face):
    """``deepvis.cae.train`` must stay the module: an exported ``train`` would shadow it."""
    package = importlib.import_module(face)
    submodules = {m.name for m in pkgutil.iter_modules(package.__path__)}
    assert not submodules & set(package.__all__)
    for name in submodules - {"__main__"}:
        assert getattr(package, name).__name__ == f"{face}.{name}"


@pytest.mark.parametrize("face", FACES)
def test_unknown_names_raise_attribute_error(face):
    package = importlib.import_module(face)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        package.no_such_name  # noqa: B018
    assert not hasattr(package, "no_such_name")


def test_faces_and_config_import_without_tensorflow():
    """The Makefile imports the configuration at parse time: no TensorFlow, Keras or sklearn."""
    code = (
        "import sys, deepvis.cae.config, deepvis.cae, deepvis.gradcam, deepvis.gradcam.imagenet\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
