"""Figures of the CAE part: one function per figure kind, each returning a matplotlib Figure.

Every Fashion-MNIST class has one fixed colour (`CLASS_COLORS`) in every plot of the project.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from deepvis.data import CLASS_NAMES

#: One colour per class (tab10), index = label.
CLASS_COLORS: tuple[str, ...] = tuple(matplotlib.colors.to_hex(c) for c in plt.cm.tab10.colors)


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
    `references`: label -> BCE value, drawn in grey, then red (at most two; none by default).
    """
    references = references or {}
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, ax = plt.subplots(figsize=(6.5, 3.1))
    ax.plot(epochs, history["loss"], "o-", ms=3, label="train")
    ax.plot(epochs, history["val_loss"], "s-", ms=3, label="test")
    for (label, value), colour in zip(references.items(), ("0.4", "tab:red"), strict=False):
        ax.axhline(value, ls="--", lw=1, color=colour, label=label)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel("binary cross-entropy per pixel")
    ax.set_title(title)
    # Below the axes: curves and reference lines can sit anywhere inside.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2, frameon=False)
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
    side = min(1.05, 5.4 / n)  # with the row titles, about 6.5 inches: a page's text width
    fig, axes = plt.subplots(
        len(names), n, figsize=(side * n + 1.1, (side + 0.12) * len(names) + 0.5), squeeze=False
    )
    for r, name in enumerate(names):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(np.clip(rows[name][c].squeeze(), 0, 1), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
            if r == 0 and labels is not None:
                ax.set_title(CLASS_NAMES[int(labels[c])], fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- Latent space and denoising figures (Exercise 1, steps 3 and 4) ---

#: Axis labels shared by every 2-D embedding plot, CAE and PCA alike.
EMBEDDING_AXES: tuple[str, str] = ("dimension 1", "dimension 2")


def _class_scatter(ax, codes: np.ndarray, labels: np.ndarray, axis_labels: Sequence[str]) -> None:
    """Scatter (N, 2) `codes` coloured by class on `ax`; small, translucent points for large N.

    Points are drawn in a fixed random order, so that no class is systematically painted over
    the others where they overlap.
    """
    size, alpha = (4, 0.7) if len(codes) <= 2000 else (1.5, 0.5)
    order = np.random.default_rng(0).permutation(len(codes))
    ax.scatter(
        codes[order, 0],
        codes[order, 1],
        s=size,
        alpha=alpha,
        c=np.asarray(CLASS_COLORS)[labels[order]],
        linewidths=0,
        rasterized=True,
    )
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.grid(alpha=0.2)


def _class_legend(fig: Figure) -> None:
    """One legend entry per class name, in its fixed colour, to the right of the figure."""
    handles = [
        matplotlib.lines.Line2D([], [], ls="", marker="o", ms=6, color=colour, label=name)
        for name, colour in zip(CLASS_NAMES, CLASS_COLORS, strict=True)
    ]
    fig.legend(
        handles=handles,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize=8,
        title="class",
        frameon=False,
    )


def latent_scatter(
    codes: np.ndarray,
    labels: np.ndarray,
    title: str,
    axis_labels: Sequence[str] = EMBEDDING_AXES,
) -> Figure:
    """A 2-D embedding, one point per image coloured by class, with a legend of class names.

    `codes`: (N, 2) floats; `labels`: (N,) ints in 0..9.
    """
    fig, ax = plt.subplots(figsize=(6.0, 5.0))
    _class_scatter(ax, codes, labels, axis_labels)
    ax.set_title(title)
    fig.tight_layout()
    _class_legend(fig)
    return fig


def latent_panels(
    panels: Mapping[str, np.ndarray],
    labels: np.ndarray,
    title: str = "",
    axis_labels: Sequence[str] = EMBEDDING_AXES,
) -> Figure:
    """Embeddings side by side (e.g. CAE | PCA) of the same images: same colours and axis labels.

    `panels`: panel title -> (N, 2) codes, all of the same N images in the same order;
    `labels`: their (N,) class labels. One shared class legend.
    """
    width = min(3.6 * len(panels), 7.0)  # about a page's text width
    fig, axes = plt.subplots(1, len(panels), figsize=(width, 0.55 * width + 0.6), squeeze=False)
    for ax, (name, codes) in zip(axes[0], panels.items(), strict=True):
        _class_scatter(ax, codes, labels, axis_labels)
        ax.set_title(name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _class_legend(fig)
    return fig


def manifold_mosaic(
    images: np.ndarray,
    code1: np.ndarray,
    code2: np.ndarray,
    title: str = "Decoder output over the latent plane",
) -> Figure:
    """An n x n mosaic of decoded images placed at their grid codes (see `latent.Manifold`).

    `images`: (n, n, 28, 28) in [0, 1], row 0 at the largest `code2`; `code1`, `code2`: (n,)
    grid values along columns (increasing) and rows (decreasing).
    """
    n_rows, n_cols = images.shape[:2]
    mosaic = images.transpose(0, 2, 1, 3).reshape(n_rows * 28, n_cols * 28)
    dx = (code1[-1] - code1[0]) / max(n_cols - 1, 1) / 2
    dy = (code2[0] - code2[-1]) / max(n_rows - 1, 1) / 2
    extent = (code1[0] - dx, code1[-1] + dx, code2[-1] - dy, code2[0] + dy)
    fig, ax = plt.subplots(figsize=(7.0, 7.0))
    ax.imshow(mosaic, cmap="gray_r", vmin=0, vmax=1, extent=extent, aspect="auto")
    ax.set_xlabel(f"{EMBEDDING_AXES[0]} (CAE code)")
    ax.set_ylabel(f"{EMBEDDING_AXES[1]} (CAE code)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def psnr_vs_std(table: pd.DataFrame, trained_std: float | None = None) -> Figure:
    """Mean PSNR (dB) against noise std: one line per column of `table` (`quality.psnr_vs_std`).

    `table`: DataFrame indexed by noise std; `trained_std`: marked with a vertical line.
    """
    fig, ax = plt.subplots(figsize=(6.5, 3.1))
    for name in table.columns:
        ax.plot(table.index, table[name], "o-", ms=4, label=name)
    if trained_std is not None:
        ax.axvline(trained_std, ls="--", lw=1, color="0.4", label=f"training std ({trained_std})")
    ax.set_xlabel("noise standard deviation (pixel units, image range [0, 1])")
    ax.set_ylabel("mean PSNR on the test set (dB)")
    ax.set_title("Reconstruction quality against noise level")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def budget_curve(
    curve: pd.DataFrame,
    columns: Mapping[str, str],
    references: Mapping[str, Mapping[str, float]] | None = None,
) -> Figure:
    """Scores against training epochs (log scale: equal steps per doubling), one panel per
    score (`variants.curve`'s frame).

    `curve`: indexed by epochs; `columns`: column -> axis label, one panel each, in order.
    `references`: column -> {label: value}, drawn as dashed horizontal lines in that panel.
    """
    references = references or {}
    fig, axes = plt.subplots(1, len(columns), figsize=(6.5, 2.8), squeeze=False)
    for ax, (column, label) in zip(axes[0], columns.items(), strict=True):
        points = curve[column].dropna()
        ax.plot(points.index, points.to_numpy(), "o-", ms=5, label="this CAE")
        for (name, value), colour in zip(
            references.get(column, {}).items(), ("tab:red", "0.4"), strict=False
        ):
            ax.axhline(value, ls="--", lw=1, color=colour, label=name)
        ax.set_xscale("log", base=2)
        ax.set_xticks(points.index, [str(e) for e in points.index])
        ax.minorticks_off()
        ax.set_xlabel("training epochs (log scale)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
