import json

import numpy as np
import pandas as pd
import pytest

from deepvis.cae import variants
from deepvis.cae.model import check_symmetric
from deepvis.errors import DeepvisError

from . import known


def test_every_variant_is_a_valid_symmetric_2d_configuration():
    for name in variants.VARIANTS:
        config = variants.variant_config(name)
        check_symmetric(config.filters, config.filters[::-1])
        assert config.latent_dim == 2 and config.epochs == variants.SCREEN_EPOCHS
        assert config.train_subset is None and config.test_subset is None


def test_variants_have_distinct_cache_keys():
    keys = {variants.variant_config(name).key() for name in variants.VARIANTS}
    assert len(keys) == len(variants.VARIANTS)


def test_every_lever_changes_exactly_one_setting():
    from dataclasses import asdict

    for lever, without, with_ in variants.LEVERS:
        a, b = (asdict(variants.variant_config(n)) for n in (without, with_))
        assert len([k for k in a if a[k] != b[k]]) == 1, lever


def test_unknown_variant_names_the_choices():
    with pytest.raises(DeepvisError, match="unknown variant 'huge'.*choose from"):
        variants.variant_config("huge")


def test_missing_results_file_reads_as_empty(tmp_path):
    assert variants.load_results(tmp_path / "variants.json") == {}


def _first_pixels_cae(history):
    """A `TrainedCAE` whose Keras encoder and decoder are `known.FirstPixels`: 1,568 weights."""
    import keras

    from deepvis.cae.model import CAE
    from deepvis.cae.train import TrainedCAE

    image = keras.Input((28, 28, 1))
    codes = keras.layers.Lambda(lambda x: 10.0 * x[:, :2])(keras.layers.Flatten()(image))
    encoder = keras.Model(image, codes)
    code_in = keras.Input((2,))
    dense = keras.layers.Dense(784, use_bias=False)
    decoder = keras.Model(code_in, keras.layers.Reshape((28, 28, 1))(dense(code_in)))
    kernel = np.zeros((2, 784), dtype=np.float32)
    kernel[0, 0] = kernel[1, 1] = 0.1
    dense.set_weights([kernel])
    cae = CAE(keras.Model(image, decoder(encoder(image))), encoder, decoder)
    config = variants.variant_config("16-32-64")
    return TrainedCAE(config, cae, history, cache_dir=None, loaded=True)


def test_score_and_run_rows_against_known_answers(project_home, monkeypatch):
    data = known.known_split()
    history = {"loss": [0.4, 0.3], "val_loss": [0.41, 0.31], "seconds": [3.0, 5.0]}
    trained = _first_pixels_cae(history)
    row = variants.score(trained, data)
    assert row["knn5"] == known.KNN5
    assert row["test_bce"] == pytest.approx(known.reconstruction_bce(data[1][0]), rel=1e-5)
    assert 0 < row["trustworthiness"] < 1 and -1 <= row["silhouette"] <= 1
    assert (row["epochs"], row["seconds_per_epoch"], row["params"]) == (2, 4.0, 2 * 784)

    # run(): one row per variant and budget, merged into one JSON file.
    fitted = []

    def fit_or_load(config, x_train, x_test, verbose):
        fitted.append((config.filters, config.epochs, len(x_train), len(x_test)))
        return trained

    monkeypatch.setattr("deepvis.cae.train.fit_or_load", fit_or_load)
    # The test set plays no part: the screen trains on the training set without its validation
    # split and scores on that split (here the known split's 100 and 40 images).
    monkeypatch.setattr("deepvis.data.load_fashion_mnist", lambda: (data[0], (None, None)))
    split = []

    def split_training_set(x, y, holdout):
        split.append(holdout)
        return data

    monkeypatch.setattr(variants, "split_training_set", split_training_set)
    out = project_home / "report" / "variants.json"
    variants.run(["16-32-64"], epochs=1, path=out)
    variants.run(["32-64-128"], epochs=1, path=out)
    variants.run(["16-32-64"], epochs=2, path=out)  # a second budget adds a row, keeps the first
    assert fitted == [
        ((16, 32, 64), 1, 100, 40),
        ((32, 64, 128), 1, 100, 40),
        ((16, 32, 64), 2, 100, 40),
    ]
    rows = json.loads(out.read_text())
    assert list(rows) == ["16-32-64", "32-64-128"] and list(rows["16-32-64"]) == ["1", "2"]
    assert rows["32-64-128"]["1"]["config"] == variants.variant_config("32-64-128", 1).key()
    assert rows["16-32-64"]["2"]["config"] == variants.variant_config("16-32-64", 2).key()
    assert split == [variants.SCREEN_BASE["holdout"]] * 3 == [10_000] * 3
    for runs in rows.values():
        for saved in runs.values():
            assert saved["knn5"] == known.KNN5 and saved["params"] == 2 * 784
            assert saved["scored_on"] == "validation"

    # run_seeds(): the repeated variant with each seed, one row per seed, merged.
    fitted.clear()
    seeds_out = project_home / "report" / "screen_seeds.json"
    variants.run_seeds((0, 1), name="16-32-64", path=seeds_out)
    content = variants.run_seeds((2,), name="16-32-64", path=seeds_out)
    assert fitted == [((16, 32, 64), variants.SCREEN_EPOCHS, 100, 40)] * 3
    assert content == variants.load_seeds(seeds_out)
    assert (content["variant"], content["epochs"], content["scored_on"]) == (
        "16-32-64", variants.SCREEN_EPOCHS, "validation")
    assert list(content["seeds"]) == ["0", "1", "2"]
    keys = [row["config"] for row in content["seeds"].values()]
    assert keys[0] == variants.variant_config("16-32-64").key() and len(set(keys)) == 3


