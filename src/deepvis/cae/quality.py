"""Image quality of reconstructions and the denoising comparison (Exercise 1, step 3).

Conventions, used for every number of the report:

- PSNR is scikit-image's ``peak_signal_noise_ratio`` with ``data_range=1.0``, computed per image
  and averaged over the images (dB). The noisy input itself scores about 0 dB at N(0, 1) noise.
- SSIM is scikit-image's ``structural_similarity`` with ``data_range=1.0``; all images are
  passed at once as the channels of one image, which gives the mean of the per-image SSIMs in a
  single vectorised call.
- BCE is Keras' binary cross-entropy (the training loss), mean per pixel in nats.
- Outputs that are not images in [0, 1] already (PCA reconstructions) are clipped to [0, 1]
  before scoring; the noisy input is scored as it is, unclipped, because that is what the
  models see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from sklearn.decomposition import PCA

from deepvis.cae.config import CAEConfig
from deepvis.cae.noise import add_gaussian, noisy_test_set
from deepvis.data import flatten, unflatten

#: Clipping of predicted probabilities for the BCE, as Keras does (its epsilon).
BCE_EPS = 1e-7


def psnr(clean: np.ndarray, restored: np.ndarray) -> np.ndarray:
    """Per-image PSNR in dB, shape (N,) float64.

    `clean`, `restored`: (N, 28, 28[, 1]) or (N, 784) floats; `clean` in [0, 1]. Identical
    images give ``inf``.
    """
    a, b = unflatten(clean)[..., 0], unflatten(restored)[..., 0]
    return np.array(
        [peak_signal_noise_ratio(ai, bi, data_range=1.0) for ai, bi in zip(a, b, strict=True)]
    )


def ssim(clean: np.ndarray, restored: np.ndarray) -> np.ndarray:
    """Per-image SSIM (scikit-image defaults: 7x7 uniform window), shape (N,) float64, in [-1, 1].

    `clean`, `restored`: (N, 28, 28[, 1]) or (N, 784) floats; `clean` in [0, 1].
    """
    a, b = unflatten(clean)[..., 0], unflatten(restored)[..., 0]
    return np.array(
        [structural_similarity(ai, bi, data_range=1.0) for ai, bi in zip(a, b, strict=True)]
    )


def mean_ssim(clean: np.ndarray, restored: np.ndarray) -> float:
    """Mean `ssim` over the images."""
    return float(np.mean(ssim(clean, restored)))


def paired_se(a: np.ndarray, b: np.ndarray) -> float:
    """The standard error of the mean difference of two scores paired over the same items (per
    image, say): the sample standard deviation of ``a - b`` over sqrt(n). `a`, `b`: shape (n,)."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return float(d.std(ddof=1) / np.sqrt(len(d)))


def image_bce(target: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Binary cross-entropy per pixel (nats), Keras' training loss, averaged over each image's
    pixels: shape (N,).

    `target` in [0, 1]; `predicted` probabilities, clipped to ``(BCE_EPS, 1 - BCE_EPS)``;
    both (N, 28, 28[, 1]) or (N, 784).
    """
    import keras

    t = flatten(target)
    p = np.clip(flatten(predicted), BCE_EPS, 1 - BCE_EPS)
    return keras.ops.convert_to_numpy(keras.losses.binary_crossentropy(t, p)).astype(np.float64)


def bce(target: np.ndarray, predicted: np.ndarray) -> float:
    """Binary cross-entropy per pixel (nats), mean over all pixels: the mean of `image_bce`."""
    return float(np.mean(image_bce(target, predicted)))


def scores(clean: np.ndarray, restored: np.ndarray) -> dict[str, float]:
    """``{"psnr": mean dB, "ssim": mean SSIM}`` of `restored` against `clean` (see module doc)."""
    return {"psnr": float(np.mean(psnr(clean, restored))), "ssim": mean_ssim(clean, restored)}


def pca_denoiser(x_train: np.ndarray, config: CAEConfig, n_components: int = 2) -> PCA:
    """PCA fitted on *noisy* training images (N, 784): the linear baseline of the denoising table.

    The noise is one seeded draw of `config`'s noise (std ``noise_std``, clipped if
    ``noise_clip``, stream ``(seed, 0)``) over the training images, the kind of input the
    denoising CAE is trained on (the CAE itself sees a new draw for every batch). `x_train`:
    (N, 28, 28, 1) in [0, 1].
    """
    noisy = add_gaussian(x_train, config.noise_std, seed=(config.seed, 0), clip=config.noise_clip)
    return PCA(n_components=n_components, random_state=config.seed).fit(flatten(noisy))


class RankRegression:
    """Reduced-rank linear regression: the best linear map of rank `rank` from inputs to targets
    in squared error, the linear counterpart of a denoising autoencoder with a `rank`-unit code.

    `fit(x, y)` solves ordinary least squares ``B`` (with intercepts) and keeps the top `rank`
    principal directions ``V`` of the fitted values ``x B``; ``transform`` gives the `rank`-D code
    ``(x - mean_x) B V`` and ``inverse_transform`` maps a code back, ``code V^T + mean_y``, as
    scikit-learn's ``PCA`` does (so `reconstruct` takes either). With ``y = x`` it reconstructs
    as ``PCA(rank)`` does. Rows are flattened images (N, 784), float64 inside.
    """

    def __init__(self, rank: int = 2) -> None:
        self.rank = rank

    def fit(self, x: np.ndarray, y: np.ndarray) -> RankRegression:
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        self.mean_x_, self.mean_y_ = x.mean(axis=0), y.mean(axis=0)
        xc, yc = x - self.mean_x_, y - self.mean_y_
        coef = np.linalg.lstsq(xc, yc, rcond=None)[0]  # (d_in, d_out), least squares
        fitted = xc @ coef
        _, vectors = np.linalg.eigh(fitted.T @ fitted)  # ascending eigenvalues
        self.components_ = vectors[:, ::-1][:, : self.rank]  # (d_out, rank), largest first
        self.coef_ = coef @ self.components_  # (d_in, rank): inputs to code
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, np.float64) - self.mean_x_) @ self.coef_

    def inverse_transform(self, code: np.ndarray) -> np.ndarray:
        return code @ self.components_.T + self.mean_y_


def linear_denoiser(x_train: np.ndarray, config: CAEConfig, rank: int = 2) -> RankRegression:
    """`RankRegression` from noisy to clean training images: the linear baseline trained as the
    denoising CAE is, on (noisy, clean) pairs, with the noise of `pca_denoiser` (one seeded
    draw). `x_train`: (N, 28, 28, 1) in [0, 1]."""
    noisy = add_gaussian(x_train, config.noise_std, seed=(config.seed, 0), clip=config.noise_clip)
    return RankRegression(rank).fit(flatten(noisy), flatten(x_train))


def reconstruct(embedding: Any, x: np.ndarray) -> np.ndarray:
    """Images through a 2-D embedding and back: float32 (N, 28, 28, 1), clipped to [0, 1].

    `embedding` has scikit-learn's ``transform`` (N, 784) -> (N, d) and ``inverse_transform``
    (N, d) -> (N, 784): a fitted ``PCA`` or a `deepvis.cae.latent.CAEEmbedding`. `x`:
    (N, 28, 28[, 1]) or (N, 784) floats.
    """
    rows = embedding.inverse_transform(embedding.transform(flatten(x)))
    return unflatten(np.clip(rows, 0.0, 1.0))


def predict(model, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """`model.predict` in batches, silently: float32 array of the model's output shape."""
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32)


