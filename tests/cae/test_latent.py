"""Latent-space metrics on toy data with known answers, and the PCA path."""

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA

from deepvis.cae import latent, quality
from deepvis.data import CLASS_NAMES, flatten


def clusters(n_per: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ten tight 2-D clusters far apart: (10 n_per, 2) codes and their labels."""
    rng = np.random.default_rng(seed)
    centres = np.array([[10.0 * c, 10.0 * (c % 3)] for c in range(10)])
    labels = np.repeat(np.arange(10), n_per)
    return centres[labels] + rng.normal(0, 0.1, (len(labels), 2)), labels


def test_knn_and_silhouette_of_separated_clusters():
    train, y_train = clusters(seed=0)
    test, y_test = clusters(seed=1)
    assert latent.knn_accuracy(train, y_train, test, y_test) == 1.0
    assert latent.silhouette(test, y_test) > 0.9


def test_knn_and_silhouette_of_random_labels_are_low():
    codes, labels = clusters()
    shuffled = np.random.default_rng(0).permutation(labels)
    assert latent.knn_accuracy(codes, shuffled, codes[:100], shuffled[:100]) < 0.5
    assert latent.silhouette(codes, shuffled) < 0.1


def test_trustworthiness_of_an_isometry_is_one_and_of_noise_lower():
    rng = np.random.default_rng(0)
    x = np.zeros((300, 28, 28, 1), dtype=np.float32)
    x[:, 0, :2, 0] = rng.uniform(0, 1, (300, 2))  # data living in a 2-D plane of pixel space
    codes = flatten(x)[:, :2] * 3.0
    assert latent.trustworthiness(x, codes, n=200) == pytest.approx(1.0)
    assert latent.trustworthiness(x, rng.normal(size=(300, 2)), n=200) < 0.7


def test_pca_path_equals_scikit_learn_on_a_small_matrix():
    rng = np.random.default_rng(0)
    x_train = rng.uniform(0, 1, (60, 28, 28, 1)).astype(np.float32)
    x_test = rng.uniform(0, 1, (15, 28, 28, 1)).astype(np.float32)
    pca = latent.fit_pca(x_train)
    reference = PCA(n_components=2, random_state=0).fit(x_train.reshape(60, 784))
    np.testing.assert_allclose(
        latent.embed(pca, x_test), reference.transform(x_test.reshape(15, 784)), atol=1e-5
    )
    assert latent.embed(pca, x_test).shape == (15, 2)
    assert latent.embed(pca, x_test).dtype == np.float32


def test_sample_indices_are_seeded_distinct_and_sorted():
    a = latent.sample_indices(10_000, 1000, seed=0)
    np.testing.assert_array_equal(a, latent.sample_indices(10_000, 1000, seed=0))
    assert len(np.unique(a)) == 1000 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, latent.sample_indices(10_000, 1000, seed=1))
    assert len(latent.sample_indices(50, 1000)) == 50


def test_embedding_scores_and_table():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (40, 28, 28, 1)).astype(np.float32)
    y = np.arange(40) % 10
    pca = latent.fit_pca(x)
    scores = latent.embedding_scores(pca, x, y, x, y, trust_sample=30)
    assert set(scores) == {
        "knn5",
        "silhouette",
        "trustworthiness",
        "trustworthiness_all",
        "test_bce",
    }
    assert scores["trustworthiness_all"] == pytest.approx(
        latent.trustworthiness(x, latent.embed(pca, x), n=len(x))
    )
    expected = quality.bce(x, np.clip(pca.inverse_transform(pca.transform(flatten(x))), 0, 1))
    assert scores["test_bce"] == pytest.approx(expected, rel=1e-6)
    table = latent.comparison_table({"A": scores, "B": {"knn5": 0.5}})
    assert isinstance(table, pd.DataFrame)
    assert list(table.index) == ["A", "B"] and table.index.name == "embedding"
    assert list(table.columns)[:3] == ["knn5", "silhouette", "trustworthiness"]


def test_cae_embedding_follows_the_pca_protocol():
    image_in = keras.Input((28, 28, 1))
    encoder = keras.Model(image_in, keras.layers.Flatten()(image_in)[:, :2])
    code_in = keras.Input((2,))
    decoder = keras.Model(code_in, keras.layers.Dense(784, activation="sigmoid")(code_in))
    embedding = latent.CAEEmbedding(encoder, decoder)
    x = np.random.default_rng(0).uniform(0, 1, (7, 28, 28, 1)).astype(np.float32)
    codes = embedding.transform(flatten(x))
    np.testing.assert_allclose(codes, flatten(x)[:, :2], atol=1e-6)
    np.testing.assert_allclose(latent.embed(embedding, x), codes)
    rows = embedding.inverse_transform(codes)
    assert rows.shape == (7, 784) and rows.dtype == np.float32
    assert quality.reconstruct(embedding, x).shape == x.shape


def test_knn_predictions_and_per_class_recall():
    train, y_train = clusters(seed=0)
    test, y_test = clusters(seed=1)
    pred = latent.knn_predict(train, y_train, test)
    np.testing.assert_array_equal(pred, y_test)
    wrong = np.where(y_test == 0, 1, pred)  # every class-0 image called class 1
    recall = latent.per_class_recall(y_test, wrong)
    assert list(recall.index) == list(CLASS_NAMES)
    assert recall["T-shirt/top"] == 0.0 and recall.drop("T-shirt/top").eq(1.0).all()


def test_decoder_manifold_grid_orientation():
    code_in = keras.Input((2,))
    # A "decoder" whose every pixel equals the first code: images reveal where they were decoded.
    first = keras.layers.Lambda(lambda c: keras.ops.repeat(c[:, :1], 784, axis=1))(code_in)
    decoder = keras.Model(code_in, keras.layers.Reshape((28, 28, 1))(first))
    codes = np.random.default_rng(0).uniform(-1, 1, (500, 2)).astype(np.float32)
    embedding = latent.CAEEmbedding(encoder=None, decoder=decoder)
    m = latent.decoder_manifold(embedding, codes, n=5, quantiles=(0.0, 1.0))
    assert m.images.shape == (5, 5, 28, 28)
    assert np.all(np.diff(m.code1) > 0) and np.all(np.diff(m.code2) < 0)
    assert m.code1[0] == pytest.approx(codes[:, 0].min())
    assert m.code2[0] == pytest.approx(codes[:, 1].max())
    np.testing.assert_allclose(m.images[2, :, 0, 0], m.code1, atol=1e-6)


def test_tsne_reference_on_separated_pixel_clusters():
    rng = np.random.default_rng(0)
    y = np.arange(120) % 3
    x = np.zeros((120, 28, 28, 1), dtype=np.float32)
    for c in range(3):  # each class lights its own block of pixels
        x[y == c, 9 * c : 9 * c + 9] = 1.0
    x += rng.uniform(0, 0.05, x.shape).astype(np.float32)
    scores = latent.tsne_scores(x, y, n=100)
    assert scores["knn5"] == 1.0 and scores["silhouette"] > 0.5
    assert scores["trustworthiness"] > 0.9 and "test_bce" not in scores
