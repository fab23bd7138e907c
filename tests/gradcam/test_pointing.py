"""The ground truth of the composites: letterboxing, cells, the pointing game, the mass share,
the random baseline and the bootstrap, each against an answer known without the code."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from deepvis.gradcam import pointing
from tests.gradcam.conftest import tiny_model


def _image(height: int, width: int, value: int = 200) -> np.ndarray:
    return np.full((height, width, 3), value, dtype=np.uint8)


# --------------------------------------------------------------------------- composites


@pytest.mark.parametrize(("shape", "box"), [((30, 60), (50, 50)), ((90, 40), (112, 224))])
def test_letterbox_keeps_the_aspect_ratio_and_fills_the_bars(shape, box):
    canvas, (top, left, bottom, right) = pointing.letterbox(_image(*shape), *box)
    assert canvas.shape == (*box, 3) and canvas.dtype == np.uint8
    h, w = bottom - top, right - left
    assert h == box[0] or w == box[1]  # touches two opposite sides: as large as fits
    assert abs(w / h - shape[1] / shape[0]) <= shape[1] / shape[0] * 2 / min(h, w)
    inside = np.zeros(box, dtype=bool)
    inside[top:bottom, left:right] = True
    assert (canvas[inside] == 200).all() and (canvas[~inside] == pointing.FILL).all()
    assert abs(top - (box[0] - bottom)) <= 1 and abs(left - (box[1] - right)) <= 1  # centred


def test_letterbox_of_a_30x60_image_into_50x50_is_25x50():
    _, box = pointing.letterbox(_image(30, 60), 50, 50)
    assert box == (12, 0, 37, 50)


def test_grid_cells_tile_the_canvas():
    assert pointing.grid_cells(1, 2, 224).tolist() == [[0, 0, 224, 112], [0, 112, 224, 224]]
    quads = pointing.grid_cells(2, 2, 224)
    assert quads.tolist() == [
        [0, 0, 112, 112],
        [0, 112, 112, 224],
        [112, 0, 224, 112],
        [112, 112, 224, 224],
    ]
    cover = pointing.cell_masks(quads, 224).sum(axis=0)
    assert (cover == 1).all()


def test_composite_puts_each_part_letterboxed_in_its_cell():
    left, right = _image(30, 60, 10), _image(60, 30, 250)
    canvas, cells = pointing.composite([left, right], 1, 2, 64)
    assert cells.tolist() == [[0, 0, 64, 32], [0, 32, 64, 64]]
    assert (canvas[:, :32] == pointing.letterbox(left, 64, 32)[0]).all()
    assert (canvas[:, 32:] == pointing.letterbox(right, 64, 32)[0]).all()
    grid, cells4 = pointing.composite([left], 2, 2, 64)
    assert len(cells4) == 1 and (grid[32:] == pointing.FILL).all()  # empty cells stay grey
    with pytest.raises(ValueError, match="do not fit"):
        pointing.composite([left, left, left], 1, 2, 64)


def test_rgb_converts_grey_bool_and_alpha():
    assert pointing.rgb(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    assert pointing.rgb(np.ones((2, 2), bool)).max() == 255
    assert pointing.rgb(np.zeros((2, 2, 4), np.uint8)).shape == (2, 2, 3)


# --------------------------------------------------------------------------- the rule


def _alone(classes: dict[str, int], probs: dict[str, float]) -> pd.DataFrame:
    frame = pd.DataFrame({"class": classes, "probability": probs})
    frame["qualifies"] = frame.probability >= pointing.MIN_PROBABILITY
    return frame


def test_side_by_side_pairs_qualifying_photos_of_different_classes_both_ways():
    alone = _alone({"a": 1, "b": 2, "c": 2, "d": 3}, {"a": 0.9, "b": 0.5, "c": 0.4, "d": 0.1})
    assert pointing.side_by_side(alone) == [("a", "b"), ("a", "c"), ("b", "a"), ("c", "a")]


def test_composites_carry_each_parts_class_and_cell():
    photos = {"a": _image(20, 40, 0), "b": _image(40, 20, 255)}
    comps = pointing.composites(photos, _alone({"a": 7, "b": 9}, {"a": 0.5, "b": 0.5}), 32)
    assert len(comps) == 2 and comps.size == 32
    assert comps.parts.tolist() == [["a", "b"], ["b", "a"]]
    assert comps.classes.tolist() == [[7, 9], [9, 7]]
    assert comps.cells[1].tolist() == [[0, 0, 32, 16], [0, 16, 32, 32]]


def test_qualify_applies_the_threshold_to_each_photo_alone():
    """A fake network whose top class and probability follow the photo's brightness."""

    def model(x, training=False):
        bright = np.asarray(x).mean(axis=(1, 2, 3))
        logits = np.zeros((len(bright), 1000), np.float32)
        logits[:, 0] = np.where(bright > 150, 10.0, 0.0)  # bright: class 0 at ~1.0
        return logits

    net = SimpleNamespace(model=model, preprocess=lambda x: x.astype(np.float32), input_size=8)
    table = pointing.qualify(net, {"bright": _image(8, 8, 255), "dark": _image(8, 8, 0)})
    assert table.loc["bright", "qualifies"] and table.loc["bright", "class"] == 0
    assert table.loc["bright", "probability"] > 0.9
    assert not table.loc["dark", "qualifies"]  # uniform over 1000 classes: 0.001
    assert table.loc["dark", "probability"] == pytest.approx(1e-3)


