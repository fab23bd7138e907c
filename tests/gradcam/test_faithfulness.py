"""The logit-drop faithfulness test against answers known without the code.

The toy network's class-0 logit is the sum of the pixels' brightness (channel mean / 255) over a
known 8 x 8 region, divided by `SCALE`; its class-1 logit is 0. So removing pixels outside the
region changes nothing, removing region pixels with the mean colour lowers the logit by exactly
``sum (brightness - mean colour's brightness) / SCALE`` over them, and the map that marks the
region is the best possible: no other set of as many pixels holds more of it. The toy's
Grad-CAM layer is a 6 x 6 grid (4 x 4 pixel cells) aligned with the region.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from deepvis.errors import DeepvisError
from deepvis.gradcam import evaluation, pointing
from deepvis.gradcam import faithfulness as faith
from deepvis.gradcam.core import GradCAM
from tests.gradcam.conftest import StandInNet

SIZE = 24
GRID = (6, 6)
REGION = (slice(4, 12), slice(12, 20))  # grid cells rows 1-2, columns 3-4; 64 of 576 pixels
SHARE = 64 / SIZE**2
SCALE = 16.0
MEAN_BRIGHTNESS = float(evaluation.MEAN_RGB.mean()) / 255.0


def region_model() -> keras.Model:
    """Image -> brightness (1x1 conv) -> times the region mask -> 4x4 average pool ("grid",
    6x6) -> global average -> 2 logits: class 0 the region's brightness sum / SCALE."""
    inputs = keras.Input((SIZE, SIZE, 3))
    bright = keras.layers.Conv2D(1, 1, use_bias=False, name="conv")(inputs)
    mask = np.zeros((1, SIZE, SIZE, 1), np.float32)
    mask[0, REGION[0], REGION[1]] = 1.0
    grid = keras.layers.AveragePooling2D(4, name="grid")(bright * mask)
    pooled = keras.layers.GlobalAveragePooling2D()(grid)
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(pooled))
    model.get_layer("conv").set_weights([np.full((1, 1, 3, 1), 1 / 3, np.float32)])
    weight = SIZE * SIZE / SCALE  # the pooling averages over all pixels: back to a sum
    model.get_layer("dense").set_weights(
        [np.array([[weight, 0.0]], np.float32), np.zeros(2, np.float32)]
    )
    return model


@pytest.fixture(scope="module")
def net():
    return StandInNet(region_model(), "grid", SIZE)


@pytest.fixture(scope="module")
def cam(net):
    return GradCAM(net.model, "grid")


@pytest.fixture(scope="module")
def image():
    """Dark textured background (0..60), the region bright (200..255): float RGB."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 61, (SIZE, SIZE, 3)).astype(np.float32)
    img[REGION] = rng.integers(200, 256, (8, 8, 3))
    return img


def region_grid() -> np.ndarray:
    """The perfect map on the grid: 1 on the region's four cells, 0 elsewhere."""
    grid = np.zeros(GRID, np.float32)
    grid[1:3, 3:5] = 1.0
    return grid


def logit(img: np.ndarray) -> float:
    """The toy's class-0 logit, by hand."""
    return float(img[REGION].mean(axis=-1).sum() / 255.0 / SCALE)


def mean_fill_drop(img: np.ndarray, removed: np.ndarray) -> float:
    """The class-0 logit drop when ``removed`` pixels become the mean colour, by hand."""
    inside = np.zeros((SIZE, SIZE), bool)
    inside[REGION] = True
    gain = img.mean(axis=-1) / 255.0 - MEAN_BRIGHTNESS
    return float(gain[removed & inside].sum() / SCALE)


def scores(cam, net, image, grids, fractions, **kw):
    maps = {name: g[None, None] for name, g in grids.items()}
    return faith.removal_scores(cam, net, image[None], maps, np.array([[0]]), fractions, **kw)


# --------------------------------------------------------------------------- masks