#: Seed of the classes whose test images Steps 2 and 3 show (`examples`).
EXAMPLES_SEED = 3


def examples(labels: np.ndarray, n: int = 6, seed: int = EXAMPLES_SEED) -> np.ndarray:
    """Indices of the first image of each of `n` classes drawn at random (by `seed`) from the
    classes of `labels`, in class order: the same test images in every figure of examples."""
    classes = np.sort(np.random.default_rng(seed).choice(np.unique(labels), n, replace=False))
    return np.array([np.flatnonzero(labels == c)[0] for c in classes])


#: The rows of the denoising comparison, by the key its headline numbers are stored under.
DENOISING_ROWS = {
    "noisy": "noisy input",
    "mean": "training images' mean (ignores the input)",
    "pca_noisy": "PCA-2 fitted on noisy training inputs",
    "linear": "rank-2 linear map, noisy to clean",
    "linear_full": "full-rank linear map, noisy to clean (no code)",
    "cae_on_noisy": "plain CAE on noisy input",
    "dcae": "denoising CAE",
    "cae_clean": "plain CAE on clean input (reference)",
    "pca_clean": "PCA-2 on clean input (reference)",
}


def denoising_metrics(table: pd.DataFrame) -> dict[str, float]:
    """Headline numbers of a `denoising_table` with the rows of `DENOISING_ROWS`: the PSNR of
    every row (``<key>.psnr``) and the denoising CAE's SSIM (``dcae.ssim``)."""
    values = {
        f"{key}.psnr": float(table.loc[row, "psnr_db"]) for key, row in DENOISING_ROWS.items()
    }
    return values | {"dcae.ssim": float(table.loc[DENOISING_ROWS["dcae"], "ssim"])}


def denoising_table(
    x_test: np.ndarray, noisy: np.ndarray, outputs: dict[str, np.ndarray]
) -> pd.DataFrame:
    """One row per method: PSNR (dB), SSIM and BCE against the clean test images.

    `x_test`: clean (N, 28, 28, 1) in [0, 1]; `noisy`: the noisy inputs, same shape (scored as
    the first row, "noisy input"); `outputs`: method name -> (N, 28, 28, 1) reconstruction.
    Returns a DataFrame indexed by method with columns ``psnr_db``, ``ssim``, ``bce``
    (BCE is not defined for the unclipped noisy input: NaN there).
    """
    rows = {"noisy input": {**scores(x_test, noisy), "bce": float("nan")}}
    for name, out in outputs.items():
        rows[name] = {**scores(x_test, out), "bce": bce(x_test, out)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = ["psnr_db", "ssim", "bce"]
    table.index.name = "method"
    return table


def psnr_vs_std(
    models: dict[str, object], x_test: np.ndarray, stds: Sequence[float], config: CAEConfig
) -> pd.DataFrame:
    """Mean PSNR (dB) of each model's output, and of the noisy input, at several noise stds.

    `models`: name -> Keras model mapping (N, 28, 28, 1) to the same; `x_test`: clean images in
    [0, 1]; each std uses the fixed noisy test set of `config` with that std
    (`noise.noisy_test_set`). Returns a DataFrame indexed by ``noise_std`` with one column per
    model plus "noisy input".
    """
    rows = []
    for std in stds:
        noisy = noisy_test_set(x_test, replace(config, noise_std=float(std)))
        row = {"noise_std": float(std), "noisy input": float(np.mean(psnr(x_test, noisy)))}
        for name, model in models.items():
            row[name] = float(np.mean(psnr(x_test, predict(model, noisy))))
        rows.append(row)
    return pd.DataFrame(rows).set_index("noise_std")
