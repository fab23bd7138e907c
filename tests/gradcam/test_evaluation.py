"""The evaluation against expectations known without the code: a toy network whose class score
depends only on one known patch of the image.

The toy's class-0 logit is 8 (mean brightness inside `PATCH` - 0.5), brightness in [0, 1] (a bright
square on a dark image), its class-1 logit is 0: the class-0 probability falls exactly when the
patch darkens. So a map that marks the patch is the perfect explanation, the reversed map the
worst, and the expectations below (deleting the patch hurts more than any random region, MoRF
falls faster than LeRF, ...) follow from that construction alone.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from deepvis.gradcam import evaluation
from deepvis.gradcam.core import GradCAM
from tests.gradcam.conftest import StandInNet

SIZE = 24
PATCH = (slice(4, 12), slice(12, 20))  # 8 x 8 = 64 of 576 pixels (11 %)


def patch_model() -> keras.Model:
    """Image -> brightness (1x1 conv, fixed) -> times the patch mask -> GAP -> 2 logits."""
    inputs = keras.Input((SIZE, SIZE, 3))
    bright = keras.layers.Conv2D(1, 1, use_bias=False, name="conv")(inputs)
    mask = np.zeros((1, SIZE, SIZE, 1), np.float32)
    mask[0, PATCH[0], PATCH[1]] = 1.0
    masked = keras.layers.Rescaling(1.0, name="masked")(bright * mask)
    pooled = keras.layers.GlobalAveragePooling2D()(masked)
    logits = keras.layers.Dense(2, name="dense")(pooled)
    model = keras.Model(inputs, logits)
    model.get_layer("conv").set_weights([np.full((1, 1, 3, 1), 1 / 3, np.float32)])
    area = SIZE * SIZE / 64  # GAP divides by all positions: rescale to the patch's mean
    model.get_layer("dense").set_weights(
        [np.array([[8.0 * area, 0.0]], np.float32), np.array([-4.0, 0.0])]
    )
    return model


@pytest.fixture(scope="module")
def toy():
    return patch_model()


@pytest.fixture(scope="module")
def image():
    """Dark textured background (values 0..60), the patch bright (200..255)."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 60, (SIZE, SIZE, 3)).astype(np.float32)
    img[PATCH] = rng.integers(200, 256, (8, 8, 3))
    return img


def patch_map(noise_seed=0):
    """The perfect saliency: 1 on the patch, small noise elsewhere (a strict order)."""
    heat = np.random.default_rng(noise_seed).uniform(0, 0.1, (SIZE, SIZE)).astype(np.float32)
    heat[PATCH] = 1.0
    return heat


def probability(toy, img):
    logits = np.asarray(toy(np.asarray(img, np.float32)[None] / 255.0))[0]
    return float(np.exp(logits[0]) / np.exp(logits).sum())


def test_the_toy_depends_on_the_patch_only(toy, image):
    darker = image.copy()
    darker[PATCH] *= 0.5
    outside = image.copy()
    outside[20:, :4] = 255.0  # far from the patch
    assert probability(toy, darker) < probability(toy, image) - 0.1
    assert probability(toy, outside) == pytest.approx(probability(toy, image), abs=1e-6)


def test_grad_cam_of_the_toy_marks_the_patch(toy, image):
    maps = GradCAM(toy, "masked").compute(image[None] / 255.0, classes=[[0]]).maps[0, 0]
    assert (
        maps[PATCH].min() > 0.5
        and np.delete(
            maps.ravel(), np.flatnonzero(np.pad(np.ones((8, 8)), ((4, 12), (12, 4))).ravel())
        ).max()
        == 0
    )


