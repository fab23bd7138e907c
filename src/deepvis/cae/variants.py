"""What helps a 2-D bottleneck: a screening of CAE variants on a short, equal training budget.

``python -m deepvis.cae.variants [NAME ...] [--epochs N]`` trains each named variant of
`VARIANTS` (all of them by default) for N epochs (`SCREEN_EPOCHS` by default) on the 50,000
training images outside the validation split (`deepvis.cae.config.validation_split`), caches it
like every CAE, scores its latent plane on the 10,000 validation images (kNN from the codes of
the 50,000), and merges one row per variant and budget into ``report/variants.json`` (written
after every variant, atomically; each row names the split that scored it, `SCORED_ON`). The
test set plays no part. ``--seeds`` instead trains `REPEATED`, the report's configuration, with
each seed of `SCREEN_SEEDS` at the screening budget, scored the same way, into
``report/screen_seeds.json``: its spread over seeds, in the screen's own setting, is the noise of
the screen (`noise`: the smallest difference read as an effect). Exercise 1's appendix (notebook
05_cae_analyses) shows the table at the screening budget (`table`) and the scores of one variant
against its budget (`curve`).
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
    "16-32-64, batch-norm, ReLU code": dict(batch_norm=True, bottleneck_activation="relu"),
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
    "16-32-64-128, batch-norm, batch 64, lr 2e-3, ReLU code": dict(
        filters=(16, 32, 64, 128),
        batch_norm=True,
        batch_size=64,
        learning_rate=2e-3,
        bottleneck_activation="relu",
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
    ("ReLU bottleneck", "16-32-64, batch-norm", "16-32-64, batch-norm, ReLU code"),
]

#: The variant that ``--seeds`` repeats: the report's configuration at the screening budget.
REPEATED = _BEST
#: The report's configuration with a ReLU on the code neurons (the assignment's recommendation),
#: run at the report's 16 epochs beside `REPEATED`'s own 16-epoch run.
RELU_CODE = f"{_BEST}, ReLU code"
#: Its seeds (0 is the screen's own run of it).
SCREEN_SEEDS = (0, 1, 2)

#: The columns of a results row that `effects` compares, in the order shown.
SCORES = ["knn5", "trustworthiness", "silhouette", "test_bce"]

#: The published 2-D convolutional autoencoder of Sainburg, McInnes and Gentner ("Parametric
#: UMAP", 2021; their released tables) on the Fashion-MNIST test set: conv layers and two
#: Dense-512 layers around the code, BCE only, 50 epochs, batch 256. Keys as in `curve`.
PUBLISHED_AE = {"knn5": 0.734, "trustworthiness_all": 0.970}

#: A difference between two single runs is read as an effect when it is at least this many
#: standard deviations (over seeds, of one run) in size. The difference of two runs spreads √2
#: times as much as one run, so this is about two standard deviations of the difference.
NOISE_STDS = 3

#: The scores whose spread over seeds `noise` measures (the silhouette is only shown).
NOISE_SCORES = ("knn5", "trustworthiness", "trustworthiness_all", "test_bce")

#: Score of `NOISE_SCORES` -> its key in each seed's scores of ``report/seeds.json`` (the final
#: models on the test set, `deepvis.cae.seeds`), for `noise`.
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


def longer_runs(results: Results, epochs: int) -> pd.DataFrame:
    """The report's configuration beyond the screen's budget, scored on the validation split.

    Rows: ``budget`` (`REPEATED` after `epochs`, the report's budget), ``double`` (after twice
    that) and ``relu`` (`RELU_CODE` after `epochs`); columns as `curve`'s. Raises KeyError,
    naming the missing run, when `results` lacks one (``make variants`` runs them).
    """
    wanted = {"budget": (REPEATED, epochs), "double": (REPEATED, 2 * epochs),
              "relu": (RELU_CODE, epochs)}
    rows = {}
    for row, (name, budget) in wanted.items():
        runs = curve(results, name)
        if budget not in runs.index:
            raise KeyError(f"no {budget}-epoch run of {name!r} in report/variants.json")
        rows[row] = runs.loc[budget]
    return pd.DataFrame(rows).T


#: +1 for the scores where higher is better, -1 for the BCE, where lower is.
BETTER = {"knn5": 1, "trustworthiness": 1, "trustworthiness_all": 1, "silhouette": 1,
          "test_bce": -1}


def improvement(frame: pd.DataFrame, row: str, against: str) -> pd.Series:
    """How much better the scores of row `row` of `frame` (e.g. `longer_runs`) are than those of
    row `against`: their difference, signed so that positive means better (`BETTER`), for each
    score column that `frame` has."""
    columns = [c for c in BETTER if c in frame.columns]
    return (frame.loc[row, columns] - frame.loc[against, columns]) * pd.Series(BETTER)[columns]


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


def noise(
    runs: Mapping[str, Mapping[str, float]], keys: Mapping[str, str] | None = None
) -> dict[str, float]:
    """Score -> the smallest difference between two single runs read as an effect:
    `NOISE_STDS` sample standard deviations (ddof=1) of that score over `runs`.

    `runs`: seed -> its scores, at least two seeds: the ``seeds`` of ``report/screen_seeds.json``
    (`load_seeds`; the screen's noise) or of ``report/seeds.json`` (the final models' noise on the
    test set, with ``keys=SEED_METRICS``). `keys`: score -> its key in each run's scores
    (default: each score of `NOISE_SCORES` under its own name).
    """
    keys = keys or {score: score for score in NOISE_SCORES}
    return {score: NOISE_STDS * _seed_std(runs, key) for score, key in keys.items()}


def _seed_std(runs: Mapping[str, Mapping[str, float]], key: str) -> float:
    """The sample standard deviation (ddof=1) of `key` over the seeds of `runs`; raises
    `DeepvisError` for fewer than 2 seeds."""
    if len(runs) < 2:
        raise DeepvisError(f"the spread over seeds needs at least 2 seeds, got {len(runs)}; run "
                           "`python -m deepvis.cae.variants --seeds` or `make seeds`")
    return float(np.std([float(row[key]) for row in runs.values()], ddof=1))


def t_bar(
    runs: Mapping[str, Mapping[str, float]], score: str = "knn5", level: float = 0.95
) -> float:
    """The smallest difference between two single runs that a two-sided t-test at `level`
    calls significant, with the standard deviation σ of `score` estimated from the seeds of
    `runs` (n − 1 degrees of freedom): t · √2 · σ. With 3 seeds that is about 6.1σ, twice the
    screening rule's `NOISE_STDS` = 3σ, which is a screen, not a test."""
    from scipy.stats import t

    sd = _seed_std(runs, score)
    return float(t.ppf(0.5 + level / 2, len(runs) - 1)) * float(np.sqrt(2)) * sd


