"""Latent-space metrics on toy data with known answers, and the PCA path."""

import keras
import numpy as np
import pytest
from sklearn.decomposition import PCA

from deepvis.cae import latent, quality
from deepvis.data import CLASS_NAMES, flatten

from . import known


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


def reference_silhouette(codes, labels):
    """Rousseeuw's silhouette, written out: (b - a) / max(a, b) averaged over the points."""
    dist = np.linalg.norm(codes[:, None] - codes[None], axis=-1)
    values = []
    for i, c in enumerate(labels):
        same = (labels == c) & (np.arange(len(labels)) != i)
        a = dist[i, same].mean()
        b = min(dist[i, labels == other].mean() for other in set(labels) - {c})
        values.append((b - a) / max(a, b))
    return float(np.mean(values))


def reference_trustworthiness(x, codes, k=5):
    """Venna and Kaski's trustworthiness, written out: 1 - 2 / (n k (2n - 3k - 1)) times the sum,
    over each point's k nearest neighbours in the codes, of how far (in rank) beyond its k
    nearest in pixel space they are."""
    n = len(x)
    pixel_dist = np.linalg.norm(x[:, None] - x[None], axis=-1)
    code_dist = np.linalg.norm(codes[:, None] - codes[None], axis=-1)
    rank = np.empty((n, n), dtype=int)
    for i in range(n):
        rank[i, np.argsort(pixel_dist[i])] = np.arange(n)  # 0 for the point itself
    penalty = 0
    for i in range(n):
        for j in np.argsort(code_dist[i])[1 : k + 1]:
            penalty += max(rank[i, j] - k, 0)
    return 1.0 - 2.0 / (n * k * (2 * n - 3 * k - 1)) * penalty


def test_embedding_scores_against_known_answers():
    (x_train, y_train), (x_test, y_test) = known.known_split()
    embedding = known.FirstPixels()
    scores = latent.embedding_scores(embedding, x_train, y_train, x_test, y_test, trust_sample=30)
    assert set(scores) == {
        "knn5",
        "silhouette",
        "trustworthiness",
        "trustworthiness_all",
        "test_bce",
    }
    assert scores["knn5"] == known.KNN5  # 0.75; with train and test swapped it would be 1.0
    pixels = flatten(x_test).astype(np.float64)
    codes = 10.0 * pixels[:, :2]
    assert scores["silhouette"] == pytest.approx(reference_silhouette(codes, y_test), abs=1e-6)
    assert scores["trustworthiness_all"] == pytest.approx(
        reference_trustworthiness(pixels, codes), abs=1e-9
    )
    sample = latent.sample_indices(40, 30)
    assert scores["trustworthiness"] == pytest.approx(
        reference_trustworthiness(pixels[sample], codes[sample]), abs=1e-9
    )
    assert scores["trustworthiness_all"] < 1.0  # the third pixel is lost: not a trivial 1
    assert scores["trustworthiness"] != scores["trustworthiness_all"]
    assert scores["test_bce"] == pytest.approx(known.reconstruction_bce(x_test), rel=1e-5)


def test_comparison_table_and_metric_values():
    table = latent.comparison_table(
        {
            "CAE": {"knn5": 0.7, "silhouette": 0.1, "test_bce": 0.32},
            "PCA": {"knn5": 0.5, "silhouette": -0.05, "test_bce": 0.39},
            "t-SNE": {"knn5": 0.8, "silhouette": 0.3, "test_bce": float("nan")},
        }
    )
    assert list(table.index) == ["CAE", "PCA", "t-SNE"] and table.index.name == "embedding"
    assert list(table.columns) == ["knn5", "silhouette", "test_bce"]
    assert latent.metric_values(table) == {
        "cae.knn5": 0.7,
        "cae.silhouette": 0.1,
        "cae.test_bce": 0.32,
        "pca.knn5": 0.5,
        "pca.silhouette": -0.05,
        "pca.test_bce": 0.39,
    }
    assert latent.metric_values(table, names=["t-SNE"])["t-sne.knn5"] == 0.8


