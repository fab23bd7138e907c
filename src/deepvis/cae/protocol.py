"""One latent protocol for four 2-D embeddings: the CAE, PCA, t-SNE and UMAP.

``python -m deepvis.cae.protocol`` (``make protocol``) fits every embedding on the *training*
images and embeds the *test* images with that fit, then scores all four the same way
(`deepvis.cae.latent.code_scores`): a 5-NN classifier fitted on the training codes and scored
on the test codes, trustworthiness (k = 5) on a seeded 2,000-image sample of the test images
and on all of them, and the silhouette of the test codes by class. It writes one entry per
embedding to ``report/latent_protocol.json`` (atomically): its scores, the fit's settings, the
wall-clock seconds of fitting and embedding, the CPU they ran on, and what it was fitted on
and scored on. The technical report reads it (`load_protocol`, `table`) next to the published
anchors of the Parametric UMAP paper (`PUBLISHED`).

- **CAE**: the report's cached CAE (`deepvis.cae.train.fit_or_load` of `cae_config`); its
  encoder gives both sets' codes. Its seconds are those of encoding; the training's are
  recorded apart, with the CPU that trained it.
- **PCA**: `latent.fit_pca` (2 components) fitted on the training pixels.
- **t-SNE** (openTSNE): the pixels are reduced to `PCA_COMPONENTS` principal components (fitted
  on the training images), the usual preprocessing; `openTSNE.TSNE` is fitted on the training
  images, and the test images are placed into that fixed map with openTSNE's ``transform``
  (each new point initialised at the median of its nearest training points, then optimised
  against the training points only).
- **UMAP** (umap-learn): the same 50 components; ``UMAP.fit`` on the training images,
  ``transform`` for the test images.

For t-SNE and UMAP the training codes are the fitted map's own positions (``embedding_``), as
for the CAE and PCA they are the training images' codes. Both are seeded (`SEED`); UMAP with a
seed runs on one thread, t-SNE on all the cores this process may use.

Quick mode (``DEEPVIS_QUICK=1``) fits on the first `QUICK_SUBSETS` images of each split and
writes under ``build/quick/`` (`deepvis.config.paths`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from deepvis.cae import latent
from deepvis.cae.variants import PUBLISHED_AE
from deepvis.config import cpu_description, paths, quick_mode
from deepvis.data import flatten
from deepvis.errors import DeepvisError, cli_errors
from deepvis.files import atomic_write_json

#: The seed of every fit, of the PCA preprocessing and of the trustworthiness sample.
SEED = 0
#: Principal components the pixels are reduced to before t-SNE and UMAP.
PCA_COMPONENTS = 50
#: Quick mode's training and test images (the first of each split).
QUICK_SUBSETS = dict(train=2000, test=500)
#: The embeddings, in the table's order.
EMBEDDINGS = ("CAE", "PCA", "t-SNE", "UMAP")
#: The file name of the results, under ``paths().report``.
FILE_NAME = "latent_protocol.json"

#: The Parametric UMAP paper's 2-D embeddings of Fashion-MNIST (Sainburg, McInnes and Gentner,
#: 2021, their released tables), scored on its test set: the autoencoder (`PUBLISHED_AE`,
#: conv layers with two Dense-512 layers around the code), UMAP and t-SNE. Keys as in
#: `latent.code_scores`; only the values the paper's tables give.
PUBLISHED: dict[str, dict[str, float]] = {
    "PCA": {"knn5": 0.506, "trustworthiness_all": 0.913},
    "AE": dict(PUBLISHED_AE),
    "UMAP": {"knn5": 0.761},
    "t-SNE": {"knn5": 0.804, "trustworthiness_all": 0.991},
}

#: The t-SNE fit's settings (openTSNE's defaults, spelled out; ``n_jobs`` is added at run time).
TSNE_SETTINGS: dict[str, Any] = dict(
    n_components=2,
    perplexity=30,
    metric="euclidean",
    initialization="pca",
    learning_rate="auto",
    n_iter=500,
    early_exaggeration_iter=250,
)
#: openTSNE's ``transform`` settings for the test images (its defaults, spelled out).
TSNE_TRANSFORM: dict[str, Any] = dict(
    perplexity=5, initialization="median", k=25, learning_rate=0.1, n_iter=250
)
#: The UMAP fit's settings (umap-learn's defaults, spelled out; one thread, for the seed).
UMAP_SETTINGS: dict[str, Any] = dict(
    n_components=2, n_neighbors=15, min_dist=0.1, metric="euclidean", n_jobs=1
)


@dataclass
class Fit:
    """One embedding fitted on the training images and applied to the test images.

    ``train``: float32 (N_train, 2) codes of the training images; ``test``: float32 (N_test, 2)
    codes of the test images; ``settings``: the fit's settings (JSON-ready); ``seconds``:
    wall-clock seconds to fit and embed both sets; ``extra``: anything else to record.
    """

    train: np.ndarray
    test: np.ndarray
    settings: dict[str, Any]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def _timed(
    work: Callable[[], tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, float]:
    """`work`'s (train, test) codes as float32 arrays and the wall-clock seconds it took."""
    start = time.perf_counter()
    train, test = work()
    seconds = time.perf_counter() - start
    return np.asarray(train, np.float32), np.asarray(test, np.float32), seconds


