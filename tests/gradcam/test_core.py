"""GradCAM: the batched mechanism, checked against identities and a per-class loop."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from deepvis.errors import DeepvisError
from deepvis.gradcam import reference
from deepvis.gradcam.core import GradCAM

from .conftest import N_CLASSES, tiny_model


def test_cam_identity_on_conv_gap_dense(model, x):
    """With GAP then Dense, alpha_k^c = w_kc / (h w), so the map is ReLU(sum_k w_kc A^k) / (h w)."""
    result = GradCAM(model, "conv").compute(x, top=3)
    features = np.asarray(keras.Model(model.input, model.get_layer("conv").output)(x))
    weights = model.get_layer("dense").kernel.numpy()  # (C, classes)
    for n in range(len(x)):
        for j, c in enumerate(result.classes[n]):
            expected = np.maximum(features[n] @ weights[:, c], 0) / 36
            np.testing.assert_allclose(result.raw[n, j], expected, atol=1e-5)
            np.testing.assert_allclose(result.alphas[n, j], weights[:, c] / 36, atol=1e-7)
    logits = np.asarray(model(x))
    np.testing.assert_array_equal(result.classes, np.argsort(-logits, axis=1)[:, :3])
    np.testing.assert_allclose(result.scores, np.take_along_axis(logits, result.classes, 1), 1e-5)


def test_alphas_match_finite_differences():
    """alpha from the tape vs central differences of y^c in each feature map (non-linear head)."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((4, 4, 2))
    features = keras.layers.Conv2D(3, 3, padding="same", activation="tanh", name="conv")(inputs)
    head = keras.layers.Conv2D(2, 3, padding="same", activation="tanh")(features)
    logits = keras.layers.Dense(4)(keras.layers.Flatten()(head))
    model = keras.Model(inputs, logits)
    tail = keras.Model(features, logits)  # the network above the conv layer
    x = np.random.default_rng(2).normal(size=(1, 4, 4, 2)).astype(np.float32)
    result = GradCAM(model, "conv").compute(x, classes=[[2]])
    a = np.asarray(keras.Model(inputs, features)(x), dtype=np.float64)
    h = 1e-2
    for k in range(3):
        grad = np.zeros((4, 4))
        for i in range(4):
            for j in range(4):
                up, down = a.copy(), a.copy()
                up[0, i, j, k] += h
                down[0, i, j, k] -= h
                ys = np.asarray(tail(np.concatenate([up, down]).astype(np.float32)))[:, 2]
                grad[i, j] = (ys[0] - ys[1]) / (2 * h)
        np.testing.assert_allclose(result.alphas[0, 0, k], grad.mean(), atol=2e-4)


def test_batched_top_k_equals_per_class_loop(model, x):
    cam = GradCAM(model, "conv")
    batched = cam.compute(x, top=3)
    for n in range(len(x)):
        for j, c in enumerate(batched.classes[n]):
            single = cam.compute(x[n : n + 1], classes=[[c]])
            np.testing.assert_allclose(batched.raw[n, j], single.raw[0, 0], atol=1e-5)
            np.testing.assert_allclose(batched.maps[n, j], single.maps[0, 0], atol=1e-5)


def test_softmax_ending_uses_pre_softmax_scores(model, x):
    soft = tiny_model("softmax")
    soft.set_weights(model.get_weights())
    expected = GradCAM(model, "conv").compute(x, top=2)
    result = GradCAM(soft, "conv").compute(x, top=2)
    np.testing.assert_allclose(result.raw, expected.raw, atol=1e-6)
    np.testing.assert_allclose(result.probabilities, expected.probabilities, atol=1e-6)
    assert soft.get_layer("dense").activation is keras.activations.softmax  # restored


def _with_softmax_ending(model, ending):
    """`model` (ending in a linear Dense) followed by a separate softmax layer, same weights."""
    return keras.Model(model.input, ending(model.output))