def test_levers_name_real_variants_and_effects_are_differences():
    for _, without, with_ in variants.LEVERS:
        assert without in variants.VARIANTS and with_ in variants.VARIANTS
    row = dict(knn5=0.6, trustworthiness=0.95, silhouette=0.1, test_bce=0.33, seconds_per_epoch=20)
    better = row | dict(knn5=0.7, test_bce=0.32, seconds_per_epoch=30)
    at = str(variants.SCREEN_EPOCHS)
    # Only one lever complete at the screening budget; a longer run does not count.
    results = {"16-32-64": {at: row}, "16-32-64, batch-norm": {at: better, "30": row}}
    results["32-64-128"] = {"30": better}
    table = variants.effects(results)
    assert list(table.index) == ["batch-norm (16-32-64)"]
    got = table.loc["batch-norm (16-32-64)"]
    assert got.knn5 == pytest.approx(0.1) and got.test_bce == pytest.approx(-0.01)
    assert got.trustworthiness == 0 and got.time_ratio == pytest.approx(1.5)
    assert variants.effects({}).empty


def test_matching_finds_the_variant_a_config_trains():
    from dataclasses import replace

    from deepvis.cae.config import CAEConfig

    config = replace(variants.variant_config("16-32-64, batch-norm"), name="cae", epochs=30)
    assert variants.matching(config) == "16-32-64, batch-norm"
    assert variants.matching(replace(config, train_subset=100)) == "16-32-64, batch-norm"
    assert variants.matching(CAEConfig(filters=(8, 8, 8))) is None


def test_table_follows_the_variant_order_and_skips_missing_rows():
    row = dict(
        knn5=0.6,
        trustworthiness=0.9,
        silhouette=0.1,
        test_bce=0.3,
        seconds_per_epoch=9,
        params=10,
        config="x",
    )
    names = list(variants.VARIANTS)
    at = str(variants.SCREEN_EPOCHS)
    frame = variants.table({names[2]: {at: row}, names[0]: {at: row}, names[1]: {"30": row}})
    assert list(frame.index) == [names[0], names[2]]
    assert list(frame.columns) == [*variants.SCORES, "seconds_per_epoch", "params"]
    assert list(variants.table({names[1]: {"30": row}}, epochs=30).index) == [names[1]]


