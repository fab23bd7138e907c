"""How long to fine-tune the denoising CAE: its quality against epochs from the trained CAE.

``python -m deepvis.cae.finetune 4 6`` (``make finetune``) fine-tunes the report's plain CAE on
noisy inputs with the denoising CAE's schedule (`deepvis.cae.config.FINETUNE`: Adam with a
cosine decay over all the epochs of the run) once for each number of epochs given, and scores
each model before fine-tuning and after every epoch on a fixed noisy copy
(`noise.noisy_test_set`) of the validation split: mean PSNR (dB) and SSIM against the clean
images, and the binary cross-entropy. The plain CAE and every fine-tuned run are trained
without the validation split's 10,000 images (`deepvis.cae.config.validation_split`), so the
test set plays no part in the choice. The curves are saved in ``report/finetune.json`` (a
full-run result; the screening has no quick mode), each run with the split that scored it,
which the technical report reads (`load_runs`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from deepvis.cae import quality
from deepvis.cae.config import (
    VALIDATION_SIZE,
    CAEConfig,
    cae_config,
    denoising_config,
    split_training_set,
)
from deepvis.cae.noise import noisy_test_set
from deepvis.config import paths
from deepvis.errors import DeepvisError, cli_errors
from deepvis.files import atomic_write_json

#: The fine-tuning budgets screened by default (epochs).
SCREEN_EPOCHS = (4, 6)

#: The same network trained from scratch on noisy inputs instead of fine-tuned from the CAE: 16
#: epochs from a random initialisation with the CAE's own schedule (Adam 2e-3, cosine decay).
#: `score_from_scratch` (``python -m deepvis.cae.finetune --from-scratch``, part of ``make
#: finetune``) trains it through the weight cache and saves its scores (`from_scratch`).
SCRATCH = dict(init_from=None, epochs=16, learning_rate=2e-3, lr_schedule="cosine")


#: What scored every screened run (recorded in ``report/finetune.json`` as ``scored_on``).
SCORED_ON = "validation"


def screened_config(epochs: int) -> CAEConfig:
    """The denoising CAE fine-tuned for `epochs` from the plain CAE, both trained without the
    validation split (``holdout``): the configuration the screen trains for that budget."""
    return denoising_config(
        epochs=epochs, holdout=VALIDATION_SIZE, init_from=cae_config(holdout=VALIDATION_SIZE)
    )


class QualityPerEpoch(keras.callbacks.Callback):
    """Scores of the model on a fixed noisy test set before training and after every epoch.

    `x_noisy`, `x_clean`: float32 (N, 28, 28, 1), the model's inputs and the clean targets.
    `rows` gets one ``{"epoch", "psnr", "ssim", "test_bce"}`` dict per evaluation (epoch 0: the
    starting weights).
    """

    def __init__(self, x_noisy: np.ndarray, x_clean: np.ndarray) -> None:
        super().__init__()
        self.x_noisy, self.x_clean = x_noisy, x_clean
        self.rows: list[dict[str, float]] = []

    def _score(self, epoch: int) -> None:
        out = quality.predict(self.model, self.x_noisy)
        row = {"epoch": epoch, **quality.scores(self.x_clean, out)}
        row["test_bce"] = quality.bce(self.x_clean, out)
        self.rows.append(row)
        print(
            f"fine-tuning epoch {epoch}: PSNR {row['psnr']:.2f} dB, SSIM {row['ssim']:.3f}, "
            f"test BCE {row['test_bce']:.4f}",
            flush=True,
        )

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._score(0)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._score(epoch + 1)


def screen(config: CAEConfig, x_train: np.ndarray, x_test: np.ndarray) -> pd.DataFrame:
    """Fine-tune `config` (which must start from another configuration: ``init_from``) into the
    weight cache, scoring it on `x_test` (the validation images, for the screen) after every
    epoch (`QualityPerEpoch`). Returns a DataFrame indexed
    by epoch (0 .. ``config.epochs``) with columns ``psnr`` (dB), ``ssim`` and ``test_bce``.

    Raises `DeepvisError` when `config` is cached already (its curve would not be measured).
    """
    from deepvis.cae.train import fit_or_load, is_cached

    if config.init_from is None:
        raise DeepvisError(
            f"{config.name}: the fine-tuning screen needs a configuration with init_from"
        )
    if is_cached(config):
        raise DeepvisError(
            f"{config.name} ({config.epochs} epochs) is cached already; its per-epoch scores "
            "are measured only while it trains"
        )
    x_eval = x_test[: config.test_subset] if config.test_subset else x_test
    scores = QualityPerEpoch(noisy_test_set(x_eval, config), x_eval)
    fit_or_load(config, x_train, x_test, verbose=0, callbacks=[scores])
    return pd.DataFrame(scores.rows).set_index("epoch")


def runs_path() -> Path:
    """``report/finetune.json`` of the full run."""
    return paths().root / "report" / "finetune.json"


def load_runs(path: Path | None = None) -> dict[int, pd.DataFrame]:
    """The screened runs that `main` saved: number of epochs -> its `screen` curve ({} when the
    screen was never run)."""
    path = path or runs_path()
    if not path.is_file():
        return {}
    saved = json.loads(path.read_text())
    return {int(n): pd.DataFrame(run["rows"]).set_index("epoch") for n, run in saved.items()}


def final_scores(runs: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """The scores at the end of each screened run (`load_runs`): one row per budget, indexed by
    its number of epochs (ascending), with the columns ``psnr`` (mean dB), ``ssim`` (mean, in
    [-1, 1]) and ``test_bce`` (nats per pixel) on the noisy images the runs were scored on (the
    validation split's, for ``report/finetune.json``)."""
    columns = ["psnr", "ssim", "test_bce"]
    rows = {n: run.iloc[-1][columns] for n, run in sorted(runs.items())}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns).astype(float)
    frame.index.name = "epochs"
    return frame


