"""The 2-D latent space of the CAE against PCA (Exercise 1, step 4).

Both embeddings are judged the same way, on the Fashion-MNIST test set:

- **5-NN accuracy**: a 5-nearest-neighbour classifier fitted on the *training* images' 2-D codes,
  scored on the *test* codes: how much class information survives in two numbers.
- **Silhouette** by class (scikit-learn, Euclidean, all test codes): how compact and apart the
  classes are in the plane, in [-1, 1].
- **Trustworthiness** (scikit-learn, k = 5, on a seeded sample of test images because it is
  O(n^2)): whether the 2-D neighbours of a point are also its neighbours among the 784 pixels.
- **Reconstruction BCE** per pixel (`quality.bce`): the embedding's ``inverse_transform`` of
  the codes, clipped to [0, 1] (`quality.reconstruct`; the BCE itself clips to
  (1e-7, 1 - 1e-7)).

Both embeddings follow one protocol, scikit-learn's: ``transform`` maps (N, 784) pixel rows to
(N, 2) codes and ``inverse_transform`` maps codes back to rows. PCA is scikit-learn's
``PCA(n_components=2)`` fitted once on the N x 784 matrix of the *training* images (`fit_pca`);
the trained CAE is wrapped as a `CAEEmbedding`. The assignment's snippet that
calls ``fit_transform`` inside a per-image loop would fit a separate PCA to each 28 x 28 image
(its 28 rows as samples), which projects nothing onto a common plane.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness as sk_trustworthiness
from sklearn.metrics import accuracy_score, recall_score, silhouette_score
from sklearn.neighbors import KNeighborsClassifier

from deepvis.cae.quality import bce, predict, reconstruct
from deepvis.data import CLASS_NAMES, flatten, unflatten
from deepvis.page.words import in_sentence, with_article

#: Classes whose outline no other class shares, and the four upper-body garments.
DISTINCT = ("Trouser", "Sandal", "Sneaker", "Bag", "Ankle boot")
UPPER_BODY = ("T-shirt/top", "Pullover", "Coat", "Shirt")

#: Neighbourhood size of the 5-NN accuracy and of trustworthiness.
K = 5
#: Test images in the seeded trustworthiness sample.
TRUST_SAMPLE = 2000


class Embedding(Protocol):
    """A fitted 2-D embedding of images, with scikit-learn's method names (a PCA is one)."""

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(N, 784) pixel rows in [0, 1] -> (N, d) codes."""
        ...

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        """(N, d) codes -> (N, 784) pixel rows (not necessarily within [0, 1])."""
        ...


@dataclass(frozen=True)
class CAEEmbedding:
    """A trained CAE as an `Embedding`: its encoder is ``transform``, its decoder
    ``inverse_transform`` (both Keras models, applied in batches of 1,000)."""

    encoder: Any
    decoder: Any

    @classmethod
    def of(cls, trained: Any) -> CAEEmbedding:
        """The embedding of a `deepvis.cae.train.TrainedCAE`."""
        return cls(trained.cae.encoder, trained.cae.decoder)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(N, 784) or (N, 28, 28, 1) images in [0, 1] -> float32 (N, latent_dim) codes."""
        return predict(self.encoder, unflatten(X))

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        """(N, latent_dim) codes -> float32 (N, 784) decoder outputs in [0, 1]."""
        return flatten(predict(self.decoder, np.asarray(X, dtype=np.float32)))


def fit_pca(x_train: np.ndarray, n_components: int = 2, seed: int = 0) -> PCA:
    """``PCA(n_components)`` fitted on the (N, 784) matrix of the training images.

    `x_train`: (N, 28, 28[, 1]) or (N, 784) floats in [0, 1]. `seed` fixes the randomized SVD
    scikit-learn picks for large matrices.
    """
    return PCA(n_components=n_components, random_state=seed).fit(flatten(x_train))


