"""The CAM family: identities between methods, Score-CAM against a plain loop, the API."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from deepvis.errors import DeepvisError
from deepvis.gradcam.core import GradCAM
from deepvis.gradcam.methods import CAM_METHODS, METHODS

from .conftest import tiny_model

GRADIENT_METHODS = [name for name, m in METHODS.items() if m.gradients]


def _features(model, x, layer="conv"):
    return np.asarray(keras.Model(model.input, model.get_layer(layer).output)(x))


def _scaled(maps):
    """Each map divided by its max (zero maps stay zero)."""
    peak = maps.max(axis=(-2, -1), keepdims=True)
    return maps / np.where(peak > 0, peak, 1)


def test_gradcam_hirescam_xgradcam_and_cam_coincide_on_conv_gap_dense(model, x):
    """With GAP then Dense, d y^c / d A is w_c / (h w) everywhere: all four give ReLU(sum w_c A)."""
    results = GradCAM(model, "conv").compute_all(x, ["gradcam", "hirescam", "xgradcam"], top=3)
    features = _features(model, x)
    weights = model.get_layer("dense").kernel.numpy()
    classes = results["gradcam"].classes
    cam = np.maximum(np.einsum("nhwc,cnk->nkhw", features, weights[:, classes]), 0)
    for name, result in results.items():
        np.testing.assert_allclose(result.maps, _scaled(cam), atol=1e-5, err_msg=name)


def test_at_lite0s_grad_cam_layer_grad_cam_is_cam(lite0_net, test_images):
    """Lite0's Grad-CAM layer, top_activation (7x7), feeds GAP then the dense head: the gradient
    is w^c_k / 49 at every position, equation (1) gives alpha^c_k = w^c_k / 49, and Grad-CAM =
    HiResCAM = CAM computed from the dense weights (the Grad-CAM paper's special case)."""
    assert lite0_net.layer == "top_activation"
    x = lite0_net.prepare(test_images)
    results = GradCAM(lite0_net.model, lite0_net.layer).compute_all(x, ["gradcam", "hirescam"])
    features = _features(lite0_net.model, x, lite0_net.layer)
    weights = lite0_net.model.get_layer("logits").kernel.numpy()  # (1280, 1000)
    classes = results["gradcam"].classes
    alphas = weights[:, classes].transpose(1, 2, 0) / 49  # (N, k, 1280)
    np.testing.assert_allclose(results["gradcam"].alphas, alphas, rtol=1e-5, atol=1e-12)
    cam = np.maximum(np.einsum("nhwc,cnk->nkhw", features, weights[:, classes]), 0)
    np.testing.assert_allclose(results["gradcam"].maps, _scaled(cam), atol=1e-4)
    np.testing.assert_allclose(results["hirescam"].maps, _scaled(cam), atol=1e-4)
    ratio = results["gradcam"].raw / np.where(cam > 0, cam, np.nan)  # scale: 1 / (7 x 7)
    np.testing.assert_allclose(ratio[np.isfinite(ratio) & (cam > 1e-3)], 1 / 49, rtol=1e-3)


def test_compute_all_equals_one_method_at_a_time(model, x):
    cam = GradCAM(model, "conv")
    together = cam.compute_all(x, list(METHODS), top=2)
    for name in METHODS:
        alone = GradCAM(model, "conv", name).compute(x, top=2)
        assert alone.method == name
        np.testing.assert_allclose(together[name].raw, alone.raw, atol=1e-6, err_msg=name)
        np.testing.assert_array_equal(together[name].classes, alone.classes)


def test_counterfactual_is_grad_cam_of_the_negated_head(model, x):
    result = GradCAM(model, "conv", "counterfactual").compute(x, top=2)
    features = _features(model, x)
    weights = model.get_layer("dense").kernel.numpy()
    expected = np.maximum(-np.einsum("nhwc,cnk->nkhw", features, weights[:, result.classes]), 0)
    np.testing.assert_allclose(result.raw, expected / 36, atol=1e-6)


def test_map_methods_have_no_channel_weights_and_eigencam_ignores_the_class(model, x):
    results = GradCAM(model, "conv").compute_all(x, ["hirescam", "eigencam", "gradcam"], top=3)
    assert np.isnan(results["hirescam"].alphas).all()
    assert not np.isnan(results["gradcam"].alphas).any()
    eigen = results["eigencam"].raw
    np.testing.assert_array_equal(eigen[:, 0], eigen[:, 2])


def test_eigencam_is_the_first_principal_component(model, x):
    result = GradCAM(model, "conv", "eigencam").compute(x, top=1)
    features = _features(model, x).astype(np.float64)
    for n in range(len(x)):
        rows = features[n].reshape(36, -1)
        rows -= rows.mean(axis=0)
        _, _, vt = np.linalg.svd(rows)
        projection = (rows @ vt[0]).reshape(6, 6)
        np.testing.assert_allclose(result.raw[n, 0], np.maximum(projection, 0), atol=1e-4)


def _score_cam_loop(model, x, classes, layer="conv"):
    """Score-CAM the slow way: one masked image at a time, every channel (the paper's loop)."""
    features = _features(model, x, layer)
    maps = np.zeros((len(x), classes.shape[1]) + features.shape[1:3])
    assert features.shape[1:3] == x.shape[1:3]  # grid == input: upsampling is the identity
    for n in range(len(x)):
        scores = []
        for c in range(features.shape[-1]):
            up = features[n, :, :, c]
            mask = (up - up.min()) / (up.max() - up.min() + 1e-8)
            scores.append(np.asarray(model(x[n : n + 1] * mask[None, :, :, None]))[0])
        scores = np.asarray(scores, dtype=np.float64)  # (C, classes)
        for j, cls in enumerate(classes[n]):
            w = np.exp(scores[:, cls] - scores[:, cls].max())
            w /= w.sum()
            maps[n, j] = np.maximum(np.einsum("hwc,c->hw", features[n], w), 0)
    return maps


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_score_cam_equals_the_per_channel_loop(model, x, batch_size):
    result = GradCAM(model, "conv", "scorecam", batch_size=batch_size).compute(x, top=2)
    expected = _score_cam_loop(model, x, result.classes)
    np.testing.assert_allclose(result.raw, expected, atol=1e-5)
    np.testing.assert_allclose(result.alphas.sum(axis=-1), 1.0, atol=1e-5)  # a softmax


def test_score_cam_upsamples_with_corners_aligned():
    """A 3x3 grid under a 6x6 input: the masks are the grid upsampled as torch's align_corners."""
    from deepvis.gradcam.core import _align_corners

    matrix = _align_corners(3, 5)
    np.testing.assert_allclose(matrix @ np.array([0.0, 1.0, 4.0]), [0, 0.5, 1, 2.5, 4])
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 3))
    feats = keras.layers.Conv2D(4, 2, strides=2, activation="relu", name="conv")(inputs)
    out = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(feats))
    model = keras.Model(inputs, out)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype(np.float32)
    result = GradCAM(model, "conv", "scorecam").compute(x, top=1)
    features = _features(model, x)
    rows = _align_corners(3, 6)
    n, c = 1, int(np.argmax(features[1].max(axis=(0, 1)) - features[1].min(axis=(0, 1))))
    up = rows @ features[n, :, :, c] @ rows.T
    mask = (up - up.min()) / (up.max() - up.min() + 1e-8)
    assert mask.shape == (6, 6) and mask.min() == 0 and mask.max() == pytest.approx(1.0)
    assert result.raw.shape == (2, 1, 3, 3)


def test_unknown_method_lists_the_choices(model):
    with pytest.raises(
        DeepvisError, match=r"unknown CAM method 'gradcam\+'; choose one of gradcam"
    ):
        GradCAM(model, "conv", "gradcam+")


def test_every_cam_method_gives_normalised_maps(model, x):
    results = GradCAM(model, "conv").compute_all(x, CAM_METHODS, top=2)
    for name, result in results.items():
        assert result.maps.shape == (3, 2, 6, 6), name
        assert np.all(result.maps >= 0) and np.all(result.maps <= 1), name
        assert np.all(np.isfinite(result.maps)), name


def test_rebuild_keeps_method_and_layer(model):
    other = tiny_model(seed=4)
    cam = GradCAM(model, "conv", "layercam", batch_size=5).rebuild(other)
    assert (cam.model, cam.layer_name, cam.method, cam.batch_size) == (other, "conv", "layercam", 5)