def scratch_path() -> Path:
    """``report/dcae_from_scratch.json`` of the full run."""
    return paths().root / "report" / "dcae_from_scratch.json"


def score_from_scratch(path: Path | None = None) -> dict:
    """Train (or load) the denoising CAE from scratch (`SCRATCH`) and save, at `path`, its
    ``psnr`` (mean dB), ``ssim`` and ``test_bce`` on the report's fixed noisy test set, with
    its ``epochs``, its per-epoch ``loss`` and ``val_loss`` (BCE per pixel: Keras' running
    training mean, and the noisy test set after each epoch), the ``cpu`` that trained it and its
    ``config`` key."""
    from deepvis.cae.train import fit_or_load
    from deepvis.data import load_fashion_mnist

    (x_train, _), (x_test, _) = load_fashion_mnist()
    config = denoising_config(**SCRATCH)
    trained = fit_or_load(config, x_train, x_test)
    restored = quality.predict(trained.autoencoder, noisy_test_set(x_test, denoising_config()))
    scores = {
        "epochs": config.epochs,
        **quality.scores(x_test, restored),
        "test_bce": quality.bce(x_test, restored),
        "loss": list(trained.history["loss"]),
        "val_loss": list(trained.history["val_loss"]),
        "cpu": trained.cpu,
        "config": config.key(),
    }
    atomic_write_json(path or scratch_path(), scores)
    return scores


def from_scratch(path: Path | None = None) -> dict:
    """The scores `score_from_scratch` saved. Raises `DeepvisError` when they are missing."""
    path = path or scratch_path()
    if not path.is_file():
        raise DeepvisError(
            f"{path} not found; run `python -m deepvis.cae.finetune --from-scratch` "
            "(part of `make finetune`)"
        )
    return json.loads(path.read_text())


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Command line: screen the fine-tuning budgets and save their curves."""
    from deepvis.data import load_fashion_mnist

    parser = argparse.ArgumentParser(
        prog="python -m deepvis.cae.finetune", description=__doc__.split("\n")[0]
    )
    parser.add_argument("epochs", type=int, nargs="*", default=list(SCREEN_EPOCHS))
    parser.add_argument(
        "--from-scratch", action="store_true", help="train and score the from-scratch model only"
    )
    args = parser.parse_args(argv)
    if args.from_scratch:
        scores = score_from_scratch()
        print(f"from scratch: {scores['psnr']:.4f} dB, SSIM {scores['ssim']:.4f}", flush=True)
        return 0
    if any(n < 1 for n in args.epochs):
        raise DeepvisError(f"every number of epochs must be at least 1, got {args.epochs}")
    (x_train, y_train), _ = load_fashion_mnist()  # the test set plays no part
    x_val = split_training_set(x_train, y_train)[1][0]
    for n in args.epochs:
        config = screened_config(n)
        print(f"fine-tuning for {n} epochs ({config.key()})", flush=True)
        curve = screen(config, x_train, x_val)
        saved = json.loads(runs_path().read_text()) if runs_path().is_file() else {}
        rows = curve.reset_index().to_dict(orient="records")
        saved[str(n)] = {"config": config.key(), "scored_on": SCORED_ON, "rows": rows}
        atomic_write_json(runs_path(), saved)
    return 0


if __name__ == "__main__":
    sys.exit(main())
