"""What helps a 2-D bottleneck: a screening of CAE variants on a short, equal training budget.

``python -m deepvis.cae.variants [NAME ...] [--epochs N]`` trains each named variant of
`VARIANTS` (all of them by default) for N epochs (`SCREEN_EPOCHS` by default) on the 50,000
training images outside the validation split (`deepvis.cae.config.validation_split`), caches it
like every CAE, scores its latent plane on the 10,000 validation images (kNN from the codes of
the 50,000), and merges one row per variant and budget into ``report/variants.json`` (written
after every variant, atomically; each row names the split that scored it, `SCORED_ON`). The
test set plays no part. Exercise 1's appendix (notebook 05_cae_analyses) shows the table at the
screening budget (`table`) and the scores of one variant against its budget (`curve`); `noise`
turns the spread of ``report/seeds.json`` into the smallest difference read as an effect.
Variants are cached under the report CAE's name; `matching` finds the variant of a
configuration trained on all 60,000 images.
A variant is a set of `CAEConfig` overrides, so it stays within the assignment's rules: the same
symmetric Conv -> MaxPool / Conv -> UpSampling template with a 2-neuron dense bottleneck.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from deepvis.cae.config import VALIDATION_SIZE, CAEConfig, split_training_set
from deepvis.config import paths
from deepvis.errors import DeepvisError, cli_errors
from deepvis.files import atomic_write_json

#: Epochs of the screening budget (cosine decay over exactly these epochs).
SCREEN_EPOCHS = 6

#: The cache name of every variant: that of the report's CAE (`cae_config`).
CACHE_NAME = "cae"

#: What scored every row of the screening (recorded in each row as ``scored_on``).
SCORED_ON = "validation"

#: The screening's starting point, spelled out so that it does not move with the defaults of
#: `CAEConfig` (which are the screening's winner): plain 16-32-64, batch 256, Adam 1e-3, trained
#: without the validation split's images.
SCREEN_BASE = dict(
    holdout=VALIDATION_SIZE,
    filters=(16, 32, 64),
    batch_norm=False,
    fused_batch_norm=True,
    dropout=0.0,
    bottleneck_activation=None,
    batch_size=256,
    learning_rate=1e-3,
    lr_schedule="cosine",
)

#: Variant name -> overrides of `SCREEN_BASE`.
VARIANTS: dict[str, dict] = {
    "16-32-64": {},
    "16-32-64, batch-norm": dict(batch_norm=True),
    "16-32-64, batch-norm, lr 3e-3": dict(batch_norm=True, learning_rate=3e-3),
    "16-32-64, batch-norm, batch 64": dict(batch_norm=True, batch_size=64),
    "16-32-64, batch-norm, tanh code": dict(batch_norm=True, bottleneck_activation="tanh"),
    "16-32-64, batch-norm, batch 64, lr 2e-3": dict(
        batch_norm=True, batch_size=64, learning_rate=2e-3
    ),
    "16-32-64, batch-norm, batch 64, lr 3e-3": dict(
        batch_norm=True, batch_size=64, learning_rate=3e-3
    ),
    "16-32-64, batch-norm, batch 32": dict(batch_norm=True, batch_size=32),
    "16-32-64-128, batch-norm, batch 64": dict(
        filters=(16, 32, 64, 128), batch_norm=True, batch_size=64
    ),
    "16-32-64-128, batch-norm, batch 64, lr 2e-3": dict(
        filters=(16, 32, 64, 128), batch_norm=True, batch_size=64, learning_rate=2e-3
    ),
    "16-32-64-128, batch-norm, batch 64, lr 2e-3, bfloat16": dict(
        filters=(16, 32, 64, 128),
        batch_norm=True,
        batch_size=64,
        learning_rate=2e-3,
        precision="mixed_bfloat16",
    ),
    "16-32-64-128-256, batch-norm, batch 64, lr 2e-3": dict(
        filters=(16, 32, 64, 128, 256), batch_norm=True, batch_size=64, learning_rate=2e-3
    ),
    "32-64-128": dict(filters=(32, 64, 128)),
    "32-64-128, batch-norm": dict(filters=(32, 64, 128), batch_norm=True),
}


_BN64 = "16-32-64, batch-norm, batch 64"
_BEST = "16-32-64-128, batch-norm, batch 64, lr 2e-3"

#: (lever, variant without it, variant with it): the one-change pairs that `effects` reads.
LEVERS: list[tuple[str, str, str]] = [
    ("batch-norm (16-32-64)", "16-32-64", "16-32-64, batch-norm"),
    ("batch-norm (32-64-128)", "32-64-128", "32-64-128, batch-norm"),
    ("width x2 (plain)", "16-32-64", "32-64-128"),
    ("width x2 (batch-norm)", "16-32-64, batch-norm", "32-64-128, batch-norm"),
    ("lr 3e-3 (batch 256)", "16-32-64, batch-norm", "16-32-64, batch-norm, lr 3e-3"),
    ("batch 64 (not 256)", "16-32-64, batch-norm", "16-32-64, batch-norm, batch 64"),
    ("batch 32 (not 64)", _BN64, "16-32-64, batch-norm, batch 32"),
    ("lr 2e-3 (batch 64)", _BN64, f"{_BN64}, lr 2e-3"),
    ("lr 3e-3 (batch 64)", _BN64, f"{_BN64}, lr 3e-3"),
    ("4th conv block", _BN64, "16-32-64-128, batch-norm, batch 64"),
    ("lr 2e-3 (4 blocks)", "16-32-64-128, batch-norm, batch 64", _BEST),
    ("5th conv block", _BEST, "16-32-64-128-256, batch-norm, batch 64, lr 2e-3"),
    ("bfloat16 compute", _BEST, f"{_BEST}, bfloat16"),
    ("tanh bottleneck", "16-32-64, batch-norm", "16-32-64, batch-norm, tanh code"),
]

#: The columns of a results row that `effects` compares, in the order shown.
SCORES = ["knn5", "trustworthiness", "silhouette", "test_bce"]

#: The published 2-D convolutional autoencoder of Sainburg, McInnes and Gentner ("Parametric
#: UMAP", 2021; their released tables) on the Fashion-MNIST test set: conv layers and two
#: Dense-512 layers around the code, BCE only, 50 epochs, batch 256. Keys as in `curve`.
PUBLISHED_AE = {"knn5": 0.734, "trustworthiness_all": 0.970}

#: A difference between two single runs smaller than this many standard deviations of the
#: seeds' spread (``report/seeds.json``) is read as noise: a difference of two runs spreads
#: about √2 times as much as one run, so this is about two of its standard deviations.
NOISE_STDS = 3

#: Score (a column of `table` and `curve`) -> the metric of ``report/seeds.json`` whose spread
#: over seeds sets its noise (`noise`). The silhouette has none.
SEED_METRICS = {
    "knn5": "latent.cae.knn5",
    "trustworthiness": "latent.cae.trustworthiness",
    "trustworthiness_all": "latent.cae.trustworthiness_all",
    "test_bce": "cae.test_bce",
}

#: Results: variant name -> str(epochs) -> that run's row (scores, ``config`` key, speed, size).
Results = dict[str, dict[str, dict]]


def _at(results: Results, epochs: int) -> dict[str, dict]:
    """Variant name -> its row at `epochs`, in `VARIANTS` order, for the variants run that long."""
    return {
        name: results[name][str(epochs)]
        for name in VARIANTS
        if str(epochs) in results.get(name, {})
    }


def table(results: Results, epochs: int = SCREEN_EPOCHS) -> pd.DataFrame:
    """The screening as a DataFrame: one row per variant run for `epochs`, in `VARIANTS` order,
    with the columns of `SCORES` plus ``seconds_per_epoch`` and ``params``."""
    frame = pd.DataFrame.from_dict(
        _at(results, epochs), orient="index", columns=[*SCORES, "seconds_per_epoch", "params"]
    )
    frame.index.name = f"variant ({epochs} epochs)"
    return frame


def curve(results: Results, name: str) -> pd.DataFrame:
    """Variant `name`'s scores against its training budget: one row per number of epochs it was
    run for (ascending), with the columns of `SCORES`, ``trustworthiness_all`` (on all the
    scored images; NaN where a row lacks it) and ``seconds_per_epoch``."""
    rows = {int(epochs): row for epochs, row in results.get(name, {}).items()}
    frame = pd.DataFrame.from_dict(
        dict(sorted(rows.items())),
        orient="index",
        columns=[*SCORES, "trustworthiness_all", "seconds_per_epoch"],
    )
    frame.index.name = "epochs"
    return frame


def gain_per_doubling(curve: pd.DataFrame, start: int, column: str = "knn5") -> float:
    """What each doubling of the training budget gained in `column`, on average, from `start`
    epochs to the longest run of `curve` (a straight line in log2 of the epochs).

    `curve`: the frame of `curve` (indexed by epochs, ascending), with a row at `start` epochs.
    Dividing a gap by it gives the doublings that would close the gap at that rate.
    """
    at, last = float(curve.loc[start, column]), float(curve[column].iloc[-1])
    return (last - at) / np.log2(curve.index[-1] / start)


def effects(results: Results) -> pd.DataFrame:
    """What each lever of `LEVERS` changed at the screening budget: one row per lever whose two
    variants both ran.

    Columns: the change (with minus without) of each score in `SCORES`, and ``time_ratio``, the
    ratio of seconds per epoch. Higher is better for every score but ``test_bce``.
    """
    rows, screened = {}, _at(results, SCREEN_EPOCHS)
    for lever, without, with_ in LEVERS:
        if without in screened and with_ in screened:
            a, b = screened[without], screened[with_]
            rows[lever] = {k: b[k] - a[k] for k in SCORES} | {
                "time_ratio": b["seconds_per_epoch"] / a["seconds_per_epoch"]
            }
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=[*SCORES, "time_ratio"])
    frame.index.name = "lever"
    return frame


def noise(spread: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Score -> the smallest difference between two single runs read as an effect:
    `NOISE_STDS` standard deviations of its metric over the seeds (`SEED_METRICS`).

    `spread`: metric -> {"std": ..., ...}, the ``spread`` of ``report/seeds.json``
    (`deepvis.cae.seeds.load`).
    """
    return {score: NOISE_STDS * spread[metric]["std"] for score, metric in SEED_METRICS.items()}