def test_confused_within_counts_only_wrong_images_of_the_group():
    t_shirt, trouser, pullover, coat, shirt, bag = 0, 1, 2, 4, 6, 8
    y_true = np.array([t_shirt, t_shirt, pullover, coat, shirt, trouser, trouser, shirt])
    y_pred = np.array([pullover, t_shirt, bag, shirt, t_shirt, pullover, trouser, shirt])
    # Wrong within the upper-body group: T-shirt->Pullover, Pullover->Bag, Coat->Shirt,
    # Shirt->T-shirt; three of the four stay in the group. Trouser->Pullover is not the
    # group's mistake, and the correct predictions do not count.
    assert latent.confused_within(y_true, y_pred, latent.UPPER_BODY) == 0.75
    assert latent.confused_within(y_true, y_pred, ["Trouser", "Bag"]) == 0.0  # 1 wrong, left
    assert latent.confused_within(y_true, y_pred, ["Coat", "Bag"]) == 0.0


def test_misreadings_name_each_wrongly_read_image_with_its_article():
    coat, shirt, boot = (CLASS_NAMES.index(n) for n in ("Coat", "Shirt", "Ankle boot"))
    y_true = np.array([coat, shirt, coat, boot])
    y_read = np.array([boot, shirt, shirt, boot])  # the 2nd and 4th are read right
    assert latent.misreadings(y_true, y_read) == [
        "the coat as an ankle boot",
        "the coat as a shirt",
    ]
    assert latent.misreadings(y_true, y_true) == []


def test_confused_within_is_nan_when_no_image_of_the_group_is_wrong():
    y = np.array([0, 2, 4, 6, 1])
    assert np.isnan(latent.confused_within(y, y, latent.UPPER_BODY))
    wrong_elsewhere = np.array([0, 2, 4, 6, 2])  # only the Trouser is wrong
    assert np.isnan(latent.confused_within(y, wrong_elsewhere, latent.UPPER_BODY))
    assert np.isnan(latent.confused_within(y, y, ["Bag"]))  # no image of the class at all


def test_embedding_scores_of_a_pca_are_those_of_its_reconstruction():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (40, 28, 28, 1)).astype(np.float32)
    y = np.arange(40) % 10
    pca = latent.fit_pca(x)
    scores = latent.embedding_scores(pca, x, y, x, y, trust_sample=30)
    expected = quality.bce(x, np.clip(pca.inverse_transform(pca.transform(flatten(x))), 0, 1))
    assert scores["test_bce"] == pytest.approx(expected, rel=1e-6)


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


def test_code_scores_agree_with_scikit_learn_and_embedding_scores():
    from sklearn.manifold import trustworthiness as sk_trustworthiness
    from sklearn.metrics import silhouette_score

    (x_train, y_train), (x_test, y_test) = known.known_split()
    first = known.FirstPixels()
    rng = np.random.default_rng(0)
    test_codes = first.transform(flatten(x_test)) + rng.normal(0, 0.05, (len(x_test), 2))
    train_codes = first.transform(flatten(x_train))
    scores = latent.code_scores(train_codes, y_train, test_codes, x_test, y_test, trust_sample=25)
    idx = latent.sample_indices(len(x_test), 25, seed=0)
    assert scores["trustworthiness"] == pytest.approx(
        sk_trustworthiness(flatten(x_test)[idx], test_codes[idx], n_neighbors=5)
    )
    assert scores["trustworthiness_all"] == pytest.approx(
        sk_trustworthiness(flatten(x_test), test_codes, n_neighbors=5)
    )
    assert scores["silhouette"] == pytest.approx(silhouette_score(test_codes, y_test))
    assert scores["knn5"] == latent.knn_accuracy(train_codes, y_train, test_codes, y_test)
    # embedding_scores is code_scores of the embedding's codes, plus the reconstruction BCE.
    full = latent.embedding_scores(first, x_train, y_train, x_test, y_test)
    codes = latent.code_scores(
        latent.embed(first, x_train), y_train, latent.embed(first, x_test), x_test, y_test
    )
    assert full == codes | {"test_bce": full["test_bce"]} and set(full) == {*codes, "test_bce"}


def test_pixel_misreadings_read_images_by_their_nearest_training_pixels():
    (x_train, y_train), _ = known.known_split()
    coat, shirt = CLASS_NAMES.index("Coat"), CLASS_NAMES.index("Shirt")
    # Images copied from the training set: a shirt's pixels, labelled a coat, are read as a
    # shirt; the second is read right. Rows (N, 784) and images give the same reading.
    images = np.stack([x_train[y_train == shirt][0], x_train[y_train == coat][0]])
    truth = np.array([coat, coat])
    assert latent.pixel_misreadings(x_train, y_train, images, truth) == ["the coat as a shirt"]
    assert latent.pixel_misreadings(flatten(x_train), y_train, flatten(images), truth) == [
        "the coat as a shirt"
    ]
    assert latent.pixel_misreadings(x_train, y_train, images, np.array([shirt, coat])) == []


