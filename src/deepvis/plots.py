"""Figures of the CAE part: one function per figure kind, each returning a matplotlib Figure.

Every Fashion-MNIST class has one fixed colour (`CLASS_COLORS`) in every plot of the project.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from deepvis.data import CLASS_NAMES

#: One colour per class (tab10), index = label.
CLASS_COLORS: tuple[str, ...] = tuple(matplotlib.colors.to_hex(c) for c in plt.cm.tab10.colors)

#: Reference test BCE values (offline-facts): the pixels' own entropy, and PCA with 2 components.
BCE_FLOOR = 0.2422
PCA2_BCE = 0.3914


def sample_grid(x: np.ndarray, y: np.ndarray, per_class: int = 6) -> Figure:
    """A grid of `per_class` images of each class, one column per class, titled by class name.

    `x`: (N, 28, 28, 1) or (N, 28, 28) in [0, 1]; `y`: (N,) int labels. Takes the first images.
    """
    fig, axes = plt.subplots(
        per_class, len(CLASS_NAMES), figsize=(1.1 * len(CLASS_NAMES), 1.15 * per_class)
    )
    for c, name in enumerate(CLASS_NAMES):
        idx = np.flatnonzero(y == c)[:per_class]
        for r in range(per_class):
            ax = axes[r, c]
            ax.imshow(x[idx[r]].squeeze(), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, c].set_title(name, fontsize=8, color=CLASS_COLORS[c])
    fig.suptitle("Fashion-MNIST training images by class")
    fig.tight_layout()
    return fig


def loss_curves(
    history: Mapping[str, Sequence[float]],
    title: str,
    references: Mapping[str, float] | None = None,
) -> Figure:
    """Train and test binary cross-entropy per epoch, with dashed horizontal reference lines.

    `history`: ``loss`` and ``val_loss`` lists (BCE per pixel, nats), one value per epoch.
    `references`: label -> BCE value, default the BCE floor and PCA-2's test BCE.
    """
    if references is None:
        references = {
            f"BCE floor, perfect reconstruction ({BCE_FLOOR})": BCE_FLOOR,
            f"PCA, 2 components ({PCA2_BCE})": PCA2_BCE,
        }
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(epochs, history["loss"], "o-", ms=3, label="train")
    ax.plot(epochs, history["val_loss"], "s-", ms=3, label="test (10,000 images)")
    for (label, value), colour in zip(references.items(), ("0.4", "tab:red"), strict=False):
        ax.axhline(value, ls="--", lw=1, color=colour, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("binary cross-entropy per pixel")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def image_rows(
    rows: Mapping[str, np.ndarray], labels: np.ndarray | None = None, title: str = ""
) -> Figure:
    """Rows of images, one row per entry of `rows` (row title -> (n, 28, 28[, 1]) array).

    Used for test images above their reconstructions, and for clean | noisy | outputs.
    Columns are titled with the class names of `labels` when given. Values outside [0, 1]
    (noisy inputs) are shown clipped to [0, 1].
    """
    names = list(rows)
    n = len(rows[names[0]])
    fig, axes = plt.subplots(
        len(names), n, figsize=(1.05 * n, 1.2 * len(names) + 0.4), squeeze=False
    )
    for r, name in enumerate(names):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(np.clip(rows[name][c].squeeze(), 0, 1), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
            if r == 0 and labels is not None:
                ax.set_title(CLASS_NAMES[int(labels[c])], fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
