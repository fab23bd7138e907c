"""What notebook 07's prose cites, on tables and results whose answers are known by construction."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from deepvis.errors import DeepvisError
from deepvis.gradcam import findings
from deepvis.gradcam.checks import SanityStep
from deepvis.gradcam.evaluation import COLUMNS, RANDOM, RANDOM_SD


def _layers(**rows: tuple[float, float, float]) -> pd.DataFrame:
    """A `compare_layers`-shaped table from ``layer=(spread, deletion, insertion)``."""
    frame = pd.DataFrame(
        {
            name: {"grid": "?", "spread": s, "deletion": d, "insertion": i, "iou": s, "rho": d}
            for name, (s, d, i) in rows.items()
        }
    ).T
    frame.index.name = "layer"
    return frame.astype({c: float for c in ("spread", "deletion", "insertion", "iou", "rho")})


def test_layer_comparison_reads_the_rows_the_prose_cites():
    table = _layers(a=(0.9, 0.30, 0.20), b=(0.5, 0.10, 0.40), top=(0.0, 0.05, 0.10))
    comparison = findings.layer_comparison(table)
    assert comparison.row("top").spread == 0.0 and comparison.row("b").deletion == 0.10
    assert comparison.row("a").insertion == 0.20
    # deletion spans 0.05..0.30 (0.25), insertion 0.10..0.40 (0.30): the larger of the two ranges
    assert comparison.auc_range == pytest.approx(0.30)
    assert math.isnan(comparison.row("block10_add").spread)  # a layer not compared


def test_layer_comparison_of_an_unmeasured_network_is_nan_not_an_error():
    """Prose about EfficientNet-Lite0's layers is still evaluated on VGG-16 (then replaced by a
    prompt): every value it cites must exist, and format."""
    comparison = findings.layer_comparison(None)
    top, finer = comparison.row("top_activation"), comparison.row("block10_add")
    assert list(top.index) == list(comparison.table.columns) and top.isna().all()
    assert f"{top.spread:.1g} {finer.rho:.2f} {comparison.auc_range:.3f}" == "nan nan nan"


def _record(tmp_path, leave_out=()):
    """A ``gradcam_reference.json`` as the benchmark writes it, less the keys `leave_out`."""
    record = {
        "model": "efficientnet-lite0",
        "layer": "top_activation",
        "max_diff": {"Grad-CAM": 6e-6, "Score-CAM": 4e-6},
        "max_diff_float64": {"Grad-CAM": 8.7e-8},
    }
    record = {key: value for key, value in record.items() if key not in leave_out}
    path = tmp_path / "gradcam_reference.json"
    path.write_text(json.dumps(record))
    return path


def test_reference_agreement_of_the_network_in_use(tmp_path):
    agreement = findings.reference_agreement(
        _record(tmp_path), "efficientnet-lite0", "top_activation"
    )
    assert agreement.matches and agreement.largest_float64 == pytest.approx(8.7e-8)
    frame = agreement.frame()
    assert frame.index.name == "method" and list(frame.columns) == ["float32", "float64"]
    assert frame.loc["Score-CAM", "float32"] == pytest.approx(4e-6)
    assert math.isnan(frame.loc["Score-CAM", "float64"])  # compared in float32 only


@pytest.mark.parametrize(
    "leave_out, model, layer",
    [
        ((), "vgg16", "top_activation"),  # measured for another network
        ((), "efficientnet-lite0", "block10_add"),  # or at another layer
        (("max_diff_float64",), "efficientnet-lite0", "top_activation"),  # in float32 only
    ],
)
def test_reference_agreement_of_another_run_is_empty(tmp_path, leave_out, model, layer):
    path = _record(tmp_path, leave_out)
    agreement = findings.reference_agreement(path, model, layer)
    assert not agreement.matches and math.isnan(agreement.largest_float64)
    assert agreement.frame().empty


def test_reference_agreement_without_a_file(tmp_path):
    agreement = findings.reference_agreement(tmp_path / "absent.json", "vgg16", "block5_conv3")
    assert agreement == findings.ReferenceAgreement()


def _cascade(*rhos: float) -> list[SanityStep]:
    names = ["trained", "logits", "top", "block15"]
    return [SanityStep(n, (), np.zeros((2, 2)), r, r) for n, r in zip(names, rhos, strict=False)]


def test_rank_frame_puts_ranks_2_and_3_side_by_side():
    iou = np.array([[0.1, 0.2], [0.3, 0.4]])
    rho = np.array([[-0.5, 0.5], [0.9, 0.0]])
    frame = findings.rank_frame(iou, rho, ["cat", "rocket"])
    assert list(frame.index) == ["cat.jpg", "rocket.jpg"]
    assert frame.loc["rocket.jpg"].tolist() == [0.9, 0.3, 0.0, 0.4]  # rho2, iou2, rho3, iou3


def _scores() -> pd.DataFrame:
    """An `evaluate` table: the random maps score deletion 0.064 ± 0.005, insertion
    0.119 ± 0.007; a method must beat the mean by two standard deviations."""
    rows = {
        "A": {"deletion": 0.049, "insertion": 0.195, "sanity": 0.12},  # beats both, passes
        "B": {"deletion": 0.055, "insertion": 0.130, "sanity": 0.35},  # within 2 sd on both
        "C": {"deletion": 0.103, "insertion": 0.147, "sanity": np.nan},  # worse; no sanity score
        RANDOM: {"deletion": 0.064, "insertion": 0.119, "sanity": 1.0},
        RANDOM_SD: {"deletion": 0.005, "insertion": 0.007, "sanity": 0.0},
    }
    frame = pd.DataFrame(rows).T
    return frame.rename(columns={k: COLUMNS[k] for k in frame.columns})


def test_beating_the_random_maps_takes_two_standard_deviations_in_the_better_direction():
    scores = _scores()
    assert findings.beats_random(scores, "deletion") == ["A"]  # lower is better: 0.054 or less
    assert findings.beats_random(scores, "insertion") == ["A", "C"]  # higher: above 0.133


def test_sanity_split_leaves_out_methods_without_the_score():
    assert findings.sanity_split(_scores()) == (["A"], ["B"])
    assert findings.sanity_split(_scores(), threshold=0.5) == (["A", "B"], [])


def test_most_counterfactual_is_the_image_with_the_most_evidence_against():
    raw = np.zeros((3, 1, 2, 2))
    raw[1, 0, 0, 0] = 0.5
    raw[2, 0] = 0.2  # 0.8 in all
    assert findings.most_counterfactual(SimpleNamespace(raw=raw)) == 2


@pytest.mark.parametrize(
    ("shape", "y", "x", "expected"),
    [
        ((7, 7), 0, 0, "cell (1, 1)"),
        ((7, 7), 3, 3, "cell (4, 4)"),
        ((14, 7), 13, 2, "cell (14, 3)"),
    ],
)
def test_peak_place_names_the_cell_from_the_top_left(shape, y, x, expected):
    grid = np.zeros(shape)
    grid[y, x] = 1.0
    assert findings.peak_place(grid) == expected


def test_peak_place_takes_the_first_of_tied_maxima():
    grid = np.zeros((7, 7))
    grid[2, 5] = grid[4, 1] = 1.0  # row-major: (3, 6) comes first
    assert findings.peak_place(grid) == "cell (3, 6)"


def test_peak_place_refuses_a_batch():
    with pytest.raises(ValueError, match="2-D map"):
        findings.peak_place(np.zeros((2, 3, 3)))


def test_first_below_skips_the_trained_step():
    values = pd.Series([0.1, 0.5, 0.2, 0.05], index=["trained", "logits", "top", "block15"])
    assert findings.first_below(values, 0.3) == "top"  # the trained map's own 0.1 is not a step
    assert findings.first_below(values, 0.01) == "never"


def test_with_interval_cites_mean_and_interval():
    row = pd.Series({"lead": 1.634, "lead_low": 0.2249, "lead_high": 3.04})
    assert findings.with_interval(row, "lead") == "1.63 [0.22, 3.04]"
    assert findings.with_interval(row, "lead", digits=1) == "1.6 [0.2, 3.0]"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ((0, 3), True),
        ((6, 3), True),
        ((3, 0), True),
        ((3, 6), True),
        ((3, 3), False),
        ((1, 5), False),
    ],
)
def test_peak_on_border_only_for_a_maximum_in_an_edge_cell(cell, expected):
    grid = np.full((7, 7), 0.1)
    grid[cell] = 1.0
    assert findings.peak_on_border(grid) is expected


def test_peak_on_border_refuses_what_is_not_a_2d_map():
    with pytest.raises(ValueError, match="2-D map"):
        findings.peak_on_border(np.ones(7))


def test_unrelated_rho_averages_the_pairs_of_different_images():
    a = np.arange(9.0).reshape(3, 3)
    # a with -a: |rho| 1; a with a constant map: 0 (constant); -a with it: 0 -> mean 1/3
    assert findings.unrelated_rho(np.stack([a, -a, np.zeros((3, 3))])) == pytest.approx(1 / 3)
    by_hand = abs(spearmanr(a.ravel(), a.T.ravel()).statistic)
    assert findings.unrelated_rho(np.stack([a, a.T])) == pytest.approx(by_hand)
    with pytest.raises(DeepvisError, match="2 images or more"):
        findings.unrelated_rho(a[None])


def test_chance_rho_matches_the_null_distribution_of_spearmans_rho():
    """Under independence rho is about normal with variance 1 / (n - 1), so E|rho| is
    sqrt(2 / (pi (n - 1))): 0.1152 for the 49 cells of a 7 x 7 grid, 0.2660 for 3 x 3."""
    assert findings.chance_rho((7, 7), draws=4000) == pytest.approx(0.1152, abs=0.005)
    n = 9
    exact = np.sqrt(2 / (np.pi * (n - 1)))
    assert findings.chance_rho((3, 3), draws=4000) == pytest.approx(exact, rel=0.06)


def test_rank_correlations_and_image_pairs_on_hand_made_maps():
    a = np.arange(9.0).reshape(3, 3)
    maps = np.stack([np.stack([a, 2 * a + 1, -a]), np.stack([a, a.T, a])])  # (2 images, 3 ranks)
    np.testing.assert_allclose(
        findings.rank_correlations(maps), [[1.0, -1.0], [findings.map_correlation(a, a.T), 1.0]]
    )
    assert findings.map_correlation(a, a.T) == pytest.approx(
        np.corrcoef(a.ravel(), a.T.ravel())[0, 1]
    )
    pairs = findings.image_pairs(np.stack([a, -a, 2 * a]), findings.map_correlation)
    np.testing.assert_allclose(pairs, [-1.0, 1.0, -1.0])  # 0-1, 0-2, 1-2
