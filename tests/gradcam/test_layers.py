"""The measurements that choose the Grad-CAM layer, against hand-made gradients and a network
whose layer feeds global average pooling (where the gradient is constant by construction)."""

from __future__ import annotations

import numpy as np
import pytest

from deepvis.gradcam import layers
from deepvis.gradcam.core import GradCAM


def test_spread_is_zero_for_constant_and_one_for_zero_mean_gradients():
    constant = np.broadcast_to(np.array([1.0, -2.0, 3.0]), (4, 4, 3))
    assert layers.gradient_spread(constant) == pytest.approx(0.0)
    zero_mean = np.zeros((2, 2, 1))
    zero_mean[0, 0], zero_mean[1, 1] = 1.0, -1.0
    assert layers.gradient_spread(zero_mean) == pytest.approx(1.0)
    assert layers.gradient_spread(np.zeros((2, 2, 3))) == 0.0
    half = np.array([[[1.0], [3.0]]])  # mean 2, deviations +-1: energy 10, varying part 2
    assert layers.gradient_spread(half) == pytest.approx(np.sqrt(2 / 10))


def test_gradient_before_global_average_pooling_is_constant(model, x):
    """conv -> GAP -> dense: d y / d A_ij = w_k / (h w) everywhere, as in Lite0's last layer."""
    cam = GradCAM(model, "conv")
    grads = layers.class_gradients(cam, x, np.array([[0, 1]] * len(x)))
    assert grads.shape == (3, 2, 6, 6, 4)
    kernel = model.get_layer("dense").get_weights()[0]  # (4, 5)
    np.testing.assert_allclose(
        grads[:, 0], np.broadcast_to(kernel[:, 0] / 36, grads[:, 0].shape), rtol=1e-5
    )
    assert np.all(layers.gradient_spread(grads) < 1e-6)


def test_rank_agreement_of_identical_and_disjoint_maps():
    a = np.zeros((4, 4))
    a[0, :3] = 1.0  # top 20 % of 16 positions: 3
    b = np.zeros((4, 4))
    b[3, :3] = 1.0
    iou, rho = layers.rank_agreement(np.stack([a, a, b])[None])
    assert iou.shape == rho.shape == (1, 2)
    assert iou[0, 0] == 1.0 and iou[0, 1] == 0.0
    assert rho[0, 0] == pytest.approx(1.0)
