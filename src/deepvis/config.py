"""Where things live, and the one switch for quick mode.

Quick mode (env ``DEEPVIS_QUICK=1``, or ``make report QUICK=1``) trains tiny models on small
subsets and writes its figures, metrics and rendered report under ``build/quick/`` so that a
quick check can never overwrite the committed full-run outputs. It is read here and nowhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def project_root() -> Path:
    """The project folder: env ``DEEPVIS_HOME`` if set, else the checkout holding this package."""
    env = os.environ.get("DEEPVIS_HOME")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[2]


def shown(path: Path) -> str:
    """`path` relative to the project root where it lies inside it (printed outputs then do not
    depend on where the project is checked out), else the absolute path."""
    path, root = Path(path).resolve(), project_root()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def quick_mode() -> bool:
    """True when env ``DEEPVIS_QUICK`` is set to a true value (1, true, yes)."""
    return os.environ.get("DEEPVIS_QUICK", "").strip().lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class Paths:
    """Output locations. Inputs and caches (``data/``) are shared; outputs move in quick mode."""

    root: Path
    out: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def models(self) -> Path:
        return self.data / "models"

    @property
    def figures(self) -> Path:
        return self.out / "figures"

    @property
    def report(self) -> Path:
        return self.out / "report"

    @property
    def notebooks_out(self) -> Path:
        """Where executed notebooks are saved: in place for a full run, a copy in quick mode."""
        return self.out / "notebooks"

    @property
    def metrics(self) -> Path:
        return self.report / "metrics.json"


def paths() -> Paths:
    """The locations for the current mode."""
    root = project_root()
    return Paths(root=root, out=root / "build" / "quick" if quick_mode() else root)


@dataclass(frozen=True)
class CAEConfig:
    """Everything that determines a trained CAE; its hash keys the weight cache.

    ``noise_std > 0`` makes it a denoising CAE: inputs get N(0, noise_std^2) noise, drawn
    afresh for every batch, while targets stay clean. ``train_subset``/``test_subset`` (None =
    all) take the first N images, for quick mode and tests. The defaults are the best variant of
    the screening in `deepvis.variants` (16-32-64-128 with batch-norm, batch 64, Adam 2e-3),
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

    def key(self) -> str:
        """``<name>-<12 hex digits>``: a stable hash of every field."""
        import hashlib
        import json
        from dataclasses import asdict

        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return f"{self.name}-{hashlib.sha256(blob).hexdigest()[:12]}"


#: Quick mode's training budget: a small subset and two epochs, everywhere.
QUICK_TRAINING = dict(epochs=2, train_subset=2048, test_subset=1000)


def cae_config(**overrides) -> CAEConfig:
    """The project's CAE configuration for the current mode, with `overrides` applied."""
    base = CAEConfig(**overrides)
    if quick_mode():
        from dataclasses import replace

        return replace(base, **QUICK_TRAINING)
    return base


def denoising_config(**overrides) -> CAEConfig:
    """The denoising CAE: the same architecture and training, inputs with N(0, 1) noise."""
    return cae_config(**{"name": "dcae", "noise_std": 1.0, **overrides})
