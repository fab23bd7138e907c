"""``make seeds``: the spread over seeds and the merged results file."""

from __future__ import annotations

import json

import pytest

from deepvis.cae import seeds
from deepvis.errors import DeepvisError


def _scores(value: float) -> dict[str, float]:
    return {metric: value for metric in seeds.METRICS} | {"cpu": "test CPU"}


def test_spread_is_mean_sample_std_min_and_max_per_metric():
    spread = seeds.spread({"0": _scores(1.0), "1": _scores(2.0), "2": _scores(6.0)})
    # mean 3, deviations -2, -1, 3: sum of squares 14 over n - 1 = 2, std sqrt(7)
    assert spread["dcae.psnr"] == pytest.approx(
        {"mean": 3.0, "std": 7**0.5, "min": 1.0, "max": 6.0}
    )
    assert set(spread) == set(seeds.METRICS)
    assert seeds.spread({"0": _scores(0.5)})["cae.test_bce"]["std"] == 0.0


def test_run_merges_each_seed_into_the_file_as_it_finishes(tmp_path, monkeypatch):
    path = tmp_path / "seeds.json"
    monkeypatch.setattr(seeds, "score_seed", lambda seed, data: _scores(float(seed)))
    monkeypatch.setattr("deepvis.data.load_fashion_mnist", lambda: None)
    seeds.run([2, 0], path)
    seeds.run([1], path)  # a later run adds to the earlier seeds
    content = json.loads(path.read_text())
    assert content["split"] == "test"
    assert list(content["seeds"]) == ["0", "1", "2"]
    assert content["spread"]["latent.cae.knn5"]["mean"] == 1.0
    assert seeds.load(path) == content


def test_a_missing_file_says_how_to_make_it(tmp_path):
    with pytest.raises(DeepvisError, match="run `make seeds`"):
        seeds.load(tmp_path / "seeds.json")


def test_table_shows_seed_zero_and_the_spread_in_each_metrics_format():
    per_seed = {"0": _scores(0.5), "1": _scores(0.25), "2": _scores(0.75)}
    content = {"seeds": per_seed, "spread": seeds.spread(per_seed)}
    shown = seeds.table(content)
    assert list(shown.index) == [label for label, _ in seeds.LABELS.values()]
    assert shown.loc["denoising CAE PSNR (dB)"].to_dict() == {
        "seed 0": "0.50", "mean": "0.50", "std": "0.25", "range": "0.25 to 0.75"
    }
    assert shown.loc["CAE test BCE per pixel", "std"] == "0.25"


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.00937, "0.0094"), (0.000649, "0.00065"), (1.234, "1.2"), (12.5, "12"), (0.0, "0")],
)
def test_significant_keeps_two_significant_digits(value, text):
    assert seeds.significant(value) == text


def test_there_is_no_quick_mode(monkeypatch, capsys):
    monkeypatch.setenv("DEEPVIS_QUICK", "1")
    assert seeds.main([]) == 2
    assert "has no quick mode" in capsys.readouterr().err