def reduce(
    x_train: np.ndarray, x_test: np.ndarray, n_components: int = PCA_COMPONENTS, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Both sets' pixels projected on the first `n_components` principal components of the
    training images: float32 (N_train, n_components) and (N_test, n_components).

    `x_train`, `x_test`: (N, 28, 28[, 1]) or (N, 784) floats in [0, 1].
    """
    pca = PCA(n_components=n_components, random_state=seed).fit(flatten(x_train))
    return (
        pca.transform(flatten(x_train)).astype(np.float32),
        pca.transform(flatten(x_test)).astype(np.float32),
    )


def reduced_knn(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> float:
    """5-NN accuracy in [0, 1] in the `PCA_COMPONENTS`-D space of `reduce`, the space from whose
    nearest training points openTSNE and umap-learn place each test point: what a neighbour vote
    there reads, before any 2-D map. Images as in `reduce`; labels (N,) ints."""
    train, test = reduce(x_train, x_test)
    return latent.knn_accuracy(train, y_train, test, y_test)


def cores() -> int:
    """The number of CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def fit_tsne(
    x_train: np.ndarray, x_test: np.ndarray, seed: int = SEED, n_jobs: int | None = None
) -> Fit:
    """openTSNE fitted on `x_train`, `x_test` embedded into that map with its ``transform``.

    `x_train`, `x_test`: (N, 28, 28[, 1]) or (N, 784) floats in [0, 1], reduced first to
    `PCA_COMPONENTS` components (`reduce`, within the timed work). `n_jobs`: threads (default:
    all of `cores`). Returns float32 (N_train, 2) and (N_test, 2) codes (`Fit`).
    """
    import openTSNE

    n_jobs = n_jobs or cores()

    def work() -> tuple[np.ndarray, np.ndarray]:
        train, test = reduce(x_train, x_test, seed=seed)
        tsne = openTSNE.TSNE(**TSNE_SETTINGS, n_jobs=n_jobs, random_state=seed)
        fitted = tsne.fit(train)
        return np.asarray(fitted), np.asarray(fitted.transform(test, **TSNE_TRANSFORM))

    train, test, seconds = _timed(work)
    settings = {
        "package": f"openTSNE {version('openTSNE')}",
        "preprocessing": f"PCA to {PCA_COMPONENTS} components, fitted on the training images",
        **TSNE_SETTINGS,
        "n_jobs": n_jobs,
        "random_state": seed,
        "transform": TSNE_TRANSFORM,
    }
    return Fit(train, test, settings, seconds)


def fit_umap(x_train: np.ndarray, x_test: np.ndarray, seed: int = SEED) -> Fit:
    """UMAP (umap-learn) fitted on `x_train`, `x_test` embedded with its ``transform``.

    `x_train`, `x_test`: (N, 28, 28[, 1]) or (N, 784) floats in [0, 1], reduced first to
    `PCA_COMPONENTS` components (`reduce`, within the timed work). Returns float32
    (N_train, 2) and (N_test, 2) codes (`Fit`).
    """
    from umap import UMAP

    def work() -> tuple[np.ndarray, np.ndarray]:
        train, test = reduce(x_train, x_test, seed=seed)
        fitted = UMAP(**UMAP_SETTINGS, random_state=seed).fit(train)
        return fitted.embedding_, fitted.transform(test)

    train, test, seconds = _timed(work)
    settings = {
        "package": f"umap-learn {version('umap-learn')}",
        "preprocessing": f"PCA to {PCA_COMPONENTS} components, fitted on the training images",
        **UMAP_SETTINGS,
        "random_state": seed,
    }
    return Fit(train, test, settings, seconds)


def fit_pca(x_train: np.ndarray, x_test: np.ndarray, seed: int = SEED) -> Fit:
    """`latent.fit_pca` (2 components on the training pixels) and both sets' codes (`Fit`)."""

    def work() -> tuple[np.ndarray, np.ndarray]:
        pca = latent.fit_pca(x_train, seed=seed)
        return latent.embed(pca, x_train), latent.embed(pca, x_test)

    train, test, seconds = _timed(work)
    settings = {"package": f"scikit-learn {version('scikit-learn')}", "n_components": 2}
    return Fit(train, test, settings | {"random_state": seed}, seconds)


def encode_cae(trained: Any, x_train: np.ndarray, x_test: np.ndarray) -> Fit:
    """The codes of a trained CAE (a `deepvis.cae.train.TrainedCAE`): its encoder applied to
    both sets (`Fit`; the seconds are the encoding's, the training's go to ``extra``)."""
    embedding = latent.CAEEmbedding.of(trained)
    train, test, seconds = _timed(
        lambda: (latent.embed(embedding, x_train), latent.embed(embedding, x_test))
    )
    summary = trained.summary()
    extra = {
        "training": {
            "epochs": summary["epochs"],
            "seconds": summary["seconds_per_epoch"] * summary["epochs"],
            "cpu": summary["cpu"],
        }
    }
    settings = {"config": trained.config.key(), "params": summary["params"]}
    return Fit(train, test, settings, seconds, extra)


def entry(
    fit: Fit,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    seed: int = SEED,
    cpu: str | None = None,
) -> dict[str, Any]:
    """One embedding's record: its `latent.code_scores` (trustworthiness sample seeded by
    `seed`), settings, seconds, the CPU (`deepvis.config.cpu_description` by default), and
    ``"fitted on"`` / ``"scored on"`` (e.g. ``"train (60,000)"``, ``"test (10,000)"``).

    `y_train`: (N_train,) labels of the training codes; `x_test`: (N_test, 28, 28[, 1]) images
    in [0, 1] with their (N_test,) labels `y_test`.
    """
    scores = latent.code_scores(fit.train, y_train, fit.test, x_test, y_test, seed=seed)
    return {
        "scores": scores,
        "settings": fit.settings,
        "seconds": round(fit.seconds, 2),
        "cpu": cpu or cpu_description(),
        "fitted on": f"train ({len(fit.train):,})",
        "scored on": f"test ({len(fit.test):,})",
        **fit.extra,
    }


def results_path() -> Path:
    """``report/latent_protocol.json`` (under ``build/quick/`` in quick mode)."""
    return paths().report / FILE_NAME


def run(
    data: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    trained: Any,
    path: Path | None = None,
    seed: int = SEED,
) -> dict[str, dict[str, Any]]:
    """Fit, embed and score the four embeddings (`EMBEDDINGS`), writing `path` (default
    `results_path`) after each, atomically. Returns ``{name: entry}``.

    `data`: ``((x_train, y_train), (x_test, y_test))``, images (N, 28, 28, 1) in [0, 1] and
    (N,) int labels; `trained`: the report's CAE (a `deepvis.cae.train.TrainedCAE`).
    """
    (x_train, y_train), (x_test, y_test) = data
    path = path or results_path()
    fits: dict[str, Callable[[], Fit]] = {
        "CAE": lambda: encode_cae(trained, x_train, x_test),
        "PCA": lambda: fit_pca(x_train, x_test, seed),
        "t-SNE": lambda: fit_tsne(x_train, x_test, seed),
        "UMAP": lambda: fit_umap(x_train, x_test, seed),
    }
    results: dict[str, dict[str, Any]] = {}
    for name in EMBEDDINGS:
        print(f"{name}: fitting on {len(x_train):,} images, embedding {len(x_test):,}", flush=True)
        results[name] = entry(fits[name](), y_train, x_test, y_test, seed=seed)
        scores = ", ".join(f"{k} {v:.4f}" for k, v in results[name]["scores"].items())
        print(f"  {results[name]['seconds']:.1f} s; {scores}", flush=True)
        atomic_write_json(path, results)
    return results


def load_protocol(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """The results that `run` wrote: embedding name -> its `entry`.

    Default `path`: `results_path`; in quick mode, when the quick run's file is absent, the full
    run's ``report/latent_protocol.json``. Raises `DeepvisError` when there is none.
    """
    if path is None:
        path = results_path()
        if not path.is_file() and quick_mode():
            path = paths().root / "report" / FILE_NAME
    if not path.is_file():
        raise DeepvisError(f"{path} is missing: run `make protocol` (minutes) to write it")
    return json.loads(path.read_text())


#: The columns of `table`, in order.
COLUMNS = ["knn5", "trustworthiness", "trustworthiness_all", "silhouette", "seconds"]


def table(
    results: Mapping[str, Mapping[str, Any]],
    published: Mapping[str, Mapping[str, float]] = PUBLISHED,
) -> pd.DataFrame:
    """The protocol as a DataFrame: one row per embedding of `results` (`load_protocol`), in
    `EMBEDDINGS` order, then one row per `published` anchor, named ``"<name>, published"``.

    Columns `COLUMNS`: the scores of `latent.code_scores` and ``seconds``, those of fitting and
    embedding (for the CAE, trained before: encoding only; the report's own CAE has its training
    time in its history); NaN where a row has no value (the anchors have only what the paper
    gives).
    """
    rows = {
        name: {**results[name]["scores"], "seconds": results[name]["seconds"]}
        for name in EMBEDDINGS
        if name in results
    }
    rows |= {f"{name}, published": dict(values) for name, values in published.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=COLUMNS).astype(float)
    frame.index.name = "embedding"
    return frame


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Command line: run the protocol on the report's CAE and write `results_path`."""
    from deepvis.cae.config import cae_config
    from deepvis.cae.train import fit_or_load
    from deepvis.config import shown
    from deepvis.data import load_fashion_mnist

    parser = argparse.ArgumentParser(
        prog="python -m deepvis.cae.protocol", description=__doc__.split("\n")[0]
    )
    parser.parse_args(argv)
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    trained = fit_or_load(cae_config(), x_train, x_test)
    if quick_mode():
        n, m = QUICK_SUBSETS["train"], QUICK_SUBSETS["test"]
        (x_train, y_train), (x_test, y_test) = (x_train[:n], y_train[:n]), (x_test[:m], y_test[:m])
    start = time.perf_counter()
    run(((x_train, y_train), (x_test, y_test)), trained)
    print(f"wrote {shown(results_path())} in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
