"""The evaluation table: deletion, insertion, ROAD and the sanity column."""

from __future__ import annotations

import numpy as np
import pytest

from deepvis.gradcam import evaluation
from deepvis.gradcam.core import GradCAM


class _Net:
    """Stand-in for ImageNetModel at 6x6: 'preprocess' scales [0, 255] to [-1, 1]."""

    input_size = 6
    layer = "conv"

    def __init__(self, model):
        self.model = model

    def preprocess(self, images):
        return (np.asarray(images, np.float32) - 127.5) / 127.5

    def prepare(self, images):
        return self.preprocess(evaluation.network_images(self, images))


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (9, 7, 3), dtype=np.uint8) for _ in range(2)]


def test_imputation_keeps_known_pixels_and_continues_a_linear_ramp():
    ramp = np.add.outer(np.arange(12.0), 2 * np.arange(10.0))[..., None].repeat(2, axis=2)
    keep = np.ones((12, 10), dtype=bool)
    keep[3:8, 2:7] = False  # an interior hole: the 8-neighbour mean is exact on a plane
    rng = np.random.default_rng(0)
    out = evaluation.impute(ramp, keep, rng, noise=0.0)
    np.testing.assert_allclose(out, ramp, atol=1e-4)
    noisy = evaluation.impute(np.zeros((12, 10, 1)), keep, rng, noise=1.0)
    assert np.all(noisy[keep] == 0) and 0.3 < noisy[~keep].std() < 3


def test_deletion_and_insertion_of_a_perfect_and_a_reversed_map(model):
    """A map that ranks the pixels by their effect on the score beats its own reverse."""
    net = _Net(model)
    cam = GradCAM(model, "conv")
    base = np.random.default_rng(1).uniform(0, 255, (6, 6, 3)).astype(np.float32)
    cls = np.array([0])
    good = GradCAM(model, "conv").compute(net.preprocess(base[None]), classes=[[0]]).raw[0]
    dele, ins = evaluation.deletion_insertion(cam, net, base, good, cls, steps=6)
    dele_r, ins_r = evaluation.deletion_insertion(cam, net, base, -good, cls, steps=6)
    assert dele.shape == ins.shape == (1,)
    assert 0 <= dele[0] <= 1 and 0 <= ins[0] <= 1
    assert dele[0] <= dele_r[0] and ins[0] >= ins_r[0]


def test_evaluate_table_has_every_method_the_baseline_and_units(model, images):
    net = _Net(model)
    table = evaluation.evaluate(net, images, methods=["gradcam", "layercam", "scorecam"], top=2)
    assert list(table.index) == ["Grad-CAM", "LayerCAM", "Score-CAM", "Random map"]
    assert list(table.columns) == list(evaluation.COLUMNS.values())
    assert all("(" in c and ")" in c for c in table.columns)  # units and direction
    assert table.loc["Random map", evaluation.COLUMNS["sanity"]] == 1.0
    assert np.isnan(table.loc["Score-CAM", evaluation.COLUMNS["sanity"]])
    auc = table[[evaluation.COLUMNS["deletion"], evaluation.COLUMNS["insertion"]]].to_numpy()
    assert np.all((auc >= 0) & (auc <= 1))


def test_evaluate_uses_given_maps(model, images):
    net = _Net(model)
    results = GradCAM(model, "conv").compute_all(net.prepare(images), ["gradcam"], top=1)
    again = evaluation.evaluate(net, images, results, methods=["gradcam"], top=1)
    flat = results["gradcam"]
    flipped = {"gradcam": type(flat)(**{**flat.__dict__, "raw": -flat.raw})}
    other = evaluation.evaluate(net, images, flipped, methods=["gradcam"], top=1)
    column = evaluation.COLUMNS["deletion"]
    assert again.loc["Grad-CAM", column] != other.loc["Grad-CAM", column]
    assert again.loc["Random map", column] == other.loc["Random map", column]


def test_sanity_correlations_one_per_image(model, x):
    rho = evaluation.sanity_correlations(GradCAM(model, "conv"), x, ["gradcam", "eigencam"], 2)
    assert set(rho) == {"gradcam", "eigencam"} and rho["gradcam"].shape == (3,)
    assert np.all(np.abs(rho["gradcam"]) <= 1)
