"""The randomisation sanity check and the deletion (faithfulness) test."""

from __future__ import annotations

import numpy as np
import pytest

from deepvis.gradcam import checks
from deepvis.gradcam.core import GradCAM


def test_sanity_check_degrades_and_leaves_model_alone(model, x):
    before = [w.copy() for w in model.get_weights()]
    steps = checks.sanity_check(GradCAM(model, "conv"), x[:1], steps=2)
    assert [s.name for s in steps] == ["trained", "dense", "conv"]
    assert steps[0].spearman == 1.0 and all(-1 <= s.spearman <= 1 for s in steps)
    assert steps[-1].layers == ("dense", "conv")
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_spearman_of_constant_map_is_zero():
    assert checks.spearman(np.zeros((2, 2)), np.arange(4.0)) == 0.0
    assert checks.spearman(np.arange(4.0), np.arange(4.0)) == pytest.approx(1.0)


class _Net:
    """Minimal stand-in for ImageNetModel: 'prepare' is identity on a (6, 6, 3) image list."""

    def __init__(self, model):
        self.model = model

    def prepare(self, images):
        return np.stack(images).astype(np.float32) / 255.0


def test_faithfulness_shapes_and_original_probability(model):
    image = np.random.default_rng(0).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    heat = np.random.default_rng(1).random((2, 6, 6))
    result = checks.faithfulness(_Net(model), image, heat, [0, 3])
    logits = np.asarray(model(image[None].astype(np.float32) / 255.0))[0]
    probs = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(result.original, probs[[0, 3]], atol=1e-6)
    assert result.drop_salient.shape == result.drop_random.shape == (2,)


def test_faithfulness_table_has_one_row_per_image_and_rank(model):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (6, 6, 3), dtype=np.uint8) for _ in range(2)]
    heat = [rng.random((2, 6, 6)) for _ in range(2)]
    labels = [["a #1", "a #2"], ["b #1", "b #2"]]
    table = checks.faithfulness_table(_Net(model), images, heat, np.array([[0, 1], [2, 3]]), labels)
    assert list(table.index) == ["a #1", "a #2", "b #1", "b #2"]
    single = checks.faithfulness(_Net(model), images[1], heat[1], [2, 3], seed=1)
    np.testing.assert_allclose(table.loc[["b #1", "b #2"], "drop_salient"], single.drop_salient)


def test_randomisation_cascade_is_cumulative_on_a_copy(model):
    before = [w.copy() for w in model.get_weights()]
    states = [(name, done) for _, name, done in checks.randomisation_cascade(model, steps=2)]
    assert states == [("trained", ()), ("dense", ("dense",)), ("conv", ("dense", "conv"))]
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