# --------------------------------------------------------------------------- scores


def test_a_map_peaked_in_a_cell_scores_a_hit_there_and_a_miss_elsewhere():
    cells = pointing.grid_cells(2, 2, 8)
    heat = np.zeros((8, 8))
    heat[5, 6] = 1.0  # bottom-right quadrant
    credit = pointing.peak_credit(np.broadcast_to(heat, (4, 8, 8)), pointing.cell_masks(cells, 8))
    assert credit.tolist() == [0.0, 0.0, 0.0, 1.0]


def test_a_plateau_across_the_edge_shares_the_credit_and_a_zero_map_scores_the_area():
    masks = pointing.cell_masks(pointing.grid_cells(1, 2, 4), 4)
    plateau = np.zeros((4, 4))
    plateau[1, 1:3] = 1.0  # one maximal pixel on each side of the edge
    assert pointing.peak_credit(plateau, masks).tolist() == [0.5, 0.5]
    assert pointing.peak_credit(np.zeros((4, 4)), masks).tolist() == [0.5, 0.5]
    assert pointing.mass_share(np.zeros((4, 4)), masks).tolist() == [0.5, 0.5]


def test_mass_share_is_the_fraction_of_the_sum_inside():
    masks = pointing.cell_masks(pointing.grid_cells(1, 2, 4), 4)
    heat = np.concatenate([np.full((4, 2), 3.0), np.full((4, 2), 1.0)], axis=1)
    assert pointing.mass_share(heat, masks) == pytest.approx([0.75, 0.25])


def test_scores_upsample_the_grid_map_bilinearly_before_scoring():
    """A 14x14 map of ones on its left 7 columns, upsampled to 224 with half-pixel centres:
    per row 104 pixels at 1, a ramp 31/32 ... 1/32 over the 16 pixels around the edge
    (8 x 0.75 = 6 left of it, 8 x 0.25 = 2 right of it): mass share 110/112."""
    grid = np.zeros((1, 2, 14, 14), np.float32)
    grid[..., :7] = 1.0
    cells = pointing.grid_cells(1, 2, 224)[None]
    hit, mass = pointing.scores(grid, cells, 224)
    assert hit.tolist() == [[1.0, 0.0]]
    assert mass[0] == pytest.approx([110 / 112, 2 / 112], abs=1e-6)


