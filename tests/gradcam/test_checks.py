"""The randomisation sanity check, against expectations
known without the code (a toy whose class score depends only on one patch)."""

from __future__ import annotations

import numpy as np
import pytest

from deepvis.gradcam import checks, evaluation
from deepvis.gradcam.core import GradCAM
from tests.gradcam.conftest import tiny_model


class _Net6:
    """Stand-in for ImageNetModel at 6x6 for the tiny conftest model."""

    input_size = 6
    layer = "conv"

    def __init__(self, model):
        self.model = model

    def preprocess(self, images):
        return (np.asarray(images, np.float32) - 127.5) / 127.5

    def prepare(self, images):
        return self.preprocess(evaluation.network_images(self, images))


class _Identity:
    """ImageNetModel stand-in for the patch toy: 'prepare' scales (SIZE, SIZE, 3) to [0, 1]."""

    def __init__(self, model):
        self.model = model

    def prepare(self, images):
        return np.stack(images).astype(np.float32) / 255.0


def test_sanity_check_changes_the_map_and_leaves_model_alone(x):
    # Seed 3, not the cascade's 0: a model initialised with the cascade's seed would be
    # "re-initialised" to its own weights.
    model = tiny_model(seed=3)
    before = [w.copy() for w in model.get_weights()]
    steps = checks.sanity_check(GradCAM(model, "conv"), x[:1], steps=2)
    assert [s.name for s in steps] == ["trained", "dense", "conv"]
    assert steps[-1].layers == ("dense", "conv")
    assert steps[0].spearman == pytest.approx(1.0) and steps[0].ssim == pytest.approx(1.0)
    # Re-initialised weights give another map (a check whose maps never change fails here).
    assert not np.allclose(steps[-1].map, steps[0].map, atol=0.05)
    assert steps[-1].spearman < 0.9
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_spearman_and_top_iou_on_hand_made_maps():
    assert checks.spearman(np.zeros((2, 2)), np.arange(4.0)) == 0.0
    assert checks.spearman(np.arange(4.0), np.arange(4.0)) == pytest.approx(1.0)
    assert checks.spearman(np.arange(4.0), -np.arange(4.0)) == pytest.approx(-1.0)
    a = np.arange(10.0)  # top 20 %: positions 8, 9
    assert checks.top_iou(a, a) == 1.0
    assert checks.top_iou(a, a[::-1]) == 0.0  # top of the reverse: 0, 1
    b = a.copy()
    b[7], b[8] = 20.0, 0.0  # top: 7, 9 -> one of three positions shared
    assert checks.top_iou(a, b) == pytest.approx(1 / 3)


def test_randomisation_cascade_is_cumulative_on_a_copy(model):
    before = [w.copy() for w in model.get_weights()]
    states = [(name, done) for _, name, done in checks.randomisation_cascade(model, steps=2)]
    assert states == [("trained", ()), ("dense", ("dense",)), ("conv", ("dense", "conv"))]
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
