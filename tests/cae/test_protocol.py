"""The latent protocol: t-SNE and UMAP fitted on training images embed new ones; one scoring for
every embedding; the results file round trip and the table with the published anchors."""

import json

import numpy as np
import pytest

from deepvis.cae import latent, protocol
from deepvis.errors import DeepvisError


def blocks(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` images (N, 28, 28, 1) of three classes, each lighting its own band of nine rows, with
    noise in [0, 0.05]; and their (N,) labels."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.uniform(0, 0.05, (n, 28, 28, 1)).astype(np.float32)
    for c in range(3):
        x[y == c, 9 * c : 9 * c + 9] += 0.9
    return x, y


@pytest.fixture(scope="module")
def split() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """240 training and 60 test images of `blocks`."""
    return blocks(240, seed=0), blocks(60, seed=1)


@pytest.fixture(scope="module")
def fits(split) -> dict[str, tuple[protocol.Fit, protocol.Fit]]:
    """t-SNE and UMAP, each fitted twice with the same seed."""
    (x_train, _), (x_test, _) = split
    return {
        "t-SNE": tuple(protocol.fit_tsne(x_train, x_test, n_jobs=1) for _ in range(2)),
        "UMAP": tuple(protocol.fit_umap(x_train, x_test) for _ in range(2)),
    }


@pytest.mark.parametrize("name", ["t-SNE", "UMAP"])
def test_fits_embed_new_points_into_the_training_map(split, fits, name):
    (x_train, y_train), (x_test, y_test) = split
    fit, again = fits[name]
    assert fit.train.shape == (240, 2) and fit.test.shape == (60, 2)
    assert fit.train.dtype == fit.test.dtype == np.float32
    assert np.isfinite(fit.train).all() and np.isfinite(fit.test).all() and fit.seconds > 0
    # Same seed, same codes.
    np.testing.assert_array_equal(fit.train, again.train)
    np.testing.assert_array_equal(fit.test, again.test)
    # Each test image lands among the training codes of its class: read from them, all right.
    scores = latent.code_scores(fit.train, y_train, fit.test, x_test, y_test)
    assert scores["knn5"] == 1.0 and scores["silhouette"] > 0.5
    assert fit.settings["random_state"] == protocol.SEED
    assert fit.settings["preprocessing"].startswith("PCA to 50 components")


def test_reduce_fits_the_pca_on_the_training_images_only(split):
    (x_train, _), (x_test, _) = split
    train, test = protocol.reduce(x_train, x_test, n_components=5)
    assert train.shape == (240, 5) and test.shape == (60, 5) and test.dtype == np.float32
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-4)  # centred on the training set
    _, test_alone = protocol.reduce(x_train, x_test[:10], n_components=5)
    np.testing.assert_allclose(test_alone, test[:10], atol=1e-5)


def test_reduced_knn_reads_the_classes_in_the_50_d_space(split):
    (x_train, y_train), (x_test, y_test) = split
    # Each class lights its own band of rows: every test image read right ...
    assert protocol.reduced_knn(x_train, y_train, x_test, y_test) == 1.0
    # ... and with the test labels rotated, every one read wrong.
    assert protocol.reduced_knn(x_train, y_train, x_test, (y_test + 1) % 3) == 0.0


class _Trained:
    """What `protocol.encode_cae` reads of a `TrainedCAE`: an encoder that keeps two pixels."""

    def __init__(self) -> None:
        import keras

        image = keras.Input((28, 28, 1))
        codes = keras.layers.Lambda(lambda x: x[:, :2])(keras.layers.Flatten()(image))
        self.cae = type("CAE", (), {"encoder": keras.Model(image, codes), "decoder": None})()
        self.config = type("Config", (), {"key": lambda self: "cae-test"})()

    def summary(self) -> dict:
        return {"epochs": 3, "seconds_per_epoch": 2.0, "cpu": "test CPU", "params": 0}


def test_run_writes_every_embedding_and_the_file_reads_back(split, tmp_path, capsys):
    out = tmp_path / "report" / "latent_protocol.json"
    results = protocol.run(split, _Trained(), path=out)
    saved = protocol.load_protocol(out)
    assert saved == json.loads(json.dumps(results)) and set(saved) == set(protocol.EMBEDDINGS)
    for entry in saved.values():
        assert entry["fitted on"] == "train (240)" and entry["scored on"] == "test (60)"
        assert set(entry["scores"]) == {
            "knn5",
            "silhouette",
            "trustworthiness",
            "trustworthiness_all",
        }
        assert entry["seconds"] >= 0 and entry["cpu"]
    assert saved["CAE"]["training"] == {"epochs": 3, "seconds": 6.0, "cpu": "test CPU"}
    assert saved["t-SNE"]["settings"]["package"].startswith("openTSNE ")
    assert saved["UMAP"]["settings"]["package"].startswith("umap-learn ")
    assert "t-SNE: fitting on 240 images, embedding 60" in capsys.readouterr().out

    frame = protocol.table(saved)
    assert list(frame.columns) == protocol.COLUMNS
    assert list(frame.index) == [
        "CAE",
        "PCA",
        "t-SNE",
        "UMAP",
        "PCA, published",
        "AE, published",
        "UMAP, published",
        "t-SNE, published",
    ]
    assert frame.loc["UMAP", "knn5"] == saved["UMAP"]["scores"]["knn5"]
    assert frame.loc["UMAP", "seconds"] == saved["UMAP"]["seconds"]
    assert frame.loc["CAE", "seconds"] == saved["CAE"]["seconds"]  # encoding only, not training
    assert frame.loc["t-SNE, published", "knn5"] == 0.804
    assert frame.loc["AE, published", "trustworthiness_all"] == 0.970
    assert frame.loc["PCA, published", "knn5"] == 0.506  # the calibration: the same PCA-2
    assert np.isnan(frame.loc["UMAP, published", "trustworthiness"])
    assert np.isnan(frame.loc["AE, published", "seconds"])


def test_missing_results_name_the_command(project_home, monkeypatch):
    with pytest.raises(DeepvisError, match=r"latent_protocol.json is missing: run `make protocol`"):
        protocol.load_protocol()
    # Quick mode writes under build/quick/ and reads the full run's file where it has none.
    full = project_home / "report" / "latent_protocol.json"
    full.parent.mkdir(parents=True)
    full.write_text('{"PCA": {}}')
    monkeypatch.setenv("DEEPVIS_QUICK", "1")
    assert protocol.results_path() == project_home / "build" / "quick" / "report" / full.name
    assert protocol.load_protocol() == {"PCA": {}}
