"""Fixtures of the Grad-CAM tests: a tiny conv -> GAP -> dense classifier and a batch for it."""

from __future__ import annotations

import keras
import numpy as np
import pytest

N_CLASSES = 5


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
