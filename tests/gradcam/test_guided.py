"""Guided Backprop and Guided Grad-CAM: identities, the guided copy, the sanity check."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from deepvis.gradcam import checks
from deepvis.gradcam.core import GradCAM
from deepvis.gradcam.guided import GuidedBackprop, GuidedGradCAM, guided_model, to_image

from .conftest import tiny_model


def _input_gradients(model, x, classes):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        scores = tf.gather(model(x), classes, batch_dims=1)
    return tape.gradient(scores, x).numpy()


def test_guided_backprop_is_the_gradient_with_positive_head_weights(model, x):
    """conv -> ReLU -> GAP -> dense: the guided ReLU passes relu'(z) ReLU(w_c) / 36 back, which
    is the plain gradient of the same network with its dense kernel clipped at zero."""
    result = GuidedBackprop(model).compute(x, top=2)
    clipped = tiny_model()
    clipped.set_weights(model.get_weights())
    dense = clipped.get_layer("dense")
    dense.set_weights([np.maximum(dense.kernel.numpy(), 0), dense.bias.numpy()])
    for j in range(2):
        expected = _input_gradients(clipped, x, result.classes[:, j])
        np.testing.assert_allclose(result.gradients[:, j], expected, atol=1e-6)
    assert result.maps.shape == (3, 2, 6, 6) and result.maps.max() <= 1.0


def test_guided_copy_keeps_outputs_and_shares_weights():
    from keras.applications import VGG16

    vgg = VGG16(
        weights=None, classifier_activation=None, input_shape=(32, 32, 3), include_top=False
    )
    guided = guided_model(vgg)
    assert sum(layer.name.endswith("_guided") for layer in guided.layers) == 13  # 13 conv ReLUs
    x = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(guided(x)), np.asarray(vgg(x)), atol=1e-5)
    assert vgg.get_layer("block1_conv1").activation is keras.activations.relu  # restored


def test_guided_relu6_blocks_where_capped():
    inputs = keras.Input((3,))
    outputs = keras.layers.ReLU(6.0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, use_bias=False)(outputs))
    model.layers[-1].set_weights([np.array([[1.0], [-1.0], [1.0]])])
    x = np.array([[1.0, 2.0, 7.0]], dtype=np.float32)  # inside, inside (negative w), capped
    result = GuidedBackprop(model).compute(x.reshape(1, 3), classes=[[0]])
    np.testing.assert_array_equal(result.gradients[0, 0], [1.0, 0.0, 0.0])


def test_guided_grad_cam_is_guided_backprop_times_the_map(model, x):
    result = GuidedGradCAM(model, "conv").compute(x, top=2)
    guided = GuidedBackprop(model).compute(x, classes=result.classes)
    cam = GradCAM(model, "conv").compute(x, classes=result.classes)  # 6x6 grid = 6x6 input
    np.testing.assert_allclose(result.gradients, guided.gradients * cam.maps[..., None], atol=1e-6)


def test_sanity_check_runs_on_guided_explanations(model, x):
    before = [w.copy() for w in model.get_weights()]
    for explainer in (GuidedBackprop(model), GuidedGradCAM(model, "conv")):
        steps = checks.sanity_check(explainer, x[:1], steps=2)
        assert [s.name for s in steps] == ["trained", "dense", "conv"]
        assert steps[1].map.shape == (6, 6) and all(-1 <= s.spearman <= 1 for s in steps)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_guided_backprop_fails_the_sanity_check_and_grad_cam_passes(lite0_net, test_images):
    """Adebayo et al.: Guided Backprop barely changes when the top layers are re-initialised."""
    x = lite0_net.prepare(test_images[:1])
    guided = checks.sanity_check(GuidedBackprop(lite0_net.model), x, steps=3)
    gradcam = checks.sanity_check(GradCAM(lite0_net.model, lite0_net.layer), x, steps=3)
    assert guided[-1].spearman > 0.9
    assert abs(gradcam[-1].spearman) < 0.5


def test_to_image_is_grey_for_zero_and_uint8():
    picture = to_image(np.zeros((4, 5, 3)))
    assert picture.dtype == np.uint8 and picture.shape == (4, 5, 3) and np.all(picture == 127)


def test_guided_grad_cam_upsamples_a_coarser_grid_bilinearly():
    """A 3x3 grid under a 6x6 input: each CAM map is enlarged x2 with bilinear interpolation
    (half-pixel centres, edges clamped) before it multiplies the guided gradients. Along each
    axis that is the matrix below, written out by hand."""
    keras.utils.set_random_seed(4)
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="coarse")(x)
    outputs = keras.layers.Dense(5)(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    x_in = np.random.default_rng(5).normal(size=(2, 6, 6, 3)).astype(np.float32)
    result = GuidedGradCAM(model, "coarse").compute(x_in, top=2)
    cam = GradCAM(model, "coarse").compute(x_in, classes=result.classes)
    guided = GuidedBackprop(model).compute(x_in, classes=result.classes)
    assert cam.maps.shape == (2, 2, 3, 3)
    up = np.array(
        [
            [1.0, 0.0, 0.0],
            [0.75, 0.25, 0.0],
            [0.25, 0.75, 0.0],
            [0.0, 0.75, 0.25],
            [0.0, 0.25, 0.75],
            [0.0, 0.0, 1.0],
        ]
    )
    big = np.einsum("Hh,nkhw,Ww->nkHW", up, cam.maps, up)  # (2, 2, 6, 6)
    assert not np.allclose(big[..., ::2, ::2], big[..., 1::2, 1::2])  # not a blocky repeat
    expected = guided.gradients * big[..., None]
    np.testing.assert_allclose(result.gradients, expected, atol=1e-6)