def test_random_maps_lie_on_the_grid_and_remove_exactly_the_fraction():
    grids = faith.random_grid(20, (7, 7), seed=3)
    assert grids.shape == (20, 7, 7) and grids.min() >= 0 and grids.max() < 1
    assert not np.allclose(grids[0], grids[1])
    heat = evaluation.upsample(grids[None], 224)[0]
    ties = faith.tie_order(224)
    for one in heat[:5]:
        for most in (True, False):
            masks = faith.removal_masks(one, [0.1, 0.25, 0.9], most, ties)
            assert [int(m.sum()) for m in masks] == [5018, 12544, 45158]
            assert (masks[0] <= masks[1]).all() and (masks[1] <= masks[2]).all()  # nested
            for m in masks:
                if most:
                    assert one[m].min() >= one[~m].max()
                else:
                    assert one[m].max() <= one[~m].min()


def test_ties_are_broken_by_the_fixed_permutation_not_by_position():
    flat = np.zeros((SIZE, SIZE))
    ties = faith.tie_order(SIZE, seed=1)
    mask = faith.removal_masks(flat, [0.25], True, ties)[0]
    assert mask.sum() == SIZE * SIZE // 4
    assert mask[: SIZE // 4].mean() < 0.5  # not the top rows first
    np.testing.assert_array_equal(mask.ravel(), ties < SIZE * SIZE // 4)


def test_the_region_map_removes_exactly_the_region_at_its_share():
    heat = evaluation.upsample(region_grid()[None, None], SIZE)[0, 0]
    mask = faith.removal_masks(heat, [SHARE], True, faith.tie_order(SIZE))[0]
    expected = np.zeros((SIZE, SIZE), bool)
    expected[REGION] = True
    np.testing.assert_array_equal(mask, expected)


# --------------------------------------------------------------------------- the toy


def test_the_toy_logit_is_the_region_sum(net, image):
    z = np.asarray(net.model(image[None] / 255.0))[0]
    assert z[0] == pytest.approx(logit(image), rel=1e-5) and z[1] == 0.0


def test_mean_fill_drops_are_the_hand_computed_sums(cam, net, image):
    grids = {"gradcam": region_grid(), "layercam": 1.0 - region_grid()}
    frame = scores(cam, net, image, grids, [SHARE, 0.3], imputation="mean", draws=6, seed=2)
    ties = faith.tie_order(SIZE, seed=2)
    noise = evaluation.upsample(faith.random_grid(6, GRID, seed=2)[None], SIZE)[0]
    up = {k: evaluation.upsample(g[None, None], SIZE)[0, 0] for k, g in grids.items()}
    for row in frame.itertuples():
        heat = noise[row.draw] if row.method == faith.RANDOM else up[row.method]
        removed = faith.removal_masks(heat, [row.fraction], True, ties)[0]
        assert row.logit_drop == pytest.approx(mean_fill_drop(image, removed), abs=1e-5)
    assert frame["logit_before"].iloc[0] == pytest.approx(logit(image), rel=1e-5)


@pytest.mark.parametrize("imputation", faith.IMPUTATIONS)
def test_the_region_map_drops_the_logit_most_and_beats_every_random_map(
    cam, net, image, imputation
):
    grids = {"gradcam": region_grid(), "layercam": 1.0 - region_grid()}
    frame = scores(cam, net, image, grids, [SHARE], imputation=imputation, draws=40)
    maps = faith.per_map(frame, SHARE).set_index("method")
    best, worst = maps.loc["gradcam"], maps.loc["layercam"]
    random = frame[frame.method == faith.RANDOM].logit_drop
    assert best.logit_drop > random.max() and best.beaten == 1.0
    assert worst.logit_drop == pytest.approx(0.0, abs=1e-5)  # removes only the background
    assert best.logit_drop > 0.5 * logit(image) and best.z > 3


def test_removal_outside_the_region_leaves_the_logit_alone(cam, net, image):
    grids = {"gradcam": region_grid()}
    frame = scores(cam, net, image, grids, [0.2, 0.5, 0.8], orders=faith.ORDERS)
    lerf = frame[frame.order == "LeRF"]
    np.testing.assert_allclose(lerf.logit_drop, 0.0, atol=1e-5)  # least relevant: background
    morf = frame[frame.order == "MoRF"]
    assert (morf.logit_drop > 0.5 * logit(image)).all()


def test_relative_probability_drop_is_one_minus_the_probability_ratio(cam, net, image):
    frame = scores(cam, net, image, {"gradcam": region_grid()}, [SHARE], imputation="mean")
    before = logit(image)
    heat = evaluation.upsample(region_grid()[None, None], SIZE)[0, 0]
    removed = faith.removal_masks(heat, [SHARE], True, faith.tie_order(SIZE))[0]
    after = before - mean_fill_drop(image, removed)
    p_before, p_after = 1 / (1 + np.exp(-before)), 1 / (1 + np.exp(-after))
    row = frame.iloc[0]
    assert row.prob_before == pytest.approx(p_before, rel=1e-5)
    assert row.prob_drop == pytest.approx(1 - p_after / p_before, rel=1e-4)


def test_road_fill_keeps_the_kept_pixels_and_imputes_each_image_from_itself():
    ramp = np.add.outer(np.arange(SIZE), 2 * np.arange(SIZE)).astype(np.float32)
    images = np.stack([np.repeat(ramp[..., None], 3, 2), np.repeat(200 - ramp[..., None], 3, 2)])
    removed = np.zeros((SIZE, SIZE), bool)
    removed[6:14, 5:15] = True
    out = faith.fill(images, removed, "road", np.random.default_rng(0))
    np.testing.assert_array_equal(out[:, ~removed], images[:, ~removed])
    np.testing.assert_allclose(out[:, removed], images[:, removed], atol=4.0)  # planes: exact
    assert not np.array_equal(out[0, removed], images[0, removed])  # the noise is there


# --------------------------------------------------------------------------- summaries


def _frame(drops: dict[str, list[list[float]]], random: list[list[list[float]]]) -> pd.DataFrame:
    """A `removal_scores`-like frame at MoRF 0.2: drops[method][image][slot] and
    random[image][slot][draw]."""
    rows = []
    for method, per_image in drops.items():
        for i, slots in enumerate(per_image):
            for j, d in enumerate(slots):
                rows.append((i, j, method, -1, d))
    for i, slots in enumerate(random):
        for j, draws in enumerate(slots):
            rows.extend((i, j, faith.RANDOM, k, d) for k, d in enumerate(draws))
    frame = pd.DataFrame(rows, columns=["image", "slot", "method", "draw", "logit_drop"])
    return frame.assign(order="MoRF", fraction=0.2, prob_drop=frame.logit_drop / 10, **{"class": 0})


def test_per_map_counts_the_draws_beaten_ties_half():
    frame = _frame({"gradcam": [[2.0]]}, [[[1.0, 2.0, 3.0, 0.0]]])
    row = faith.per_map(frame, 0.2).iloc[0]
    assert row.beaten == pytest.approx(2.5 / 4)
    assert row.random_mean == pytest.approx(1.5) and row.lead == pytest.approx(0.5)
    assert row.random_sd == pytest.approx(np.std([1, 2, 3, 0], ddof=1))
    assert row.z == pytest.approx(0.5 / row.random_sd)


def test_bootstrap_interval_contains_the_mean_and_narrows_with_more_images():
    rng = np.random.default_rng(0)
    few = rng.normal(1.0, 1.0, (8, 3))
    many = rng.normal(1.0, 1.0, (128, 3))
    for values in (few, many):
        mean, low, high = faith.mean_interval(values, draws=4000)
        assert low < mean < high and mean == pytest.approx(values.mean())
    widths = []
    for values in (few, many):
        _, low, high = faith.mean_interval(values, draws=4000)
        widths.append(high - low)
    assert widths[1] < widths[0] / 2  # 16 times the images: about 4 times narrower


def test_summary_puts_the_region_map_ahead_with_an_interval_above_zero(cam, net, image):
    rng = np.random.default_rng(1)
    base = np.stack([image, np.clip(image + rng.normal(0, 5, image.shape), 0, 255)] * 2)
    maps = {"gradcam": np.broadcast_to(region_grid(), (4, 1, *GRID))}
    frame = faith.removal_scores(
        cam, net, base, maps, np.zeros((4, 1), int), [SHARE, 0.5], faith.ORDERS, "mean", 12
    )
    table = faith.summary(frame, SHARE)
    assert list(table.index) == ["gradcam", faith.RANDOM]
    row = table.loc["gradcam"]
    assert row.lead_low > 0 and row.beaten == 1.0 and row.logit_drop_low <= row.logit_drop
    area = faith.road_area(frame)
    assert area.loc["gradcam", "gap_low"] > area.loc[faith.RANDOM, "gap_high"]
    curves = faith.curve(frame)
    assert set(curves.method) == {"gradcam", faith.RANDOM}
    assert curves[curves.method == faith.RANDOM].sd.gt(0).all()


def test_curve_figure_has_labelled_axes_a_legend_and_the_random_band(cam, net, image):
    frame = scores(
        cam,
        net,
        image,
        {"gradcam": region_grid()},
        [0.2, 0.5],
        orders=faith.ORDERS,
        imputation="mean",
        draws=3,
    )
    fig = faith.curve_figure(faith.curve(frame), "mean")
    morf, lerf = fig.axes
    assert morf.get_xlabel() == "fraction of pixels removed" and "logit" in morf.get_ylabel()
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["Grad-CAM", "Random map (mean ± sd)"]
    assert len(morf.collections) == 1 and len(lerf.lines) == 3  # band; line, dashes, zero


# --------------------------------------------------------------------------- held out


def _jpeg(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).resize(size, Image.BILINEAR).save(buffer, "JPEG", quality=80)
    return np.asarray(Image.open(buffer).convert("RGB"))


def test_held_out_recognises_a_scored_photograph_by_its_content():
    photos = pointing.candidates()
    scored = [_jpeg(photos["cat"], (300, 200)), _jpeg(photos["camera"], (100, 100))]
    kept = faith.held_out(photos, scored)
    assert set(photos) - set(kept) == {"cat", "camera"}


def _smooth(rng: np.random.Generator) -> np.ndarray:
    """A 30 x 30 photograph-like image: 6 x 6 random colours, bilinearly enlarged."""
    small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((30, 30), Image.BILINEAR))


def test_the_choice_never_sees_the_scored_images(cam, net):
    rng = np.random.default_rng(5)
    photos = {n: _smooth(rng) for n in "abcde"}
    scored = [_jpeg(photos["b"], (40, 40)), _jpeg(photos["d"], (30, 30))]
    seen = []

    class Spy:
        """The Grad-CAM object, recording every batch the network is shown."""

        num_classes = cam.num_classes

        def logits(self, x):
            seen.append(np.asarray(x) * 255)
            return cam.logits(x)

        def compute_all(self, x, *args, **kwargs):
            seen.append(np.asarray(x) * 255)
            return cam.compute_all(x, *args, **kwargs)

    spy = Spy()
    names, table, setting = faith.held_out_choice(spy, net, photos, scored, ["gradcam"], draws=3)
    assert names == ["a", "c", "e"]
    marks = np.stack([faith.thumbnail(im) for im in scored])

    def likeness(im: np.ndarray) -> float:
        return float((marks @ faith.thumbnail(np.uint8(np.clip(im, 0, 255))) / 1024).max())

    assert likeness(net.prepare([photos["b"]])[0] * 255) > faith.SAME_PHOTO  # would be caught
    assert max(likeness(im) for batch in seen for im in batch) < faith.SAME_PHOTO
    assert len(table) == len(faith.IMPUTATIONS) * len(faith.CHOICE_FRACTIONS)
    assert setting.fraction in faith.CHOICE_FRACTIONS and setting.imputation in faith.IMPUTATIONS


def test_choose_takes_the_largest_criterion_then_the_smaller_fraction():
    table = pd.DataFrame(
        {
            "imputation": ["road", "road", "mean", "blur"],
            "fraction": [0.3, 0.1, 0.1, 0.2],
            "criterion": [2.0, 2.0, 2.0, 1.0],
        }
    )
    assert faith.choose(table) == faith.Setting("road", 0.1)
    assert faith.choose(table.iloc[[0, 3]]) == faith.Setting("road", 0.3)
    with pytest.raises(DeepvisError):
        faith.choose(table.iloc[:0])


def test_run_scores_only_what_the_choice_did_not_see(cam, net, image):
    rng = np.random.default_rng(7)
    photos = {n: _smooth(rng) for n in "abcd"}
    photos["a"] = np.uint8(image)  # the toy's class 0 shows in this one
    scored = [photos["a"], photos["b"]]
    parts = [("a", "b"), ("b", "a"), ("a", "c"), ("d", "b")]
    built = [pointing.composite([photos[p] for p in pair], 1, 2, SIZE) for pair in parts]
    comps = pointing.Composites(
        np.array(parts, dtype=object),
        np.stack([im for im, _ in built]),
        np.stack([cells for _, cells in built]),
        np.zeros((4, 2), np.int64),
    )
    plan = SimpleNamespace(
        eval_images=2,
        faith_held_out=10,
        faith_choice_draws=3,
        faith_draws=5,
        faith_curve_draws=2,
        faith_fractions=(0.2, 0.6),
    )
    study = faith.run(net, scored, plan, "grid", ["gradcam"], photos=photos, comps=comps, top=2)
    assert study.held_out == ["c", "d"]
    assert [tuple(p) for p in study.parts] == [("a", "b"), ("b", "a")]
    assert set(study.headline.image) == {0, 1} and set(study.composites.image) == {0, 1}
    assert set(study.curves.fraction) == {0.2, 0.6} and set(study.seconds) >= {"choice"}
    assert study.headline.fraction.eq(study.setting.fraction).all()
    record = faith.record(study)
    assert record["held_out"] == ["c", "d"] and "gradcam" in record["test_images"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fractions": [0.0]}, "strictly between 0 and 1"),
        ({"fractions": [1.2]}, "strictly between 0 and 1"),
        ({"imputation": "zeros"}, "unknown imputation"),
        ({"orders": ("up",)}, "unknown removal orders"),
    ],
)
def test_bad_settings_raise_one_line_errors(cam, net, image, kwargs, message):
    args = {"fractions": [0.2], **kwargs}
    fractions = args.pop("fractions")
    with pytest.raises(DeepvisError, match=message):
        scores(cam, net, image, {"gradcam": region_grid()}, fractions, **args)