def accuracy_se(*accuracies: float, n: int) -> float:
    """The binomial standard error of one accuracy scored on `n` test images, or of the
    difference of several (their variances add; unpaired, so conservative when they were
    scored on the same images): sqrt(Σ p(1 − p) / n)."""
    return float(np.sqrt(sum(p * (1 - p) for p in accuracies) / n))


def paired_accuracy_se(y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> float:
    """The standard error of the difference of two accuracies scored on the same images: the
    standard deviation of the per-image difference d = [a right] − [b right] (each 0 or 1)
    over sqrt(n). `y_true`, `pred_a`, `pred_b`: labels of shape (n,). Images both get right, or
    both wrong, add nothing, so it is smaller than `accuracy_se`'s unpaired error."""
    from deepvis.cae.quality import paired_se

    return paired_se(pred_a == y_true, pred_b == y_true)


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


def seeds_path() -> Path:
    """``report/screen_seeds.json``: `REPEATED` with each seed of `SCREEN_SEEDS` (``--seeds``)."""
    return paths().root / "report" / "screen_seeds.json"


def load_results(path: Path | None = None) -> Results:
    """The `Results` that `run` wrote ({} when the screening was never run)."""
    path = path or results_path()
    return json.loads(path.read_text()) if path.is_file() else {}


def load_seeds(path: Path | None = None) -> dict:
    """The content of ``report/screen_seeds.json`` (`run_seeds`): ``variant``, ``epochs``,
    ``scored_on`` and ``seeds`` (seed -> row). Raises `DeepvisError` when it is missing."""
    path = path or seeds_path()
    if not path.is_file():
        raise DeepvisError(f"{path} not found; run `python -m deepvis.cae.variants --seeds`")
    return json.loads(path.read_text())


def lever(name: str) -> tuple[str, str]:
    """The two variants (without it, with it) that the lever `name` of `LEVERS` compares."""
    for lever_name, without, with_ in LEVERS:
        if lever_name == name:
            return without, with_
    raise DeepvisError(f"no lever {name!r}; the levers are {[n for n, _, _ in LEVERS]}")


def pca_score(data) -> dict[str, float]:
    """PCA's scores as `score` scores a variant (Step 4's latent metrics): PCA fitted on the
    first (images, labels) of `data` and scored on the second (`config.split_training_set`),
    the floor of the screening."""
    from deepvis.cae.latent import embedding_scores, fit_pca

    (x_fit, y_fit), (x_val, y_val) = data
    return embedding_scores(fit_pca(x_fit), x_fit, y_fit, x_val, y_val)


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


def _screened(configs: Mapping[str, CAEConfig]):
    """Train (or load) each config of `configs` (label -> config) on the training images outside
    the validation split and score it there (`score`): yields (label, config, row)."""
    from deepvis.cae.train import fit_or_load
    from deepvis.data import load_fashion_mnist

    (x_train, y_train), _ = load_fashion_mnist()  # the test set plays no part
    for i, (label, config) in enumerate(configs.items(), start=1):
        print(f"[{i}/{len(configs)}] {label}", flush=True)
        data = split_training_set(x_train, y_train, config.holdout)
        row = score(fit_or_load(config, x_train, data[1][0], verbose=2), data)
        print("  " + ", ".join(f"{k} {v:.4g}" for k, v in row.items()), flush=True)
        yield label, config, {"config": config.key(), "scored_on": SCORED_ON, **row}


def run(names: list[str], epochs: int = SCREEN_EPOCHS, path: Path | None = None) -> None:
    """Train (or load) and score each variant in `names` for `epochs`, merging its row into
    `path` under ``[name][str(epochs)]``."""
    path = path or results_path()
    configs = {name: variant_config(name, epochs) for name in names}
    for name, _, row in _screened(configs):
        results = load_results(path)
        results.setdefault(name, {})[str(epochs)] = row
        atomic_write_json(path, results)


def run_seeds(
    seeds: tuple[int, ...] = SCREEN_SEEDS, name: str = REPEATED, path: Path | None = None
) -> dict:
    """Train (or load) and score variant `name` at the screening budget with each of `seeds`,
    merging each seed's row into `path` (`seeds_path`); returns the file's content."""
    path = path or seeds_path()
    base = variant_config(name)
    configs = {f"{name}, seed {seed}": replace(base, seed=seed) for seed in seeds}
    for _, config, row in _screened(configs):
        content = json.loads(path.read_text()) if path.is_file() else {}
        if content.get("variant") != name:
            content = {}
        content = {"variant": name, "epochs": base.epochs, "scored_on": SCORED_ON,
                   "seeds": content.get("seeds", {}) | {str(config.seed): row}}
        atomic_write_json(path, content)
    return content


@cli_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deepvis.cae.variants", description=__doc__)
    parser.add_argument("names", nargs="*", help="variants to run (default: all)")
    parser.add_argument("--epochs", type=int, default=SCREEN_EPOCHS)
    parser.add_argument("--seeds", action="store_true",
                        help=f"instead, repeat {REPEATED!r} with seeds {SCREEN_SEEDS}")
    args = parser.parse_args(argv)
    if args.seeds:
        run_seeds()
    else:
        run(args.names or list(VARIANTS), args.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
