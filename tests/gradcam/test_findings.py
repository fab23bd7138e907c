"""What notebook 07's prose cites, on tables and results whose answers are known by construction."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

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


def test_the_most_faithful_layer_wins_only_where_the_gradient_varies():
    table = _layers(a=(0.9, 0.30, 0.2), b=(0.5, 0.10, 0.3), top=(0.0, 0.05, 0.1))
    # top has the lowest deletion AUC but a constant gradient: equation (1) would average nothing
    assert findings.choose_layer(table) == "b"
    assert findings.choose_layer(table, min_spread=0.6) == "a"
    assert findings.choose_layer(_layers(top=(0.0, 0.1, 0.2))) == ""


def test_layer_choice_reads_the_rows_the_prose_cites():
    table = _layers(a=(0.9, 0.30, 0.20), b=(0.5, 0.10, 0.35), top=(0.0, 0.05, 0.10))
    choice = findings.layer_choice(table, top="top")
    assert choice.pick == "b"
    assert choice.top.spread == 0.0 and choice.picked.deletion == pytest.approx(0.10)
    # deletion spans 0.05..0.30 (0.25), insertion 0.10..0.35 (0.25): the larger of the two ranges
    assert choice.auc_range == pytest.approx(0.25)


def test_layer_choice_of_an_unmeasured_network_is_nan_not_an_error():
    """Prose about EfficientNet-Lite0's layers is still evaluated on VGG-16 (then replaced by a
    prompt): every value it cites must exist, and format."""
    choice = findings.layer_choice(None, top="top_activation")
    assert choice.pick == ""
    assert math.isnan(choice.top.spread) and math.isnan(choice.picked.iou)
    assert math.isnan(choice.auc_range)
    assert (
        f"{choice.top.spread:.1g} {choice.picked.rho:.2f} {choice.auc_range:.3f}" == "nan nan nan"
    )


def _record(tmp_path, leave_out=()):
    """A ``gradcam_reference.json`` as the benchmark writes it, less the keys `leave_out`."""
    record = {
        "model": "efficientnet-lite0",
        "layer": "block10_add",
        "max_diff": {"Grad-CAM": 6e-6, "Score-CAM": 4e-6},
        "max_diff_float64": {"Grad-CAM": 8.7e-8},
    }
    record = {key: value for key, value in record.items() if key not in leave_out}
    path = tmp_path / "gradcam_reference.json"
    path.write_text(json.dumps(record))
    return path


def test_reference_agreement_of_the_network_in_use(tmp_path):
    agreement = findings.reference_agreement(_record(tmp_path), "efficientnet-lite0", "block10_add")
    assert agreement.matches and agreement.largest_float64 == pytest.approx(8.7e-8)
    frame = agreement.frame()
    assert frame.index.name == "method" and list(frame.columns) == ["float32", "float64"]
    assert frame.loc["Score-CAM", "float32"] == pytest.approx(4e-6)
    assert math.isnan(frame.loc["Score-CAM", "float64"])  # compared in float32 only


@pytest.mark.parametrize(
    "leave_out, model, layer",
    [
        ((), "vgg16", "block10_add"),  # measured for another network
        ((), "efficientnet-lite0", "top_activation"),  # or at another layer
        (("max_diff_float64",), "efficientnet-lite0", "block10_add"),  # in float32 only
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
    return [SanityStep(n, (), np.zeros((2, 2)), r) for n, r in zip(names, rhos, strict=False)]


def test_final_correlations_are_the_last_steps_absolute_rho():
    sanity = {"cat": _cascade(1.0, 0.5, -0.17), "espresso": _cascade(1.0, 0.01)}
    assert findings.final_correlations(sanity) == {"cat": 0.17, "espresso": 0.01}


def test_cascade_frame_labels_each_step_by_what_was_added():
    frame = findings.cascade_frame(
        {"Grad-CAM": _cascade(1.0, 0.2, -0.1), "Guided Backprop": _cascade(1.0, 0.99, 0.98)}
    )
    assert list(frame.index) == ["trained", "+ logits", "+ top"]
    assert frame["Grad-CAM"].tolist() == [1.0, 0.2, 0.1]
    assert frame["Guided Backprop"].iloc[-1] == 0.98


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
