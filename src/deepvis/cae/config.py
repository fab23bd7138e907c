"""`CAEConfig`: everything that determines a trained CAE, and the project's two configurations."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from deepvis.config import quick_mode
from deepvis.errors import DeepvisError


@dataclass(frozen=True)
class CAEConfig:
    """Everything that determines a trained CAE; its hash keys the weight cache.

    ``noise_std > 0`` makes it a denoising CAE: inputs get N(0, noise_std^2) noise, drawn afresh for
    every batch, while targets stay clean. ``init_from`` (a configuration) starts training from that
    configuration's trained weights (trained first if not cached) instead of a random
    initialisation: the denoising CAE is the plain CAE fine-tuned on noisy inputs.
    ``train_subset``/``test_subset`` (None = all) take the first N images, for quick mode and tests.
    ``holdout`` > 0 holds that many training images out of training (`validation_split`, fixed
    by `VALIDATION_SEED`): the screens train on the rest and score on them (a validation split).
    The defaults are the best variant of the screening in `deepvis.cae.variants` (16-32-64-128 with
    batch-norm, batch 64, Adam 2e-3), trained longer. ``fused_batch_norm`` computes the same
    batch-norm by TensorFlow's fused kernel (faster; the screening ran Keras' layer).
    """

    name: str = "cae"
    filters: tuple[int, ...] = (16, 32, 64, 128)
    latent_dim: int = 2
    batch_norm: bool = True
    fused_batch_norm: bool = True  # TensorFlow's fused kernel (`model.FusedBatchNorm`)
    dropout: float = 0.0
    bottleneck_activation: str | None = None
    epochs: int = 16
    batch_size: int = 64
    learning_rate: float = 2e-3
    lr_schedule: str = "cosine"  # "constant" or "cosine" (decay to 1% over all epochs)
    seed: int = 0
    noise_std: float = 0.0
    noise_clip: bool = False
    train_subset: int | None = None
    test_subset: int | None = None
    precision: str = "float32"  # a Keras dtype policy: "float32" or "mixed_bfloat16"
    init_from: CAEConfig | None = None  # start from this configuration's trained weights
    holdout: int = 0  # training images held out for validation (`validation_split`), never fit

    def key(self) -> str:
        """``<name>-<12 hex digits>``: a stable hash of every field.

        Fields added after the cache existed (`LATER_FIELDS`) enter the hash only when they
        differ from their default, so the keys of earlier configurations, and their cached
        weights, stay valid.
        """
        fields = {k: v for k, v in asdict(self).items() if LATER_FIELDS.get(k, object()) != v}
        blob = json.dumps(fields, sort_keys=True).encode()
        return f"{self.name}-{hashlib.sha256(blob).hexdigest()[:12]}"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise DeepvisError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.init_from is not None and (
            self.init_from.filters,
            self.init_from.latent_dim,
            self.init_from.batch_norm,
            self.init_from.bottleneck_activation,
        ) != (self.filters, self.latent_dim, self.batch_norm, self.bottleneck_activation):
            raise DeepvisError(
                f"{self.name}: init_from must have the same architecture (filters, latent_dim, "
                f"batch_norm, bottleneck_activation), got {self.init_from.name!r}'s"
            )


#: The Keras dtype policies a CAE can train under: float32, or bfloat16 compute with float32
#: weights (the output layer and the loss stay float32 either way, see `model.build_cae`).
PRECISIONS = ("float32", "mixed_bfloat16")

#: Fields added to `CAEConfig` later, with their defaults: left out of `key` at the default.
LATER_FIELDS = {"precision": "float32", "init_from": None, "fused_batch_norm": False, "holdout": 0}


#: The validation split of the screens (`deepvis.cae.variants`, `deepvis.cae.finetune`): this many
#: of the 60,000 training images, drawn by `VALIDATION_SEED`, are never trained on; every choice
#: is made on them, and the test set scores the final models once.
VALIDATION_SIZE = 10_000
VALIDATION_SEED = 0


def validation_split(n: int, holdout: int = VALIDATION_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Indices (int64, sorted) of the images trained on and of the `holdout` images held out,
    among `n` training images (60,000 for the report's split): a permutation of ``range(n)`` by
    `VALIDATION_SEED`, whose first `holdout` entries are held out."""
    if not 0 < holdout < n:
        raise DeepvisError(f"holdout must be between 1 and {n - 1} images, got {holdout}")
    order = np.random.default_rng(VALIDATION_SEED).permutation(n)
    return np.sort(order[holdout:]), np.sort(order[:holdout])


def split_training_set(
    x: np.ndarray, y: np.ndarray, holdout: int = VALIDATION_SIZE
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The training set as (fit images, fit labels), (validation images, validation labels):
    `validation_split` of ``len(x)`` images."""
    fit, val = validation_split(len(x), holdout)
    return (x[fit], y[fit]), (x[val], y[val])


#: Quick mode's training budget: a small subset and two epochs, everywhere.
QUICK_TRAINING = dict(epochs=2, train_subset=2048, test_subset=1000)


#: Quick mode's analysis data (notebooks 02, 03 and 05): the first images of each split. A full run
#: analyses all 60,000 training and 10,000 test images.
QUICK_ANALYSIS = dict(train=6000, test=1000)


def analysis_data(
    data: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Fashion-MNIST as `deepvis.data.load_fashion_mnist` returns it, cut to `QUICK_ANALYSIS`'s
    first images of each split in quick mode (unchanged in a full run)."""
    (x_train, y_train), (x_test, y_test) = data
    if not quick_mode():
        return data
    n, m = QUICK_ANALYSIS["train"], QUICK_ANALYSIS["test"]
    return (x_train[:n], y_train[:n]), (x_test[:m], y_test[:m])


def cae_config(**overrides) -> CAEConfig:
    """The project's CAE configuration for the current mode, with `overrides` applied.

    Quick mode's budget (`QUICK_TRAINING`) is applied first, so an explicit override wins:
    ``cae_config(epochs=30)`` trains 30 epochs in quick mode too.
    """
    return CAEConfig(**{**(QUICK_TRAINING if quick_mode() else {}), **overrides})


#: How the denoising CAE is fine-tuned from the plain CAE: the plain CAE's own optimiser settings
#: (Adam, 2e-3, cosine decay over all the epochs), for fewer epochs. `deepvis.cae.finetune`
#: screens the number of epochs. Quick mode keeps its own epochs.
FINETUNE = dict(epochs=10)


#: The report's two models, in training order (the denoising CAE starts from the CAE): the names
#: ``python -m deepvis.cae.train`` takes, and the training steps of ``make report``.
REPORT_MODELS = ("cae", "dcae")


def denoising_config(**overrides) -> CAEConfig:
    """The denoising CAE: the plain CAE (`cae_config`) fine-tuned on inputs with N(0, 1) noise
    (`FINETUNE`), targets clean. ``denoising_config(init_from=None, epochs=16,
    learning_rate=2e-3, lr_schedule="cosine")`` trains it from scratch instead."""
    finetune = {"epochs": QUICK_TRAINING["epochs"]} if quick_mode() else {}
    return cae_config(
        **{
            "name": "dcae",
            "noise_std": 1.0,
            "init_from": cae_config(),
            **FINETUNE,
            **finetune,
            **overrides,
        }
    )
