"""The randomisation sanity check and the deletion (faithfulness) test, against expectations
known without the code (a toy whose class score depends only on one patch)."""

from __future__ import annotations

import numpy as np
import pytest

from deepvis.gradcam import checks, evaluation
from deepvis.gradcam.core import GradCAM
from tests.gradcam.conftest import tiny_model
from tests.gradcam.test_evaluation import PATCH, SIZE, patch_map, patch_model


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
    assert steps[0].spearman == 1.0
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


def test_random_regions_are_rectangles_of_the_asked_area():
    masks = checks.random_regions((30, 40), 240, 20, np.random.default_rng(0))
    assert masks.shape == (20, 30, 40) and (masks.sum(axis=(1, 2)) == 240).all()
    for mask in masks:
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        assert np.ptp(rows) + 1 <= 15 and np.ptp(cols) + 1 <= 20  # about 0.45 of each side
        assert mask[rows.min() : rows.max(), cols.min() : cols.max() + 1].all()  # contiguous
    assert len({m.tobytes() for m in masks}) > 10  # positions vary


def test_deleting_the_patch_hurts_more_than_any_random_region():
    toy = patch_model()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 60, (SIZE, SIZE, 3)).astype(np.uint8)
    image[PATCH] = 255
    result = checks.faithfulness(
        _Identity(toy), image, patch_map()[None], [0], fraction=64 / 576, draws=20
    )
    assert result.drop_random.shape == (1, 20)
    assert result.drop_salient[0] > 0.005  # a light blur (radius 24 / 40 px)
    assert result.drop_salient[0] > result.drop_random.max()
    assert result.wins[0]
    # The reversed map blurs the background only: no drop, no win.
    reversed_ = checks.faithfulness(
        _Identity(toy), image, -patch_map()[None], [0], fraction=64 / 576, draws=20
    )
    assert reversed_.drop_salient[0] == pytest.approx(0.0, abs=1e-6) and not reversed_.wins[0]


def test_faithfulness_table_rows_and_spread(model):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (6, 6, 3), dtype=np.uint8) for _ in range(2)]
    heat = [rng.random((2, 6, 6)) for _ in range(2)]
    labels = [["a #1", "a #2"], ["b #1", "b #2"]]
    table = checks.faithfulness_table(
        _Identity(model), images, heat, np.array([[0, 1], [2, 3]]), labels, draws=4
    )
    assert list(table.index) == ["a #1", "a #2", "b #1", "b #2"]
    single = checks.faithfulness(_Identity(model), images[1], heat[1], [2, 3], seed=1, draws=4)
    np.testing.assert_allclose(table.loc[["b #1", "b #2"], "drop_salient"], single.drop_salient)
    np.testing.assert_allclose(
        table.loc[["b #1", "b #2"], "random_max"], single.drop_random.max(axis=1)
    )


def test_randomisation_cascade_is_cumulative_on_a_copy(model):
    before = [w.copy() for w in model.get_weights()]
    states = [(name, done) for _, name, done in checks.randomisation_cascade(model, steps=2)]
    assert states == [("trained", ()), ("dense", ("dense",)), ("conv", ("dense", "conv"))]
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_the_random_baseline_blurs_the_regions_of_random_regions(monkeypatch):
    """Blurring the region `random_regions` gives (here: the patch itself) drops the
    probability exactly as much as blurring the salient patch."""
    toy = patch_model()
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    image[PATCH] = 255
    patch = np.zeros((SIZE, SIZE), bool)
    patch[PATCH] = True
    monkeypatch.setattr(checks, "random_regions", lambda shape, count, draws, rng: patch[None])
    result = checks.faithfulness(
        _Identity(toy), image, patch_map()[None], [0], fraction=64 / 576, draws=1
    )
    np.testing.assert_allclose(result.drop_random[:, 0], result.drop_salient, atol=1e-6)