@pytest.mark.parametrize(("rows", "cols", "grid"), [(1, 2, 14), (2, 2, 7)])
def test_random_maps_point_at_each_cell_as_often_as_its_share_of_the_area(rows, cols, grid):
    """Chance: uniform noise on the grid, upsampled, puts its maximum in a cell as often as the
    cell's share of the area (at 7x7 a 2x2 grid's edge halves the middle row and column)."""
    k = rows * cols
    cells = np.broadcast_to(pointing.grid_cells(rows, cols, 56), (1, k, 4))
    hit, mass = pointing.random_scores((1, k, grid, grid), cells, 56, draws=1500, seed=3)
    share = 1 / k
    sd = np.sqrt(share * (1 - share) / 1500)
    assert np.abs(hit - share).max() < 4 * sd
    assert np.abs(mass - share).max() < 0.01


# --------------------------------------------------------------------------- intervals


def test_the_bootstrap_interval_of_a_constant_is_that_constant():
    low, high = pointing.interval(pointing.bootstrap_means(np.full((30, 2), 0.625)))
    assert (low, high) == (0.625, 0.625)


def test_the_bootstrap_resamples_composites_not_pairs():
    """50 composites whose two pairs agree (0, 0 or 1, 1, half each): the mean of 50 composite
    values spreads by 0.5 / sqrt(50) = 0.071, not by 0.5 / sqrt(100) as 100 pairs would."""
    values = np.repeat(np.arange(50) % 2, 2).reshape(50, 2).astype(float)
    means = pointing.bootstrap_means(values, draws=20_000, seed=1)
    assert means.std() == pytest.approx(0.5 / np.sqrt(50), rel=0.05)
    assert means.mean() == pytest.approx(0.5, abs=0.005)
    low, high = pointing.interval(means)
    assert low == pytest.approx(0.5 - 1.96 * 0.5 / np.sqrt(50), abs=0.03)
    assert high == pytest.approx(0.5 + 1.96 * 0.5 / np.sqrt(50), abs=0.03)


def test_the_bootstrap_over_photographs_spreads_as_the_photographs_do():
    """40 composites of one part each, made from 4 photographs (10 each) worth 0, 1, 0, 1: the
    mean then varies as the mean of 4 photographs drawn with replacement, sd 0.5 / sqrt(4) =
    0.25, not as 40 independent rows would (0.5 / sqrt(40) = 0.079)."""
    names = np.repeat(np.array(["a", "b", "c", "d"]), 10)[:, None]
    values = np.repeat([0.0, 1.0, 0.0, 1.0], 10)[:, None]
    means = pointing.bootstrap_means(values, draws=20_000, seed=2, parts=names)
    assert means.std() == pytest.approx(0.25, rel=0.05)
    assert pointing.bootstrap_means(values, draws=20_000, seed=2).std() == pytest.approx(
        0.5 / np.sqrt(40), rel=0.05
    )


def test_photo_weights_multiply_the_counts_of_a_composites_parts():
    parts = np.array([["a", "b"], ["b", "c"], ["c", "a"]])
    weights = pointing.photo_weights(parts, draws=200, seed=0)
    rng = np.random.default_rng(0)  # the same resamples, drawn here by hand
    counts = rng.multinomial(3, np.full(3, 1 / 3), size=200)  # columns a, b, c
    assert np.array_equal(weights[:, 0], counts[:, 0] * counts[:, 1])
    assert np.array_equal(weights[:, 2], counts[:, 2] * counts[:, 0])


def test_a_resample_without_a_whole_composite_is_left_out():
    """One composite of two photographs: a resample drawing one of them twice (half of them)
    keeps no composite; the interval is taken over the rest."""
    means = pointing.bootstrap_means(
        np.array([[0.25, 0.75]]), draws=4000, parts=np.array([["a", "b"]])
    )
    assert np.isnan(means).mean() == pytest.approx(0.5, abs=0.03)
    assert pointing.interval(means) == (0.5, 0.5)