@pytest.mark.parametrize(
    "ending",
    [keras.layers.Softmax, lambda: keras.layers.Activation("softmax")],
    ids=["Softmax", "Activation(softmax)"],
)
def test_a_softmax_layer_at_the_end_is_skipped(model, x, ending):
    """Grad-CAM differentiates the logits: the maps, scores and classes of conv -> GAP -> Dense
    -> softmax layer are those of the network without the softmax (the CAM identity holds)."""
    soft = _with_softmax_ending(model, ending())
    np.testing.assert_allclose(np.asarray(soft(x)).sum(axis=1), 1.0, atol=1e-5)  # really softmax
    cam = GradCAM(soft, "conv")
    assert cam.num_classes == N_CLASSES
    result = cam.compute(x, top=2)
    logits = np.asarray(model(x))
    np.testing.assert_allclose(result.scores, np.take_along_axis(logits, result.classes, 1), 1e-5)
    np.testing.assert_allclose(result.logits, logits, atol=1e-5)
    np.testing.assert_allclose(cam.logits(x), logits, atol=1e-5)
    features = np.asarray(keras.Model(model.input, model.get_layer("conv").output)(x))
    weights = model.get_layer("dense").kernel.numpy()
    for n in range(len(x)):
        for j, c in enumerate(result.classes[n]):
            expected = np.maximum(features[n] @ weights[:, c], 0) / 36
            np.testing.assert_allclose(result.raw[n, j], expected, atol=1e-5)
    probs = np.asarray(soft(x))
    np.testing.assert_allclose(
        result.probabilities, np.take_along_axis(probs, result.classes, 1), atol=1e-5
    )


def test_maps_are_normalised_and_zero_maps_are_reported(model, x):
    result = GradCAM(model, "conv").compute(x, top=N_CLASSES)
    assert np.all(np.isfinite(result.maps)) and result.maps.max() <= 1.0
    peaks = result.maps.max(axis=(2, 3))
    np.testing.assert_allclose(peaks[~result.zero], 1.0, atol=1e-6)
    dead = tiny_model()
    dead.get_layer("conv").set_weights([np.zeros((3, 3, 3, 4)), -np.ones(4)])  # ReLU kills all
    zero = GradCAM(dead, "conv").compute(x, top=2)
    assert zero.zero.all() and np.all(zero.maps == 0) and np.all(np.isfinite(zero.maps))


def test_vgg16_block5_conv3_map_is_14x14():
    """VGG-16's convolutions without its 124-million-weight dense head (average-pooled features
    stand in for the scores): block5_conv3 is 14x14 for a 224x224 input."""
    from keras.applications import VGG16

    vgg = VGG16(weights=None, include_top=False, pooling="avg", input_shape=(224, 224, 3))
    result = GradCAM(vgg, "block5_conv3").compute(np.zeros((1, 224, 224, 3), np.float32), top=1)
    assert result.maps.shape == (1, 1, 14, 14)


def test_unknown_layer_lists_conv_layers(model):
    with pytest.raises(DeepvisError, match="no layer 'nope'; its conv layers are: conv") as err:
        GradCAM(model, "nope")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["gap", "dense"])
def test_non_conv_layer_is_refused(model, name):
    with pytest.raises(DeepvisError, match="not a conv feature map"):
        GradCAM(model, name)


@pytest.mark.parametrize("classes", [[[N_CLASSES]], [[-1]]])
def test_class_index_out_of_range(model, x, classes):
    with pytest.raises(DeepvisError, match="out of range"):
        GradCAM(model, "conv").compute(x[:1], classes=classes)


@pytest.mark.parametrize("top", [0, N_CLASSES + 1])
def test_top_out_of_range(model, x, top):
    with pytest.raises(DeepvisError, match="top must be between 1 and 5"):
        GradCAM(model, "conv").compute(x, top=top)


@pytest.mark.parametrize("method", ["gradcam", "hirescam", "eigencam", "scorecam"])
def test_a_float64_model_gives_float64_maps_that_match_float32(model, x, method):
    """A model built in float64 runs end to end in float64 (the reference tests' way of taking
    float32 rounding out of a comparison); its maps are the float32 ones, more precisely."""
    with reference.float64_keras():
        model64 = tiny_model()
    model64.set_weights([w.astype(np.float64) for w in model.get_weights()])
    ours32 = GradCAM(model, "conv", method).compute(x, top=3)
    ours64 = GradCAM(model64, "conv", method).compute(x.astype(np.float64), top=3)
    assert ours32.raw.dtype == np.float32 and ours64.raw.dtype == np.float64
    assert ours64.logits.dtype == np.float64
    np.testing.assert_array_equal(ours64.classes, ours32.classes)
    np.testing.assert_allclose(ours64.raw, ours32.raw, rtol=1e-4, atol=1e-6)


def test_the_logits_function_is_traced_once_per_model(model, x):
    """Every GradCAM on one model shares its compiled logits; another model has its own."""
    first, second = GradCAM(model, "conv"), GradCAM(model, "conv", "hirescam")
    other = GradCAM(tiny_model(seed=1), "conv")
    assert first._forward is second._forward is not other._forward
    np.testing.assert_allclose(first.logits(x), np.asarray(model(x)), rtol=1e-5, atol=1e-6)
    assert not np.allclose(other.logits(x), first.logits(x))
