"""Training with a cache: Adam + binary cross-entropy, one folder of results per configuration.

``fit_or_load(config, x_train, x_test)`` trains the CAE of `config` (a `CAEConfig`) to reconstruct
clean images, with noisy inputs when ``config.noise_std > 0``, records train and test loss per
epoch, and stores weights, history and config in ``data/models/<name>-<hash>/``. The folder is
written atomically with a manifest of its files' SHA-256 (`write_manifest`), so an interrupted
run leaves nothing that loads; a rerun with the same configuration loads it instead of training,
once the files match the manifest (`cache_damage`), and trains it again otherwise.

A configuration with ``init_from`` (the denoising CAE) starts from that configuration's trained
weights, loaded from the cache or trained first.

``python -m deepvis.cae.train`` (``make train``, and the first step of ``make report``) trains the
report's CAE, then the denoising CAE fine-tuned from it, into that cache (`fit_all`).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from deepvis.cae.config import (
    REPORT_MODELS,
    CAEConfig,
    cae_config,
    denoising_config,
    validation_split,
)
from deepvis.cae.model import CAE, build_cae
from deepvis.cae.noise import noisy_test_set
from deepvis.config import cpu_description, paths, shown
from deepvis.errors import DeepvisError, cli_errors
from deepvis.files import atomic_directory, atomic_write_json

WEIGHTS = "model.weights.h5"
HISTORY = "history.json"
CONFIG = "config.json"
#: The SHA-256 of the other files of a cache entry, written with them (`write_manifest`).
MANIFEST = "manifest.json"
#: Training steps per call of Keras' compiled train function: the same steps in the same order
#: (the same weights, tested), with Keras' per-step Python work done once per 32 steps.
STEPS_PER_EXECUTION = 32
#: Images per batch of the test evaluation after every epoch. Not part of training (the weights
#: do not depend on it): larger batches evaluate the 10,000 test images in about half the time
#: of the training batch of 64 (measured on 2 Intel AVX-512 cores: 1.6 s instead of 2.5 to 3.9
#: s), and give the same mean loss but for float rounding.
VALIDATION_BATCH = 1000
#: `TrainedCAE.cpu` of a cache entry whose history does not name its CPU.
UNRECORDED_CPU = "CPU not recorded"


@dataclass
class TrainedCAE:
    """A trained CAE with its loss history (per epoch), the CPU it trained on, and where it is
    cached."""

    config: CAEConfig
    cae: CAE
    history: dict[str, list[float] | str]
    cache_dir: Path
    loaded: bool

    @property
    def autoencoder(self) -> keras.Model:
        """(N, 28, 28, 1) float32 in [0, 1] -> its reconstruction, same shape."""
        return self.cae.autoencoder

    @property
    def test_bce(self) -> float:
        """Final test binary cross-entropy per pixel (nats)."""
        return float(self.history["val_loss"][-1])

    @property
    def seconds_per_epoch(self) -> float:
        """Mean wall-clock seconds per training epoch, test evaluation included."""
        return float(np.mean(self.history["seconds"]))

    @property
    def cpu(self) -> str:
        """The CPU that trained it, as `deepvis.config.cpu_description` gave it at training time
        (``"CPU not recorded"`` for an entry cached before the CPU was recorded): the seconds
        per epoch belong to that CPU, not to the one that loads the entry."""
        return str(self.history.get("cpu", UNRECORDED_CPU))

    def summary(self) -> dict[str, float | int | str]:
        """The headline numbers: ``test_bce``, ``params``, ``epochs``, ``seconds_per_epoch``,
        and the ``cpu`` those seconds were measured on."""
        return {
            "test_bce": self.test_bce,
            "params": int(self.autoencoder.count_params()),
            "epochs": len(self.history["loss"]),
            "seconds_per_epoch": self.seconds_per_epoch,
            "cpu": self.cpu,
        }


def seed_everything(seed: int) -> None:
    """Python, NumPy and TensorFlow seeds plus deterministic TF ops: same seed, same run."""
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _subset(x: np.ndarray, n: int | None) -> np.ndarray:
    return x if n is None else x[:n]


def _optimizer(config: CAEConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    if config.lr_schedule == "constant":
        lr = config.learning_rate
    elif config.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=config.epochs * steps_per_epoch, alpha=0.01
        )
    else:
        raise DeepvisError(
            f"lr_schedule must be 'constant' or 'cosine', got {config.lr_schedule!r}"
        )
    return keras.optimizers.Adam(lr)


class _EpochSeconds(keras.callbacks.Callback):
    """Wall-clock seconds of every epoch, its test evaluation included."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def training_model(cae: CAE, config: CAEConfig) -> keras.Model:
    """The model `fit` trains: the autoencoder, behind a noise layer for a denoising config.

    Keras' `GaussianNoise` adds N(0, noise_std^2) noise to each training input, drawn afresh for
    every batch (so every epoch sees new noise) from the seeded Keras generator, and is the
    identity outside training. Targets stay clean: `fit` is given the clean images twice.
    """
    if config.noise_std <= 0:
        return cae.autoencoder
    inputs = keras.Input(cae.autoencoder.input_shape[1:], name="clean")
    x = keras.layers.GaussianNoise(config.noise_std, seed=config.seed, name="noise")(inputs)
    if config.noise_clip:
        x = keras.layers.Lambda(lambda t: keras.ops.clip(t, 0.0, 1.0), name="clip")(x)
    return keras.Model(inputs, cae.autoencoder(x), name=f"{config.name}_training")