def pca_axes(pca: PCA) -> tuple[str, ...]:
    """Axis labels of a fitted `pca`'s components with the share of the variance each explains:
    ``("component 1 (29.1% of the variance)", "component 2 (17.7% of the variance)")``."""
    shares = pca.explained_variance_ratio_
    return tuple(f"component {i} ({s:.1%} of the variance)" for i, s in enumerate(shares, start=1))


def _image_measures(x: np.ndarray, ink: float) -> dict[str, np.ndarray]:
    """Three measures of the images `x` (N, 28, 28[, 1]) in [0, 1], each (N,): their mean
    ``brightness``, their ``width`` and ``height`` (the number of pixel columns and rows holding
    a pixel above `ink`)."""
    images = np.asarray(x).reshape(len(x), 28, 28)
    marked = images > ink
    return {
        "brightness": images.mean(axis=(1, 2)),
        "width": marked.any(axis=1).sum(axis=1),
        "height": marked.any(axis=2).sum(axis=1),
    }


def axis_correlations(codes: np.ndarray, x: np.ndarray, ink: float = 0.1) -> pd.DataFrame:
    """What each axis of an embedding follows: the Pearson correlation of each code dimension
    of `codes` (N, d), d = 2 for a plane, with the three measures of the images `x` that
    `_image_measures` takes (``brightness``, ``width``, ``height``). Rows ``dimension 1`` to
    ``dimension d``; values in [-1, 1]."""
    return pd.DataFrame(
        {
            name: [np.corrcoef(codes[:, d], values)[0, 1] for d in range(codes.shape[1])]
            for name, values in _image_measures(x, ink).items()
        },
        index=[f"dimension {d + 1}" for d in range(codes.shape[1])],
    )


def plane_r2(codes: np.ndarray, x: np.ndarray, ink: float = 0.1) -> pd.Series:
    """How much of each image measure (``brightness``, ``width``, ``height``, as in
    `axis_correlations`) a linear function of all of `codes` (N, d) explains: R² of a least
    squares fit with intercept, in [0, 1]. Unlike one axis's correlation it does not change when
    the codes are rotated, scaled or sheared, which leaves a learned plane's information as it
    was."""
    design = np.column_stack([np.ones(len(codes)), np.asarray(codes, float)])
    r2 = {}
    for name, values in _image_measures(x, ink).items():
        values = np.asarray(values, float)
        fitted = design @ np.linalg.lstsq(design, values, rcond=None)[0]
        r2[name] = 1.0 - np.sum((values - fitted) ** 2) / np.sum((values - values.mean()) ** 2)
    return pd.Series(r2)


def polar(codes: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) codes seen from `centre` (2,): their unit directions (N, 2) and their distances
    (N,) from it, in code units (a code at the centre keeps the zero vector as its direction)."""
    offset = np.asarray(codes, float) - np.asarray(centre, float)
    distance = np.linalg.norm(offset, axis=1)
    return offset / np.maximum(distance, np.finfo(float).tiny)[:, None], distance


def embed(embedding: Embedding, x: np.ndarray) -> np.ndarray:
    """Codes of images (N, 28, 28[, 1]) or (N, 784) under `embedding`: float32 (N, d)."""
    return np.asarray(embedding.transform(flatten(x)), dtype=np.float32)


def sample_indices(n_total: int, n: int, seed: int = 0) -> np.ndarray:
    """A seeded random sample of `n` distinct indices of ``range(n_total)``, sorted: int64 (n,)."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=min(n, n_total), replace=False))


def knn_predict(
    train_codes: np.ndarray, y_train: np.ndarray, test_codes: np.ndarray, k: int = K
) -> np.ndarray:
    """Labels (N_test,) predicted by a k-NN classifier fitted on (N_train, d) training codes."""
    return KNeighborsClassifier(n_neighbors=k).fit(train_codes, y_train).predict(test_codes)


def knn_accuracy(
    train_codes: np.ndarray,
    y_train: np.ndarray,
    test_codes: np.ndarray,
    y_test: np.ndarray,
    k: int = K,
) -> float:
    """Accuracy in [0, 1] of `knn_predict` on the (N_test, d) test codes."""
    return float(accuracy_score(y_test, knn_predict(train_codes, y_train, test_codes, k)))


