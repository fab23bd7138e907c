"""Additive Gaussian noise for the denoising CAE (Exercise 1, step 3), seeded and reproducible.

These functions make the fixed noisy test set and the noisy images of the notebooks; during
training the noise comes from Keras' `GaussianNoise` layer (`deepvis.cae.train.training_model`).
"""

from __future__ import annotations

import numpy as np

from deepvis.cae.config import CAEConfig

#: Second seed word of the fixed noisy *test* set, apart from any other use of the same seed.
TEST_STREAM = 2**31 - 1


def add_gaussian(
    x: np.ndarray, std: float = 1.0, *, seed: int | tuple[int, ...] = 0, clip: bool = False
) -> np.ndarray:
    """Return ``x + N(0, std^2)`` noise as a new float32 array; `x` is left untouched.

    Parameters
    ----------
    x : images, any shape, float in [0, 1].
    std : standard deviation of the noise, in pixel units (the assignment's N(0, 1) is 1.0).
    seed : an int or a tuple of ints (e.g. ``(seed, epoch)``); the same seed gives the same noise.
    clip : clip the result to [0, 1]. Off by default: the assignment adds N(0, 1) noise and says
        nothing of clipping, and clipping shifts the mean of the black background by about +0.32
        (E[clip(z, 0, 1)] for z ~ N(0, 1)).
    """
    if std < 0:
        raise ValueError(f"noise std must be >= 0, got {std}")
    rng = np.random.default_rng(seed)
    noisy = np.asarray(x, dtype=np.float32) + rng.standard_normal(
        np.shape(x), dtype=np.float32
    ) * np.float32(std)
    return np.clip(noisy, 0.0, 1.0) if clip else noisy


def noisy_test_set(x_test: np.ndarray, config: CAEConfig) -> np.ndarray:
    """The fixed noisy copy of the test images for `config`: its ``noise_std``, ``noise_clip``
    and ``seed`` (the noise stream ``(seed, TEST_STREAM)``, apart from any other use of it)."""
    return add_gaussian(
        x_test, config.noise_std, seed=(config.seed, TEST_STREAM), clip=config.noise_clip
    )
