"""What helps a 2-D bottleneck: a screening of CAE variants on a short, equal training budget.

``python -m deepvis.cae.variants [NAME ...] [--epochs N]`` trains each named variant of
`VARIANTS` (all of them by default) for N epochs (`SCREEN_EPOCHS` by default) on the full
training set, caches it like every CAE, scores its latent plane and its reconstructions, and
merges one row per variant and budget into ``report/variants.json`` (written after every
variant, atomically). Exercise 1's appendix (notebook 05_cae_analyses) shows the table at the
screening budget (`table`) and the scores of one variant against its budget (`curve`).
Variants are cached under the report CAE's name. The screening ran Keras' batch-norm layer
(``fused_batch_norm=False``); the report's CAE computes the same function with the fused kernel,
so `matching` finds its variant, but the variant's cached weights are not the report's.
A variant is a set of `CAEConfig` overrides, so it stays within the assignment's rules: the same
symmetric Conv -> MaxPool / Conv -> UpSampling template with a 2-neuron dense bottleneck.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from deepvis.cae.config import CAEConfig
from deepvis.config import paths
from deepvis.errors import DeepvisError, cli_errors
from deepvis.files import atomic_write_json

#: Epochs of the screening budget (cosine decay over exactly these epochs).
SCREEN_EPOCHS = 6

#: The cache name of every variant: that of the report's CAE (`cae_config`).
CACHE_NAME = "cae"

#: The screening's starting point, spelled out so that it does not move with the defaults of
#: `CAEConfig` (which are the screening's winner): plain 16-32-64, batch 256, Adam 1e-3. The
#: screening ran Keras' batch-norm layer (``fused_batch_norm=False``), before the fused kernel.
SCREEN_BASE = dict(
    filters=(16, 32, 64),
    batch_norm=False,
    fused_batch_norm=False,
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
    run for (ascending), with the columns of `SCORES`, ``trustworthiness_all`` (on all test
    points; missing for rows scored before it existed) and ``seconds_per_epoch``."""
    rows = {int(epochs): row for epochs, row in results.get(name, {}).items()}
    frame = pd.DataFrame.from_dict(
        dict(sorted(rows.items())),
        orient="index",
        columns=[*SCORES, "trustworthiness_all", "seconds_per_epoch"],
    )
    frame.index.name = "epochs"
    return frame


def doublings_to(curve: pd.DataFrame, start: int, target: float, column: str = "knn5") -> float:
    """How many more doublings of the training budget, beyond the longest run of `curve`, would
    bring `column` to `target`, if every doubling kept gaining what the doublings from `start`
    epochs to the longest run gained on average (a straight line in log2 of the epochs).

    `curve`: the frame of `curve` (indexed by epochs, ascending), with a row at `start` epochs.
    Returns a float; negative when the longest run is past `target` already.
    """
    at, last = float(curve.loc[start, column]), float(curve[column].iloc[-1])
    per_doubling = (last - at) / np.log2(curve.index[-1] / start)
    return (target - last) / per_doubling


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


def variant_config(name: str, epochs: int = SCREEN_EPOCHS) -> CAEConfig:
    """The `CAEConfig` of variant `name` (a key of `VARIANTS`) at the screening budget."""
    if name not in VARIANTS:
        raise DeepvisError(f"unknown variant {name!r}; choose from {sorted(VARIANTS)}")
    return CAEConfig(name=CACHE_NAME, epochs=epochs, **(SCREEN_BASE | VARIANTS[name]))


def matching(config: CAEConfig) -> str | None:
    """The variant that `config` trains (ignoring its name, epochs, subsets and which kernel
    computes its batch-norm), or None."""
    plain = replace(
        config, name=CACHE_NAME, train_subset=None, test_subset=None, fused_batch_norm=False
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
    """Scores of one trained variant: Step 4's latent metrics (`latent.embedding_scores`),
    speed and size.

    `trained`: a `deepvis.cae.train.TrainedCAE`; `data`: ``load_fashion_mnist()``'s two pairs.
    """
    from deepvis.cae.latent import CAEEmbedding, embedding_scores

    (x_train, y_train), (x_test, y_test) = data
    scores = embedding_scores(CAEEmbedding.of(trained), x_train, y_train, x_test, y_test)
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
    data = load_fashion_mnist()
    (x_train, _), (x_test, _) = data
    for i, (name, config) in enumerate(configs.items(), start=1):
        print(f"[{i}/{len(configs)}] {name}", flush=True)
        row = score(fit_or_load(config, x_train, x_test, verbose=2), data)
        print("  " + ", ".join(f"{k} {v:.4g}" for k, v in row.items()), flush=True)
        results = load_results(path)
        results.setdefault(name, {})[str(epochs)] = {"config": config.key(), **row}
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