def test_maps_on_different_grids_or_without_draws_are_refused(cam, net, image):
    maps = {"gradcam": region_grid()[None, None], "layercam": np.zeros((1, 1, 3, 3))}
    with pytest.raises(DeepvisError, match="one grid"):
        faith.removal_scores(cam, net, image[None], maps, np.array([[0]]), [0.2])
    frame = scores(cam, net, image, {"gradcam": region_grid()}, [0.2])
    with pytest.raises(DeepvisError, match="no random draws"):
        faith.per_map(frame, 0.2)


def test_the_budgets_sizes_are_valid_and_quick_mode_is_smaller():
    from deepvis.gradcam.budget import FULL, QUICK

    for plan in (FULL, QUICK):
        assert all(0 < f < 1 for f in plan.faith_fractions) and plan.faith_draws > 1
    for name in ("faith_held_out", "faith_choice_draws", "faith_draws", "faith_curve_draws"):
        assert getattr(QUICK, name) < getattr(FULL, name)
    assert len(QUICK.faith_fractions) < len(FULL.faith_fractions)


def test_table_frame_cites_each_method_and_marks_unscored_composites():
    columns = {"logit_drop": 1.0, "lead": 0.5}
    row = {}
    for column, mean in columns.items():
        row |= {column: mean, f"{column}_low": mean - 0.25, f"{column}_high": mean + 0.25}
    halved = {k: v / 2 for k, v in row.items()}
    images = pd.DataFrame([row, halved], index=["gradcam", faith.RANDOM])
    table = faith.table_frame(images)
    assert list(table.index) == ["Grad-CAM", "Random map"]
    assert table.loc["Grad-CAM", faith.TABLE_COLUMNS[0]] == "1.00 [0.75, 1.25]"
    assert table.loc["Random map", faith.TABLE_COLUMNS[1]] == "0.25 [0.12, 0.38]"
    assert (table[faith.TABLE_COLUMNS[2]] == "—").all()
    with_parts = faith.table_frame(images, images.iloc[:1])
    assert with_parts.loc["Grad-CAM", faith.TABLE_COLUMNS[2]] == "0.50 [0.25, 0.75]"
    assert with_parts.loc["Random map", faith.TABLE_COLUMNS[2]] == "—"