def per_class_recall(y_true: np.ndarray, y_pred: np.ndarray) -> pd.Series:
    """Recall per class: the fraction in [0, 1] of each class's images predicted as that class.

    `y_true`, `y_pred`: (N,) int labels in 0..9. Returns a Series indexed by class name.
    """
    recall = recall_score(y_true, y_pred, labels=list(range(len(CLASS_NAMES))), average=None)
    return pd.Series(recall, index=pd.Index(CLASS_NAMES, name="class"))


def misreadings(y_true: np.ndarray, y_read: np.ndarray) -> list[str]:
    """For each image read as another class, ``"the coat as an ankle boot"``: `y_true` and
    `y_read` (N,) int labels in 0..9, in the images' order; ``[]`` when every image is read
    right."""
    return [
        f"the {in_sentence(CLASS_NAMES[t])} as {with_article(in_sentence(CLASS_NAMES[r]))}"
        for t, r in zip(y_true, y_read, strict=True)
        if t != r
    ]


def pixel_misreadings(
    x_train: np.ndarray, y_train: np.ndarray, images: np.ndarray, y_true: np.ndarray, k: int = K
) -> list[str]:
    """How a k-NN classifier on the training images' *pixels* misreads `images` as kinds of
    garment: `misreadings` of its predictions, e.g. ``["the coat as a shirt"]`` (``[]`` when it
    reads every image as its true class).

    `x_train`: (N_train, 28, 28[, 1]) or (N_train, 784) floats in [0, 1] with their (N_train,)
    int labels `y_train`; `images`: (N, ...) of the same pixel layout (reconstructions, denoised
    outputs) with their (N,) true labels `y_true`, in the order the sentence names them.
    """
    return misreadings(y_true, knn_predict(flatten(x_train), y_train, flatten(images), k))


def pixel_accuracy(
    x_train: np.ndarray, y_train: np.ndarray, images: np.ndarray, y_true: np.ndarray, k: int = K
) -> float:
    """The share in [0, 1] of `images` that a k-NN classifier on the training images' *pixels*
    reads as their true class `y_true`: how recognisable reconstructions or denoised outputs
    are as kinds of garment. Arrays as in `pixel_misreadings`."""
    return knn_accuracy(flatten(x_train), y_train, flatten(images), y_true, k)


def confused_within(y_true: np.ndarray, y_pred: np.ndarray, group: Sequence[str]) -> float:
    """Of the misclassified images of the classes in `group` (names of `CLASS_NAMES`), the
    fraction in [0, 1] predicted as another class of the same group (NaN if none is wrong)."""
    ids = [CLASS_NAMES.index(name) for name in group]
    wrong = np.isin(y_true, ids) & (y_pred != y_true)
    return float(np.isin(y_pred[wrong], ids).mean()) if wrong.any() else float("nan")


def metric_values(table: pd.DataFrame, names: Sequence[str] = ("CAE", "PCA")) -> dict[str, float]:
    """The rows `names` of a `comparison_table` as ``{"<name lower-case>.<metric>": value}``."""
    return {f"{n.lower()}.{k}": float(v) for n in names for k, v in table.loc[n].items()}