def test_curve_sorts_budgets_numerically_and_marks_missing_scores():
    row = dict(knn5=0.6, trustworthiness=0.9, silhouette=0.1, test_bce=0.3, seconds_per_epoch=9)
    results = {"v": {"32": row | dict(knn5=0.7, trustworthiness_all=0.97), "6": row}}
    frame = variants.curve(results, "v")
    assert list(frame.index) == [6, 32] and frame.index.name == "epochs"
    assert frame.loc[32, "knn5"] == 0.7 and np.isnan(frame.loc[6, "trustworthiness_all"])
    assert variants.curve(results, "w").empty


def test_longer_runs_pick_the_report_budget_its_double_and_the_relu_code():
    row = dict(knn5=0.6, trustworthiness=0.9, silhouette=0.1, test_bce=0.3, seconds_per_epoch=9)
    results = {variants.REPEATED: {"6": row, "16": row | dict(knn5=0.70),
                                   "32": row | dict(knn5=0.71)},
               variants.RELU_CODE: {"16": row | dict(knn5=0.56)}}
    frame = variants.longer_runs(results, 16)
    assert list(frame.index) == ["budget", "double", "relu"]
    assert list(frame.knn5) == [0.70, 0.71, 0.56]
    del results[variants.RELU_CODE]["16"]
    with pytest.raises(KeyError, match="16-epoch run of .*ReLU code"):
        variants.longer_runs(results, 16)


def test_the_report_cae_is_the_screened_variant_at_the_report_budget():
    from dataclasses import replace

    from deepvis.cae.config import CAEConfig

    config = CAEConfig()  # the report's CAE outside quick mode, trained on all 60,000 images
    name = variants.matching(config)
    # The same configuration, but trained without the validation split's images.
    screened = variants.variant_config(name, config.epochs)
    assert screened == replace(config, holdout=10_000)
    assert screened.key() != config.key()
    assert name == variants.REPEATED  # the seeds of the screen repeat the report's configuration


def test_noise_is_three_sample_standard_deviations_of_each_score_over_the_seeds():
    # knn5 0.670, 0.672, 0.674: sample std 0.002, so 0.006; bce 0.3208, 0.3210, 0.3212: 0.0006.
    runs = {str(seed): {"knn5": k, "trustworthiness": 0.95, "trustworthiness_all": t,
                        "test_bce": b, "silhouette": seed}
            for seed, k, t, b in [(0, 0.670, 0.96, 0.3208), (1, 0.672, 0.96, 0.3210),
                                  (2, 0.674, 0.96, 0.3212)]}
    got = variants.noise(runs)
    assert got == pytest.approx({"knn5": 0.006, "trustworthiness": 0.0,
                                 "trustworthiness_all": 0.0, "test_bce": 0.0006})
    with pytest.raises(DeepvisError, match="at least 2 seeds, got 1.*--seeds"):
        variants.noise({"0": runs["0"]})
    # The final models' seeds (report/seeds.json) name their scores by metric.
    final = {seed: {variants.SEED_METRICS[k]: v for k, v in row.items() if k != "silhouette"}
             for seed, row in runs.items()}
    assert variants.noise(final, variants.SEED_METRICS) == pytest.approx(got)


def test_missing_screen_seeds_say_how_to_make_them(tmp_path):
    with pytest.raises(DeepvisError, match="screen_seeds.json not found.*--seeds"):
        variants.load_seeds(tmp_path / "screen_seeds.json")


def test_beyond_noise_marks_changes_at_least_their_threshold_in_size():
    changes = pd.DataFrame({"knn5": [0.01, -0.007, 0.002], "test_bce": [-0.001, 0.0001, 0.0],
                            "silhouette": [0.5, 0.5, 0.5]}, index=["a", "b", "c"])
    real = variants.beyond_noise(changes, {"knn5": 0.006, "test_bce": 0.0003, "trust": 0.1})
    assert list(real.columns) == ["knn5", "test_bce"]  # no threshold, no verdict; no column, none
    assert real.knn5.tolist() == [True, True, False]
    assert real.test_bce.tolist() == [True, False, False]