class EpochLines(_EpochSeconds):
    """One printed line per epoch, led by the configuration's name, so that trainings that share
    a terminal stay readable: ``dcae  epoch  3/16  loss 0.3466  test 0.3455  41 s``."""

    def __init__(self, config: CAEConfig) -> None:
        super().__init__()
        self.name, self.epochs = config.name, config.epochs

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        logs = logs or {}
        width = len(str(self.epochs))
        print(
            f"{self.name}  epoch {epoch + 1:{width}d}/{self.epochs}  loss {logs['loss']:.4f}  "
            f"test {logs['val_loss']:.4f}  {self.seconds[-1]:.0f} s",
            flush=True,
        )


def train(
    config: CAEConfig,
    x_train: np.ndarray,
    x_test: np.ndarray,
    verbose: int = 2,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> tuple[CAE, dict]:
    """Train; return the CAE and its history (``loss``, ``val_loss``, ``seconds`` per epoch, and
    the ``cpu`` that trained it, `deepvis.config.cpu_description`).

    From a random initialisation, or from the trained weights of ``config.init_from`` (`fit_or_load`
    of that configuration on the same data). `x_train`, `x_test`: float32 (N, 28, 28, 1) in [0, 1].
    One `fit` call for all epochs, data reshuffled every epoch. The test loss is measured on
    `x_test` after every epoch (on its fixed noisy copy, `noise.noisy_test_set`, for a denoising
    configuration). With ``config.holdout``, `x_train` must be the whole training set: its
    validation images (`config.validation_split`) are dropped before training, and the caller
    passes them as `x_test`. `verbose` is Keras'; `callbacks` are added to `fit`'s.
    """
    start = None
    if config.init_from is not None:
        start = fit_or_load(config.init_from, x_train, x_test, verbose=0).autoencoder.get_weights()
    if config.holdout:  # the validation images are never trained on
        x_train = x_train[validation_split(len(x_train), config.holdout)[0]]
    x_train, x_test = _subset(x_train, config.train_subset), _subset(x_test, config.test_subset)
    seed_everything(config.seed)
    cae = build_cae(config)
    if start is not None:
        cae.autoencoder.set_weights(start)
    model = training_model(cae, config)
    steps = -(-len(x_train) // config.batch_size)
    model.compile(
        optimizer=_optimizer(config, steps),
        loss="binary_crossentropy",
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    x_test_in = noisy_test_set(x_test, config) if config.noise_std > 0 else x_test
    timer = _EpochSeconds()
    h = model.fit(
        x_train,
        x_train,
        batch_size=config.batch_size,
        epochs=config.epochs,
        callbacks=[timer, *callbacks],
        validation_data=(x_test_in, x_test),
        validation_batch_size=VALIDATION_BATCH,
        shuffle=True,
        verbose=verbose,
    )
    history = {
        "loss": [float(v) for v in h.history["loss"]],
        "val_loss": [float(v) for v in h.history["val_loss"]],
        "seconds": timer.seconds,
        "cpu": cpu_description(),
    }
    return cae, history


def cache_dir(config: CAEConfig) -> Path:
    """``data/models/<name>-<hash>``: where a configuration's results live."""
    return paths().models / config.key()


def _sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path) -> None:
    """Record the SHA-256 of every file in `folder` in its `MANIFEST`:
    ``{"sha256": {file name: hex digest}}``."""
    digests = {p.name: _sha256(p) for p in sorted(folder.iterdir()) if p.name != MANIFEST}
    atomic_write_json(folder / MANIFEST, {"sha256": digests})


def cache_damage(folder: Path) -> str | None:
    """What makes the cache entry `folder` unusable, in a few words; None when its manifest
    lists the weights, history and config and every file it lists has the recorded SHA-256."""
    try:
        recorded = json.loads((folder / MANIFEST).read_text())["sha256"]
    except FileNotFoundError:
        return f"it has no {MANIFEST} (written before entries were checked)"
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"its {MANIFEST} is unreadable ({err})"
    if not isinstance(recorded, dict) or not {WEIGHTS, HISTORY, CONFIG} <= set(recorded):
        return f"its {MANIFEST} does not list {WEIGHTS}, {HISTORY} and {CONFIG}"
    for name, digest in recorded.items():
        if not (folder / name).is_file():
            return f"{name} is missing"
        if _sha256(folder / name) != digest:
            return f"{name} does not match the SHA-256 recorded when it was written"
    return None


def is_cached(config: CAEConfig) -> bool:
    """Whether `config`'s trained model is in the cache, complete and undamaged
    (`cache_damage`)."""
    folder = cache_dir(config)
    return folder.is_dir() and cache_damage(folder) is None


def _load(config: CAEConfig, folder: Path) -> TrainedCAE:
    """The CAE of `config` from its verified cache entry `folder`."""
    cae = build_cae(config)
    cae.autoencoder.load_weights(folder / WEIGHTS)
    history = json.loads((folder / HISTORY).read_text())
    print(f"Loaded cached {config.name} ({len(history['loss'])} epochs) from {shown(folder)}")
    return TrainedCAE(config, cae, history, folder, loaded=True)


def fit_or_load(
    config: CAEConfig,
    x_train: np.ndarray,
    x_test: np.ndarray,
    *,
    retrain: bool = False,
    verbose: int = 2,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> TrainedCAE:
    """Load the cached CAE for `config`, or train it (and cache it) when absent or `retrain`.

    A cache entry is loaded only when its files match their manifest (`cache_damage`); a
    damaged, incomplete or unchecked one is reported in one line and trained again.
    `verbose` and `callbacks` go to `train`."""
    folder = cache_dir(config)
    if not retrain and folder.is_dir():
        damage = cache_damage(folder)
        if damage is None:
            return _load(config, folder)
        print(f"{config.name}: cached entry {shown(folder)} not used, {damage}", flush=True)
    print(f"Training {config.name}: {config.epochs} epochs, cache {shown(folder)}")
    cae, history = train(config, x_train, x_test, verbose=verbose, callbacks=callbacks)
    with atomic_directory(folder) as tmp:
        cae.autoencoder.save_weights(tmp / WEIGHTS)
        atomic_write_json(tmp / HISTORY, history)
        atomic_write_json(tmp / CONFIG, asdict(config))
        write_manifest(tmp)
    return TrainedCAE(config, cae, history, folder, loaded=False)


def fit_all(configs: Sequence[CAEConfig]) -> list[TrainedCAE]:
    """Train (or load) every configuration of `configs` on Fashion-MNIST, one after the other,
    each with all of the CPU's cores, printing one line per epoch (`EpochLines`) and one per
    model. A configuration that others start from (``init_from``) must come before them.

    Training one model at a time is as fast as training two side by side on 2 cores, and the
    denoising CAE needs the trained CAE first.
    """
    from deepvis.data import load_fashion_mnist

    (x_train, _), (x_test, _) = load_fashion_mnist()
    done = []
    for config in configs:
        trained = fit_or_load(config, x_train, x_test, verbose=0, callbacks=[EpochLines(config)])
        if not trained.loaded:
            print(
                f"{config.name}: trained {config.epochs} epochs, test BCE {trained.test_bce:.4f}, "
                f"{trained.seconds_per_epoch:.0f} s/epoch, cached in {shown(trained.cache_dir)}",
                flush=True,
            )
        done.append(trained)
    return done


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m deepvis.cae.train [cae] [dcae]``: the report's CAE and denoising CAE (or the
    ones named) into the cache."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m deepvis.cae.train",
        description="Train the report's CAE, then the denoising CAE fine-tuned from it, into "
        "the cache (skipping what is cached already).",
    )
    parser.add_argument(
        "models",
        nargs="*",
        metavar="{cae,dcae}",
        help="only these (default both; the denoising CAE trains the CAE first if need be)",
    )
    configs = dict(zip(REPORT_MODELS, (cae_config(), denoising_config()), strict=True))
    chosen = parser.parse_args(argv).models or list(configs)
    unknown = sorted(set(chosen) - set(configs))
    if unknown:  # argparse's `choices` rejects an empty list with nargs="*" (Python 3.11)
        parser.error(f"unknown model {', '.join(unknown)}: choose from {', '.join(configs)}")
    fit_all([config for name, config in configs.items() if name in chosen])
    return 0


if __name__ == "__main__":
    sys.exit(main())