def _pairs(hit: np.ndarray, chance_hit: np.ndarray, layer: str = "L") -> pd.DataFrame:
    """A `score_layers`-like frame of one method and the random maps, (N, k) scores each."""
    n, k = hit.shape
    rows = []
    for method, values in (("gradcam", hit), (pointing.RANDOM, chance_hit)):
        rows.append(
            pd.DataFrame(
                {
                    "layer": layer,
                    "method": method,
                    "composite": np.repeat(np.arange(n), k),
                    "part": np.tile(np.arange(k), n),
                    "share": 1 / k,
                    "rank": 1,
                    "hit": values.ravel(),
                    "mass": values.ravel(),
                    "zero": False,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_summary_of_a_perfect_method_against_chance():
    pairs = _pairs(np.ones((20, 2)), np.full((20, 2), 0.5))
    table = pointing.summary(pairs, draws=500)
    best = table[table.method == "gradcam"].iloc[0]
    assert (best.pairs, best.hits, best.pointing) == (40, 40.0, 1.0)
    assert (best.pointing_low, best.pointing_high) == (1.0, 1.0)
    assert best.pointing_lead == pytest.approx(0.5) and best.pointing_lead_low == pytest.approx(0.5)
    assert best.chance == 0.5
    assert pointing.beating(table, "L") == ["Grad-CAM"]
    assert pointing.cite(table, "L", "gradcam") == "1.00 [1.00, 1.00]"
    assert pointing.hits(table, "L", "gradcam") == "40 of 40"
    assert pointing.cite(table, "other", "gradcam") == "—"
    assert pointing.table_frame(table)["hits"].tolist() == ["40/40", "20.0/40"]


def test_summary_resamples_the_photographs_its_pairs_name():
    """12 composites, every ordered pair of 4 photographs; a part scores 1 when it is a or b.
    With the photographs named, the interval is `bootstrap_means` over them, wider than one
    over the composites: the scores depend on which photographs were drawn."""
    names = ["a", "b", "c", "d"]
    parts = np.array([(p, q) for p in names for q in names if p != q])
    hit = np.isin(parts, ["a", "b"]).astype(float)
    pairs = _pairs(hit, np.full(hit.shape, 0.5))
    pairs["photo"] = np.concatenate([parts.ravel(), parts.ravel()])
    row = pointing.summary(pairs, draws=2000).set_index("method").loc["gradcam"]
    low, high = pointing.interval(pointing.bootstrap_means(hit, 2000, 0, parts))
    assert (row.pointing_low, row.pointing_high) == (low, high)
    narrow = pointing.interval(pointing.bootstrap_means(hit, 2000, 0))
    assert high - low > 1.5 * (narrow[1] - narrow[0])


def test_summary_and_difference_of_nothing_are_empty():
    assert pointing.summary(pd.DataFrame()).empty
    assert np.isnan(pointing.difference(pd.DataFrame(), ("a", "m"), ("b", "m"))).all()


def test_difference_pairs_the_same_composites():
    rng = np.random.default_rng(0)
    base = rng.random((30, 2))
    pairs = pd.concat([_pairs(base, base, "first"), _pairs(base + 0.25, base, "second")])
    mean, low, high = pointing.difference(pairs, ("second", "gradcam"), ("first", "gradcam"))
    assert (mean, low, high) == pytest.approx((0.25, 0.25, 0.25))  # paired: no spread at all


@pytest.mark.parametrize(
    ("low", "high", "said"), [(0.1, 0.3, "more"), (-0.3, -0.1, "less"), (-0.1, 0.1, "same")]
)
def test_compared_claims_only_what_the_interval_carries(low, high, said):
    assert pointing.compared(low, high, "more", "less", "same") == said


# --------------------------------------------------------------------------- maps


def test_layer_maps_give_each_parts_class_its_map_and_rank():
    model = tiny_model()
    net = SimpleNamespace(model=model, preprocess=lambda x: x.astype(np.float32) / 255.0)
    images = np.random.default_rng(0).integers(0, 256, (3, 6, 6, 3), dtype=np.uint8)
    comps = pointing.Composites(
        parts=np.array([["a", "b"]] * 3, dtype=object),
        images=images,
        cells=np.broadcast_to(pointing.grid_cells(1, 2, 6), (3, 2, 4)).copy(),
        classes=np.array([[0, 1], [2, 3], [4, 0]]),
    )
    found = pointing.layer_maps(net, "conv", comps, ["gradcam", "eigencam"], batch=2)
    assert found.maps["gradcam"].shape == (3, 2, 6, 6) and found.zero["gradcam"].shape == (3, 2)
    logits = model(net.preprocess(images)).numpy()
    order = np.argsort(-logits, axis=1)
    expected = [
        [int(np.where(order[i] == c)[0][0]) + 1 for c in row] for i, row in enumerate(comps.classes)
    ]
    assert found.ranks.tolist() == expected
    assert (found.maps["eigencam"][:, 0] == found.maps["eigencam"][:, 1]).all()  # one map
    pairs = pointing.score_layers({"conv": found}, comps, draws=3)
    assert len(pairs) == 3 * 2 * 3 and set(pairs.method) == {"gradcam", "eigencam", "Random map"}


def test_every_candidate_is_licence_clear_and_loads():
    photos = pointing.candidates({k: pointing.PHOTOS[k] for k in ("cat", "camera", "china")})
    assert all(p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 3 for p in photos.values())
    assert all(photo.licence for photo in pointing.PHOTOS.values())
    assert list(pointing.PHOTOS)[:5] == ["cat", "espresso", "astronaut", "rocket", "grace_hopper"]


# --------------------------------------------------------------------------- prose helpers


def _layer(maps: dict[str, np.ndarray]) -> pointing.LayerMaps:
    n, k = next(iter(maps.values())).shape[:2]
    zero = {m: np.zeros((n, k), bool) for m in maps}
    return pointing.LayerMaps("L", maps, zero, np.ones((n, k), np.int64))


def test_edge_note_says_where_the_halves_meet_on_the_grid():
    odd = pointing.edge_note(_layer({"gradcam": np.zeros((1, 2, 7, 7))}), 224)
    even = pointing.edge_note(_layer({"gradcam": np.zeros((1, 2, 14, 14))}), 224)
    assert "7×7 (32 pixels a cell)" in odd and "middle of grid column 4" in odd
    assert "14×14 (16 pixels a cell)" in even and "between two grid columns" in even
    assert pointing.edge_note(None, 224) == "no grid was scored"


def test_coinciding_names_the_methods_with_the_same_maps():
    base = np.random.default_rng(0).random((2, 2, 3, 3))
    found = _layer({"gradcam": base, "xgradcam": base + 1e-6, "hirescam": base[::-1]})
    assert pointing.coinciding(found, ("gradcam", "xgradcam", "hirescam")) == [
        "Grad-CAM",
        "XGrad-CAM",
    ]
    assert pointing.coinciding(found, ("gradcam", "hirescam")) == []
    assert pointing.coinciding(None, ("gradcam",)) == []


def test_signed_labelled_and_a_missing_comparison():
    assert pointing.signed((0.3, 0.21, 0.39)) == "+0.30 [+0.21, +0.39]"
    assert pointing.signed((np.nan, np.nan, np.nan)) == "—"
    assert pointing.compared(np.nan, np.nan, "more", "less", "same", "none") == "none"
    alone = _alone({"a": 1, "b": 2}, {"a": 0.785, "b": 0.297})
    alone["label"] = ["cat", "clock"]
    assert pointing.labelled(alone) == ["a (cat, 78.5%)"]
    assert pointing.labelled(alone, False) == ["b (clock, 29.7%)"]