def test_ties_are_the_rows_within_the_threshold_of_the_best_best_first():
    frame = pd.DataFrame({"knn5": [0.670, 0.675, 0.650, 0.671, np.nan],
                          "test_bce": [0.321, 0.320, 0.330, 0.3208, 0.3]},
                         index=["a", "b", "c", "d", "e"])
    assert variants.ties(frame, 0.006) == ["b", "d", "a"]  # "c" is 0.025 below; "e" unscored
    assert variants.ties(frame, 0.001) == ["b"]
    assert variants.ties(frame, 0.0005, column="test_bce") == ["e"]  # lower is better
    assert variants.ties(frame.drop(index="e"), 0.001, column="test_bce") == ["b", "d"]


def test_t_bar_is_the_t_quantile_times_root_two_sample_standard_deviations():
    # knn5 0.670, 0.672, 0.674: sample std 0.002; t(0.975, 2 df) = 4.3027 (tables), so a
    # difference of two single runs needs 4.3027 * sqrt(2) * 0.002 = 0.01217
    runs = {str(seed): {"knn5": k} for seed, k in enumerate((0.670, 0.672, 0.674))}
    assert variants.t_bar(runs) == pytest.approx(0.012170, abs=2e-6)
    assert variants.t_bar(runs) / 0.002 == pytest.approx(6.085, abs=1e-3)  # about 6 sigma
    with pytest.raises(DeepvisError, match="at least 2 seeds, got 1"):
        variants.t_bar({"0": runs["0"]})


def test_accuracy_se_is_the_binomial_standard_error_and_adds_variances():
    # p = 0.5 on 10,000 images: sqrt(0.25 / 10000) = 0.005; 0.7 and 0.5: sqrt((0.21 + 0.25) / n)
    assert variants.accuracy_se(0.5, n=10_000) == pytest.approx(0.005)
    assert variants.accuracy_se(0.7, 0.5, n=10_000) == pytest.approx(0.0067823, abs=1e-7)
    assert variants.accuracy_se(1.0, n=100) == 0.0  # no spread at certainty


def test_paired_accuracy_se_counts_only_the_images_the_two_disagree_on():
    y = np.zeros(100, dtype=int)
    # a right on 30 images that b gets wrong, b right on 10 that a gets wrong, 60 the same:
    # d is +1 (30), -1 (10), 0 (60); mean 0.2, sample variance (40 - 100 * 0.04) / 99
    a = np.r_[np.zeros(30), np.ones(10), np.zeros(30), np.ones(30)].astype(int)
    b = np.r_[np.ones(30), np.zeros(10), np.zeros(30), np.ones(30)].astype(int)
    se = variants.paired_accuracy_se(y, a, b)
    assert se == pytest.approx(np.sqrt(36 / 99 / 100))
    assert se < variants.accuracy_se(0.6, 0.4, n=100)  # pairing removes the shared images
    assert variants.paired_accuracy_se(y, a, a) == 0.0  # the same predictions: no difference


def test_lever_names_its_two_variants_and_refuses_an_unknown_one():
    assert variants.lever("ReLU bottleneck") == (
        "16-32-64, batch-norm",
        "16-32-64, batch-norm, ReLU code",
    )
    with pytest.raises(DeepvisError, match="no lever 'ReLU code'.*ReLU bottleneck"):
        variants.lever("ReLU code")


def test_pca_score_reads_classes_that_two_components_separate():
    """Three classes, each lighting its own band of rows: PCA's plane, fitted on the first set,
    keeps them apart, so a 5-NN reads every image of the second set right."""
    rng = np.random.default_rng(0)

    def bands(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % 3
        x = rng.uniform(0, 0.05, (n, 28, 28, 1)).astype(np.float32)
        for c in range(3):
            x[y == c, 9 * c : 9 * c + 9] += 0.9
        return x, y

    scores = variants.pca_score((bands(150), bands(60)))
    assert scores["knn5"] == 1.0 and scores["silhouette"] > 0.5
    assert 0 < scores["test_bce"] < 1


def test_improvement_is_positive_where_a_run_scores_better():
    frame = pd.DataFrame({"knn5": [0.70, 0.71, 0.56], "test_bce": [0.317, 0.315, 0.352]},
                         index=["budget", "double", "relu"])
    better = variants.improvement(frame, "double", "budget")
    assert better.to_dict() == pytest.approx({"knn5": 0.01, "test_bce": 0.002})  # lower BCE
    assert (variants.improvement(frame, "relu", "budget") < 0).all()
