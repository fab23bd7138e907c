"""`CAEConfig`: everything that determines a trained CAE, and the project's two configurations."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from deepvis.config import quick_mode
from deepvis.errors import DeepvisError


@dataclass(frozen=True)
class CAEConfig:
    """Everything that determines a trained CAE; its hash keys the weight cache.

    ``noise_std > 0`` makes it a denoising CAE: inputs get N(0, noise_std^2) noise, drawn
    afresh for every batch, while targets stay clean. ``train_subset``/``test_subset`` (None =
    all) take the first N images, for quick mode and tests. The defaults are the best variant of
    the screening in `deepvis.cae.variants` (16-32-64-128 with batch-norm, batch 64, Adam 2e-3),
    trained longer.
    """

    name: str = "cae"
    filters: tuple[int, ...] = (16, 32, 64, 128)
    latent_dim: int = 2
    batch_norm: bool = True
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


#: The Keras dtype policies a CAE can train under: float32, or bfloat16 compute with float32
#: weights (the output layer and the loss stay float32 either way, see `model.build_cae`).
PRECISIONS = ("float32", "mixed_bfloat16")

#: Fields added to `CAEConfig` later, with their defaults: left out of `key` at the default.
LATER_FIELDS = {"precision": "float32"}


#: Quick mode's training budget: a small subset and two epochs, everywhere.
QUICK_TRAINING = dict(epochs=2, train_subset=2048, test_subset=1000)


def cae_config(**overrides) -> CAEConfig:
    """The project's CAE configuration for the current mode, with `overrides` applied.

    Quick mode's budget (`QUICK_TRAINING`) is applied first, so an explicit override wins:
    ``cae_config(epochs=30)`` trains 30 epochs in quick mode too.
    """
    return CAEConfig(**{**(QUICK_TRAINING if quick_mode() else {}), **overrides})


def denoising_config(**overrides) -> CAEConfig:
    """The denoising CAE: the same architecture and training, inputs with N(0, 1) noise."""
    return cae_config(**{"name": "dcae", "noise_std": 1.0, **overrides})
