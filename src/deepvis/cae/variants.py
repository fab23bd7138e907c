"""What helps a 2-D bottleneck: a screening of CAE variants on a short, equal training budget.

``python -m deepvis.cae.variants [NAME ...]`` trains each named variant of `VARIANTS` (all of
them by default) for `SCREEN_EPOCHS` epochs on the full training set, caches it like every CAE,
scores its latent plane and its reconstructions, and merges one row per variant into
``report/variants.json`` (written after every variant, atomically). Exercise 1's appendix
(notebook 05_cae_summary) shows the table.
A variant is a set of `CAEConfig` overrides, so it stays within the assignment's rules: the same
symmetric Conv -> MaxPool / Conv -> UpSampling template with a 2-neuron dense bottleneck.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

from deepvis.cae.config import CAEConfig
from deepvis.config import paths
from deepvis.errors import DeepvisError, cli_errors
from deepvis.files import atomic_write_json

#: Epochs of the screening budget (cosine decay over exactly these epochs).
SCREEN_EPOCHS = 6

#: The screening's starting point, spelled out so that it does not move with the defaults of
#: `CAEConfig` (which are the screening's winner): plain 16-32-64, batch 256, Adam 1e-3.
SCREEN_BASE = dict(
    filters=(16, 32, 64),
    batch_norm=False,
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
    "32-64-128": dict(filters=(32, 64, 128)),
    "32-64-128, batch-norm": dict(filters=(32, 64, 128), batch_norm=True),
}


_BN64 = "16-32-64, batch-norm, batch 64"

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
    (
        "lr 2e-3 (4 blocks)",
        "16-32-64-128, batch-norm, batch 64",
        "16-32-64-128, batch-norm, batch 64, lr 2e-3",
    ),
    ("tanh bottleneck", "16-32-64, batch-norm", "16-32-64, batch-norm, tanh code"),
]

#: The columns of a results row that `effects` compares, in the order shown.
SCORES = ["knn5", "trustworthiness", "silhouette", "test_bce"]


def table(results: dict[str, dict]) -> pd.DataFrame:
    """The screening as a DataFrame: one row per variant that ran, in `VARIANTS` order, with the
    columns of `SCORES` plus ``seconds_per_epoch`` and ``params``."""
    rows = {name: results[name] for name in VARIANTS if name in results}
    frame = pd.DataFrame.from_dict(
        rows, orient="index", columns=[*SCORES, "seconds_per_epoch", "params"]
    )
    frame.index.name = f"variant ({SCREEN_EPOCHS} epochs)"
    return frame


def effects(results: dict[str, dict]) -> pd.DataFrame:
    """What each lever of `LEVERS` changed: one row per lever whose two variants both ran.

    Columns: the change (with minus without) of each score in `SCORES`, and ``time_ratio``, the
    ratio of seconds per epoch. Higher is better for every score but ``test_bce``.
    """
    rows = {}
    for lever, without, with_ in LEVERS:
        if without in results and with_ in results:
            a, b = results[without], results[with_]
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
    return CAEConfig(name="variant", epochs=epochs, **(SCREEN_BASE | VARIANTS[name]))


def matching(config: CAEConfig) -> str | None:
    """The variant that `config` trains (ignoring its name, epochs and subsets), or None."""
    plain = replace(config, name="variant", train_subset=None, test_subset=None)
    for name in VARIANTS:
        if variant_config(name, config.epochs) == plain:
            return name
    return None


def results_path() -> Path:
    """``report/variants.json`` of the full run (the screening has no quick mode)."""
    return paths().root / "report" / "variants.json"


def load_results(path: Path | None = None) -> dict[str, dict[str, float]]:
    """Variant name -> its scores, as `run` wrote them ({} when the screening was never run)."""
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
    """Train (or load) and score each variant in `names`, merging rows into `path`."""
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
        atomic_write_json(path, load_results(path) | {name: {"config": config.key(), **row}})


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
