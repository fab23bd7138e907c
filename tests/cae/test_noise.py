"""Gaussian noise of the denoising CAE: statistics, reproducibility, inputs left alone."""

import numpy as np
import pytest

from deepvis.cae.config import CAEConfig
from deepvis.cae.noise import TEST_STREAM, add_gaussian, noisy_test_set


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 1, size=(500, 28, 28, 1)).astype(np.float32)


def test_noise_is_standard_normal_on_a_large_sample():
    x = np.zeros((1000, 28, 28, 1), dtype=np.float32)  # 784,000 draws
    noise = add_gaussian(x, 1.0, seed=3)
    assert abs(noise.mean()) < 0.005
    assert abs(noise.std() - 1.0) < 0.005


def test_std_scales_the_noise(images):
    diff = add_gaussian(images, 0.25, seed=0) - images
    assert diff.std() == pytest.approx(0.25, rel=0.01)


def test_input_is_untouched_and_output_is_a_new_float32_array(images):
    before = images.copy()
    noisy = add_gaussian(images, 1.0, seed=0)
    np.testing.assert_array_equal(images, before)
    assert noisy.dtype == np.float32 and noisy.shape == images.shape
    assert not np.shares_memory(noisy, images)


def test_same_seed_same_noise_other_seed_other_noise(images):
    np.testing.assert_array_equal(
        add_gaussian(images, seed=(0, 5)), add_gaussian(images, seed=(0, 5))
    )
    assert not np.allclose(add_gaussian(images, seed=(0, 5)), add_gaussian(images, seed=(0, 6)))


def test_no_clipping_by_default_and_clipping_on_request(images):
    assert add_gaussian(images, 1.0, seed=0).min() < -1
    clipped = add_gaussian(images, 1.0, seed=0, clip=True)
    assert clipped.min() == 0.0 and clipped.max() == 1.0


def test_zero_std_is_identity_and_negative_std_is_rejected(images):
    np.testing.assert_array_equal(add_gaussian(images, 0.0, seed=0), images)
    with pytest.raises(ValueError, match="std"):
        add_gaussian(images, -1.0)


def test_test_set_is_fixed_by_its_seed(images):
    config = CAEConfig(noise_std=1.0, seed=0)
    a, b = noisy_test_set(images, config), noisy_test_set(images, config)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, noisy_test_set(images, CAEConfig(noise_std=1.0, seed=1)))
    np.testing.assert_array_equal(a, add_gaussian(images, 1.0, seed=(0, TEST_STREAM)))
    clipped = noisy_test_set(images, CAEConfig(noise_std=1.0, noise_clip=True))
    assert clipped.min() == 0.0 and clipped.max() == 1.0