def beyond_noise(changes: pd.DataFrame, thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Which changes of `changes` (e.g. `effects`) are effects: True where a change is at least
    its column's threshold in size. One column per score of `thresholds` (`noise`) that
    `changes` has."""
    columns = [c for c in thresholds if c in changes.columns]
    return changes[columns].abs() >= pd.Series(thresholds)[columns]


def ties(frame: pd.DataFrame, threshold: float, column: str = "knn5") -> list[str]:
    """The rows of `frame` (e.g. `table`) whose `column` is within `threshold` of the best
    (highest; lowest for ``test_bce``), best first: those that no difference beyond the noise
    separates from the best."""
    scores = frame[column].dropna().sort_values(ascending=column == "test_bce")
    return [name for name, v in scores.items() if abs(v - scores.iloc[0]) < threshold]


def variant_config(name: str, epochs: int = SCREEN_EPOCHS) -> CAEConfig:
    """The `CAEConfig` of variant `name` (a key of `VARIANTS`) at the screening budget."""
    if name not in VARIANTS:
        raise DeepvisError(f"unknown variant {name!r}; choose from {sorted(VARIANTS)}")
    return CAEConfig(name=CACHE_NAME, epochs=epochs, **(SCREEN_BASE | VARIANTS[name]))


def matching(config: CAEConfig) -> str | None:
    """The variant that `config` trains (ignoring its name, epochs, subsets and held-out
    images), or None."""
    plain = replace(
        config, name=CACHE_NAME, train_subset=None, test_subset=None, holdout=VALIDATION_SIZE
    )
    for name in VARIANTS:
        if variant_config(name, config.epochs) == plain:
            return name
    return None


def results_path() -> Path:
    """``report/variants.json`` of the full run (the screening has no quick mode)."""
    return paths().root / "report" / "variants.json"


def load_results(path: Path | None = None) -> Results:
    """The `Results` that `run` wrote ({} when the screening was never run)."""
    path = path or results_path()
    return json.loads(path.read_text()) if path.is_file() else {}


def score(trained, data) -> dict[str, float]:
    """Scores of one trained variant: Step 4's latent metrics (`latent.embedding_scores`; its
    ``test_bce`` is on the scored images), speed and size.

    `trained`: a `deepvis.cae.train.TrainedCAE`; `data`: (images, labels) of the images it was
    trained on, then of those it is scored on (`config.split_training_set` for the screening).
    """
    from deepvis.cae.latent import CAEEmbedding, embedding_scores

    (x_fit, y_fit), (x_val, y_val) = data
    scores = embedding_scores(CAEEmbedding.of(trained), x_fit, y_fit, x_val, y_val)
    return scores | {
        "epochs": len(trained.history["loss"]),
        "seconds_per_epoch": trained.seconds_per_epoch,
        "params": int(trained.autoencoder.count_params()),
    }


def run(names: list[str], epochs: int = SCREEN_EPOCHS, path: Path | None = None) -> None:
    """Train (or load) and score each variant in `names` for `epochs`, merging its row into
    `path` under ``[name][str(epochs)]``."""
    from deepvis.cae.train import fit_or_load
    from deepvis.data import load_fashion_mnist

    path = path or results_path()
    configs = {name: variant_config(name, epochs) for name in names}
    (x_train, y_train), _ = load_fashion_mnist()  # the test set plays no part
    for i, (name, config) in enumerate(configs.items(), start=1):
        print(f"[{i}/{len(configs)}] {name}", flush=True)
        data = split_training_set(x_train, y_train, config.holdout)
        row = score(fit_or_load(config, x_train, data[1][0], verbose=2), data)
        print("  " + ", ".join(f"{k} {v:.4g}" for k, v in row.items()), flush=True)
        results = load_results(path)
        row = {"config": config.key(), "scored_on": SCORED_ON, **row}
        results.setdefault(name, {})[str(epochs)] = row
        atomic_write_json(path, results)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deepvis.cae.variants", description=__doc__)
    parser.add_argument("names", nargs="*", help="variants to run (default: all)")
    parser.add_argument("--epochs", type=int, default=SCREEN_EPOCHS)
    args = parser.parse_args(argv)
    run(args.names or list(VARIANTS), args.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
