"""Batch-norm folding: the same function and gradients, shared live weights, only safe pairs."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from deepvis.gradcam.core import GradCAM
from deepvis.gradcam.folding import FoldedConv, fold_batch_norm, foldable_pairs

from .conftest import N_CLASSES


def _randomise_batch_norms(model: keras.Model, seed: int) -> None:
    """Moving statistics, gamma and beta far from their initial 0/1, so folding is tested."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 2.0, gamma.shape), rng.normal(size=beta.shape),
                rng.normal(size=mean.shape), rng.uniform(0.2, 3.0, var.shape),
            ])


def bn_model(seed: int = 0) -> keras.Model:
    """conv -> BN -> ReLU6 -> depthwise (x2) -> BN -> 1x1 conv with bias -> BN, a residual add,
    a conv with two consumers (not foldable), then GAP -> Dense(5)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="conv_a")(inputs)
    x = keras.layers.ReLU(6.0)(keras.layers.BatchNormalization(name="bn_a")(x))
    x = keras.layers.DepthwiseConv2D(3, 2, "same", depth_multiplier=2, use_bias=False,
                                     name="dw_b")(x)
    x = keras.layers.BatchNormalization(name="bn_b")(x)
    y = keras.layers.Conv2D(8, 1, name="conv_c")(x)
    y = keras.layers.BatchNormalization(name="bn_c")(y)
    x = keras.layers.Add(name="add")([x, y])
    shared = keras.layers.Conv2D(8, 1, name="conv_d")(x)
    x = keras.layers.Add(name="add_d")(
        [keras.layers.BatchNormalization(name="bn_d")(shared), shared]
    )
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(N_CLASSES, name="dense")(x))
    _randomise_batch_norms(model, seed)
    return model


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(5).normal(size=(4, 8, 8, 3)).astype(np.float32)


def test_pairs_are_the_safe_ones():
    """Each conv feeding only its batch-norm folds; a conv with a second consumer does not."""
    model = bn_model()
    assert {conv: bn.name for conv, bn in foldable_pairs(model).items()} == {
        "conv_a": "bn_a", "dw_b": "bn_b", "conv_c": "bn_c"
    }
    assert set(foldable_pairs(model, keep=("dw_b",))) == {"conv_a", "conv_c"}


def test_same_function_same_names(x):
    """The folded model computes the same logits and keeps every layer name."""
    model = bn_model()
    folded = fold_batch_norm(model)
    np.testing.assert_allclose(folded(x), model(x, training=False), rtol=1e-5, atol=1e-5)
    names = [layer.name for layer in model.layers[1:]]  # after the (new) input layer
    assert [layer.name for layer in folded.layers[1:]] == names
    assert isinstance(folded.get_layer("dw_b"), FoldedConv)
    assert isinstance(folded.get_layer("bn_b"), keras.layers.Identity)
    assert type(folded.get_layer("conv_d")) is keras.layers.Conv2D  # two consumers: kept
    inner = keras.Model(model.input, model.get_layer("bn_b").output)
    np.testing.assert_allclose(
        keras.Model(folded.input, folded.get_layer("bn_b").output)(x), inner(x), atol=1e-5
    )


def test_folding_follows_the_original_weights(x):
    """The folded model shares the variables: re-initialising a layer in place changes both."""
    model = bn_model()
    folded = fold_batch_norm(model)
    before = np.asarray(folded(x))
    gamma, beta, mean, var = model.get_layer("bn_c").get_weights()
    model.get_layer("bn_c").set_weights([gamma * 3, beta + 1, mean, var])
    kernel, bias = model.get_layer("conv_c").get_weights()
    model.get_layer("conv_c").set_weights([-kernel, bias])
    after = np.asarray(folded(x))
    assert np.abs(after - before).max() > 1e-2
    np.testing.assert_allclose(after, model(x, training=False), rtol=1e-5, atol=1e-5)


def test_gradients_and_grad_cam_unchanged(x):
    """GradCAM folds its model; its maps equal a taped pass through the unfolded network."""
    model = bn_model()
    cam = GradCAM(model, "add")
    assert any(isinstance(layer, FoldedConv) for layer in cam.grad_model.layers)
    result = cam.compute(x, top=2)
    plain = keras.Model(model.input, [model.get_layer("add").output, model.output])
    with tf.GradientTape() as tape:
        features, logits = plain(x, training=False)
        scores = tf.gather(logits, result.classes[:, 1], batch_dims=1)
    alphas = tf.reduce_mean(tape.gradient(scores, features), axis=(1, 2))  # rank 2
    expected = np.maximum(np.einsum("nc,nhwc->nhw", alphas, features), 0)
    np.testing.assert_allclose(result.raw[:, 1], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cam.logits(x), model(x, training=False), rtol=1e-5, atol=1e-5)


def test_kept_layer_and_no_batch_norm():
    """A conv named in ``keep`` keeps its own output; a model without batch-norm is returned."""
    model = bn_model()
    folded = fold_batch_norm(model, keep=("conv_c",))
    assert type(folded.get_layer("conv_c")) is keras.layers.Conv2D
    assert type(folded.get_layer("bn_c")) is keras.layers.BatchNormalization
    plain = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3)])
    assert fold_batch_norm(plain) is plain
