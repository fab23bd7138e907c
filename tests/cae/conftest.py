"""Fixtures of the CAE tests."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def images() -> tuple[np.ndarray, np.ndarray]:
    """512 training and 128 test images: smooth blobs in [0, 1], learnable and fast to make."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:28, :28]
    centres = rng.uniform(8, 20, size=(640, 2))
    x = np.exp(-((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2) / 30.0)
    x = x.astype("float32")[..., None]
    return x[:512], x[512:]