def test_pca_axes_name_each_components_share_of_the_variance():
    from sklearn.decomposition import PCA

    from deepvis.cae.latent import pca_axes

    rng = np.random.default_rng(0)
    # Independent columns with variances 9, 1 and 0.01: shares about 0.899, 0.100, 0.001.
    x = rng.standard_normal((20000, 3)) * np.array([3.0, 1.0, 0.1])
    pca = PCA(n_components=2).fit(x)
    first, second = pca_axes(pca)
    assert first == f"component 1 ({pca.explained_variance_ratio_[0]:.1%} of the variance)"
    assert first.startswith("component 1 (89.") or first.startswith("component 1 (90.")
    assert second in ("component 2 (9.9% of the variance)", "component 2 (10.0% of the variance)")


def rectangles(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` images, each a bright rectangle of independent random width and height (4 to 24
    pixels) in its top-left corner: (widths, heights, images (n, 28, 28))."""
    rng = np.random.default_rng(seed)
    widths, heights = rng.integers(4, 25, n), rng.integers(4, 25, n)
    x = np.zeros((n, 28, 28))
    for i, (w, h) in enumerate(zip(widths, heights, strict=True)):
        x[i, :h, :w] = 1.0
    return widths, heights, x


def test_axis_correlations_find_what_each_dimension_follows():
    from deepvis.cae.latent import axis_correlations

    widths, heights, x = rectangles(200, seed=0)
    codes = np.stack([widths, -heights], axis=1).astype(float)
    r = axis_correlations(codes, x)
    assert r.loc["dimension 1", "width"] == pytest.approx(1.0)
    assert r.loc["dimension 2", "height"] == pytest.approx(-1.0)
    assert abs(r.loc["dimension 1", "height"]) < 0.2  # independent draws


def test_plane_r2_is_what_both_coordinates_explain_and_ignores_rotation():
    from deepvis.cae.latent import plane_r2

    widths, heights, x = rectangles(300, seed=1)
    codes = np.stack([widths, heights], axis=1).astype(float)
    r2 = plane_r2(codes, x)
    assert r2["width"] == pytest.approx(1.0) and r2["height"] == pytest.approx(1.0)
    turn = np.array([[np.cos(0.7), -np.sin(0.7)], [np.sin(0.7), np.cos(0.7)]])
    np.testing.assert_allclose(plane_r2(codes @ turn.T * 3.0 + 5.0, x), r2)
    # One coordinate alone: R² is that coordinate's squared correlation (width only)
    alone = plane_r2(codes[:, :1], x)
    r = np.corrcoef(widths, x.reshape(300, -1).mean(axis=1))[0, 1]
    assert alone["brightness"] == pytest.approx(r**2)
    assert alone["height"] < 0.05  # independent of the width


def test_polar_gives_unit_directions_and_distances_from_the_centre():
    codes = np.array([[4.0, 6.0], [1.0, -0.0], [1.0, 2.0]])
    directions, distances = latent.polar(codes, np.array([1.0, 2.0]))
    np.testing.assert_allclose(distances, [5.0, 2.0, 0.0])  # a 3-4-5 triangle, then straight down
    np.testing.assert_allclose(directions, [[0.6, 0.8], [0.0, -1.0], [0.0, 0.0]])


def test_pixel_accuracy_is_the_share_read_as_the_true_class():
    (x_train, y_train), _ = known.known_split()
    coat, shirt = CLASS_NAMES.index("Coat"), CLASS_NAMES.index("Shirt")
    # The same two copies as above: labelled (coat, coat) one of two is read right; labelled
    # (shirt, coat) both are.
    images = np.stack([x_train[y_train == shirt][0], x_train[y_train == coat][0]])
    assert latent.pixel_accuracy(x_train, y_train, images, np.array([coat, coat])) == 0.5
    assert latent.pixel_accuracy(x_train, y_train, images, np.array([shirt, coat])) == 1.0