def silhouette(codes: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette in [-1, 1] of (N, d) codes grouped by their (N,) class labels."""
    return float(silhouette_score(codes, labels))


def trustworthiness(
    x: np.ndarray, codes: np.ndarray, k: int = K, n: int = TRUST_SAMPLE, seed: int = 0
) -> float:
    """Trustworthiness in [0, 1] of the embedding `codes` (N, d) of images `x` (N, 28, 28[, 1]).

    Computed with k neighbours on a seeded sample of `n` of the N points (`sample_indices`), the
    same sample for every embedding of the same N images.
    """
    idx = sample_indices(len(x), n, seed)
    return float(sk_trustworthiness(flatten(x)[idx], codes[idx], n_neighbors=k))


def code_scores(
    train_codes: np.ndarray,
    y_train: np.ndarray,
    test_codes: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    trust_sample: int = TRUST_SAMPLE,
    seed: int = 0,
) -> dict[str, float]:
    """The metrics of any 2-D embedding, from its codes: the one scoring of every embedding
    (`embedding_scores` for the CAE and PCA, `deepvis.cae.protocol` for t-SNE and UMAP too).

    `train_codes`: (N_train, d) codes of the training images, with their (N_train,) int labels
    `y_train`; `test_codes`: (N_test, d) codes of the test images `x_test` (N_test, 28, 28[, 1])
    or (N_test, 784), floats in [0, 1], with their (N_test,) labels `y_test`.

    Returns floats: ``knn5`` (a 5-NN classifier fitted on the training codes, accuracy on the
    test codes, in [0, 1]), ``silhouette`` (all test codes, by class, in [-1, 1]),
    ``trustworthiness`` (k = 5, on the seeded sample of `trust_sample` test images) and
    ``trustworthiness_all`` (on all of them, the protocol of the Parametric UMAP paper's
    tables), both in [0, 1] and against the test images' pixels.
    """
    return {
        "knn5": knn_accuracy(train_codes, y_train, test_codes, y_test),
        "silhouette": silhouette(test_codes, y_test),
        "trustworthiness": trustworthiness(x_test, test_codes, n=trust_sample, seed=seed),
        "trustworthiness_all": trustworthiness(x_test, test_codes, n=len(x_test)),
    }


def embedding_scores(
    embedding: Embedding,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    trust_sample: int = TRUST_SAMPLE,
    seed: int = 0,
) -> dict[str, float]:
    """All metrics of one embedding with an encoder and a decoder: those of `code_scores`
    (``knn5``, ``silhouette``, ``trustworthiness``, ``trustworthiness_all``) and ``test_bce``.

    `x_train` (N_train, 28, 28, 1) and `x_test` (N_test, 28, 28, 1) are images in [0, 1] with
    their (N,) labels; the 5-NN classifier is fitted on the training codes, every other metric
    is computed on the test images, the BCE on their reconstruction (`quality.reconstruct`).
    """
    test_codes = embed(embedding, x_test)
    scores = code_scores(
        embed(embedding, x_train),
        y_train,
        test_codes,
        x_test,
        y_test,
        trust_sample=trust_sample,
        seed=seed,
    )
    return scores | {"test_bce": bce(x_test, reconstruct(embedding, x_test))}


def comparison_table(scores: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """One row per embedding (e.g. "CAE", "PCA"), one column per metric of `embedding_scores`."""
    table = pd.DataFrame.from_dict({name: dict(s) for name, s in scores.items()}, orient="index")
    table.index.name = "embedding"
    return table


@dataclass
class Manifold:
    """Decoder outputs on a regular grid of the code plane.

    ``images``: float32 (n, n, 28, 28) in [0, 1], row 0 at the *largest* code-2 value (top of a
    plot), column 0 at the smallest code-1 value; ``code1``: (n,) grid values along the columns,
    increasing; ``code2``: (n,) values along the rows, decreasing.
    """

    images: np.ndarray
    code1: np.ndarray
    code2: np.ndarray


def decoder_manifold(
    embedding: Embedding,
    codes: np.ndarray,
    n: int = 15,
    quantiles: tuple[float, float] = (0.01, 0.99),
) -> Manifold:
    """Decode an n x n grid spanning the `quantiles` range of each dimension of (N, 2) `codes`
    with the embedding's ``inverse_transform``.

    The quantiles (rather than min/max) keep a few outlying codes from stretching the grid over
    empty regions of the plane.
    """
    lo, hi = np.quantile(codes, quantiles, axis=0)
    code1 = np.linspace(lo[0], hi[0], n, dtype=np.float32)
    code2 = np.linspace(hi[1], lo[1], n, dtype=np.float32)
    grid = np.stack(np.meshgrid(code1, code2), axis=-1).reshape(-1, 2)
    images = embedding.inverse_transform(grid).reshape(n, n, 28, 28)
    return Manifold(images=images, code1=code1, code2=code2)