def test_deletion_and_insertion_rank_the_perfect_map_first(toy, image):
    net, cam = StandInNet(toy, "masked", SIZE), GradCAM(toy, "masked")
    cls = np.array([0])
    good = patch_map()[None]
    dele, ins = evaluation.deletion_insertion(cam, net, image, good, cls, steps=8)
    dele_bad, ins_bad = evaluation.deletion_insertion(cam, net, image, -good, cls, steps=8)
    randoms = [
        evaluation.deletion_insertion(
            cam,
            net,
            image,
            evaluation.upsample(evaluation.random_maps((1, 1, 6, 6), s), SIZE)[0],
            cls,
            steps=8,
        )
        for s in range(5)
    ]
    # Deleting most-salient-first removes the patch in the first step: the lowest curve.
    assert dele[0] < min(d[0] for d, _ in randoms) and dele[0] < dele_bad[0]
    assert ins[0] > max(i[0] for _, i in randoms) and ins[0] > ins_bad[0]


def test_road_morf_falls_faster_than_lerf(toy, image):
    net, cam = StandInNet(toy, "masked", SIZE), GradCAM(toy, "masked")
    morf, lerf = evaluation.road(cam, net, image, patch_map()[None], np.array([0]), [0.2])
    # MoRF imputes the patch from its dark surroundings: a large drop; LeRF removes only
    # background pixels, which the class score ignores: no change.
    assert morf[0] < -0.2
    assert lerf[0] == pytest.approx(0.0, abs=1e-3)


def test_evaluate_puts_the_perfect_map_ahead_of_the_random_baseline(toy, image):
    """Through `evaluate`, with the toy's own Grad-CAM maps (which mark the patch)."""
    net = StandInNet(toy, "masked", SIZE)
    img = np.uint8(image)
    table = evaluation.evaluate(
        net, [img], methods=["gradcam"], top=1, steps=8, sanity_steps=1, random_draws=3
    )
    col = evaluation.COLUMNS
    row, rand, sd = (table.loc[n] for n in ("Grad-CAM", evaluation.RANDOM, evaluation.RANDOM_SD))
    assert row[col["deletion"]] < rand[col["deletion"]] - 2 * sd[col["deletion"]]
    assert row[col["insertion"]] > rand[col["insertion"]] + 2 * sd[col["insertion"]]
    assert row[col["morf"]] < row[col["lerf"]]
    assert sd[col["deletion"]] > 0  # the draws differ
    assert rand[col["sanity"]] == 1.0


def test_sanity_column_is_the_absolute_rho(monkeypatch, toy, image):
    net = StandInNet(toy, "masked", SIZE)
    monkeypatch.setattr(
        evaluation, "sanity_correlations", lambda *a, **k: {"gradcam": np.array([-0.6])}
    )
    table = evaluation.evaluate(
        net, [np.uint8(image)], methods=["gradcam"], top=1, steps=2, random_draws=1
    )
    assert table.loc["Grad-CAM", evaluation.COLUMNS["sanity"]] == pytest.approx(0.6)


def test_imputation_keeps_known_pixels_and_continues_a_linear_ramp():
    ramp = np.add.outer(np.arange(12.0), 2 * np.arange(10.0))[..., None].repeat(2, axis=2)
    keep = np.ones((12, 10), dtype=bool)
    keep[3:8, 2:7] = False  # an interior hole: the 8-neighbour mean is exact on a plane
    rng = np.random.default_rng(0)
    out = evaluation.impute(ramp, keep, rng, noise=0.0)
    np.testing.assert_allclose(out, ramp, atol=1e-4)
    noisy = evaluation.impute(np.zeros((12, 10, 1)), keep, rng, noise=1.0)
    assert np.all(noisy[keep] == 0) and 0.3 < noisy[~keep].std() < 3


def test_evaluate_table_has_every_method_the_baseline_and_units(model):
    from tests.gradcam.test_checks import _Net6

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (9, 7, 3), dtype=np.uint8) for _ in range(2)]
    table = evaluation.evaluate(_Net6(model), images, methods=["gradcam", "scorecam"], top=2)
    assert list(table.index) == ["Grad-CAM", "Score-CAM", evaluation.RANDOM, evaluation.RANDOM_SD]
    assert list(table.columns) == list(evaluation.COLUMNS.values())
    assert np.isnan(table.loc["Score-CAM", evaluation.COLUMNS["sanity"]])
