"""Figures of the CAE part: one function per figure kind, each returning a matplotlib Figure.

Every Fashion-MNIST class has one fixed colour (`CLASS_COLORS`) in every plot of the project.
Figures are sized for print: saved with ``bbox_inches="tight"`` (`deepvis.files.save_figure`)
they are at most `PRINT_WIDTH` x `PRINT_HEIGHT` inches, the largest size at which the PDF shows
a figure without shrinking it, so that their font sizes (never under 7 pt) are the printed ones.
Legends sit outside the plotted area, never over data.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from deepvis.data import CLASS_NAMES
from deepvis.errors import DeepvisError

#: One colour per class (tab10), index = label.
CLASS_COLORS: tuple[str, ...] = tuple(matplotlib.colors.to_hex(c) for c in plt.cm.tab10.colors)

#: Inches: the PDF's text width, and 0.6 of its 9-inch text height (the tallest figure it shows
#: at full width). A saved figure no larger than this prints at its own size.
PRINT_WIDTH, PRINT_HEIGHT = 6.5, 5.4
#: Inches that ``bbox_inches="tight"`` adds on each side when a figure is saved.
SAVE_PAD = 0.1
#: Smallest thumbnail edge (inches): one image of each of the 10 classes in a row of the text
#: width. Each of the 28 pixels is then 0.02 inch, more than one screen pixel of a page shown
#: at 70 dpi, so no pixel of the image is lost in print or on screen.
MIN_THUMBNAIL = 0.55

#: Reference-line colours, in the order their labels first appear.
REFERENCE_COLORS: tuple[str, ...] = ("tab:red", "0.35", "tab:purple", "tab:brown", "tab:olive")
#: Font sizes (points) of legends and of small labels (column and row titles).
LEGEND_SIZE, LABEL_SIZE = 8, 8


def _legend_below(fig: Figure, handles: Sequence[Line2D], ncols: int = 2) -> None:
    """One figure legend under the axes, clear of the x labels (needs constrained layout)."""
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=ncols,
        fontsize=LEGEND_SIZE,
        frameon=False,
    )


def _reference_colors(references: Mapping[str, Mapping[str, float]]) -> dict[str, str]:
    """Reference label -> colour, the same label getting the same colour in every panel."""
    labels = dict.fromkeys(label for refs in references.values() for label in refs)
    return {label: REFERENCE_COLORS[i % len(REFERENCE_COLORS)] for i, label in enumerate(labels)}


def sample_grid(x: np.ndarray, y: np.ndarray, per_class: int = 6) -> Figure:
    """A grid of `per_class` images of each class, one column per class, titled by class name.

    `x`: (N, 28, 28, 1) or (N, 28, 28) in [0, 1]; `y`: (N,) int labels. Takes the first images.
    Each column is framed in its class's colour (`CLASS_COLORS`).
    """
    cell, head = (PRINT_WIDTH - 2 * SAVE_PAD - 0.1) / len(CLASS_NAMES), 0.5
    height = cell * per_class + head
    fig, axes = plt.subplots(
        per_class, len(CLASS_NAMES), figsize=(cell * len(CLASS_NAMES), height), squeeze=False
    )
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1 - head / height, wspace=0.06, hspace=0.06)
    for c, name in enumerate(CLASS_NAMES):
        idx = np.flatnonzero(y == c)[:per_class]
        for r in range(per_class):
            ax = axes[r, c]
            ax.imshow(x[idx[r]].squeeze(), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set(color=CLASS_COLORS[c], linewidth=1.5)
        axes[0, c].set_title(name, fontsize=LABEL_SIZE)
    fig.suptitle("Fashion-MNIST training images, by class", fontsize=11)
    return fig


#: Height in inches of a `loss_curves` figure.
LOSS_HEIGHT = 1.7


def loss_curves(runs: Mapping[str, Mapping[str, Sequence[float]]]) -> Figure:
    """Train and test binary cross-entropy per epoch, one panel per training run.

    `runs`: panel title -> history, the ``loss`` and ``val_loss`` lists of one run (BCE per
    pixel, nats, one value per epoch), and optionally ``start``: the test loss before the first
    epoch (a fine-tuned model's starting point), drawn as the test curve's epoch 0 and, where it
    lies above the epochs' curves, marked at the top of the axis with its value (the y-axis stays
    scaled to the epochs). A single run gets no title (a caption says it); several share the
    y-axis, scaled to all their curves, and one legend; every x-axis is "epoch".
    """
    fig, axes = plt.subplots(1, len(runs), figsize=(PRINT_WIDTH - 2 * SAVE_PAD, LOSS_HEIGHT),
                             sharey=True, layout="constrained", squeeze=False)
    tops, bottoms, starts = [], [], []
    for ax, (title, history) in zip(axes[0], runs.items(), strict=True):
        train, test = np.asarray(history["loss"], float), np.asarray(history["val_loss"], float)
        epochs = np.arange(1, len(train) + 1)
        test_epochs = epochs
        if "start" in history:  # the test loss before training: epoch 0
            test, test_epochs = np.r_[history["start"], test], np.r_[0, epochs]
        handles = [*ax.plot(epochs, train, "o-", ms=3, label="train"),
                   *ax.plot(test_epochs, test, "s-", ms=3, label="test")]
        tops.append(max(train.max(), test[1:].max() if "start" in history else test.max()))
        bottoms.append(min(train.min(), test.min()))
        starts.append((ax, history.get("start")))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        if len(runs) > 1:
            ax.set_title(title, fontsize=LEGEND_SIZE + 1)
        ax.grid(alpha=0.3)
    if any(start is not None for _, start in starts):  # scale to the epochs, not to epoch 0
        low, high = min(bottoms), max(tops)
        pad = 0.08 * (high - low)
        axes[0, 0].set_ylim(low - pad, high + pad)
        for ax, start in starts:
            if start is not None and start > high + pad:
                ax.annotate(f"epoch 0: {start:.3f} ↑", xy=(0, high + pad), xytext=(4, -4),
                            textcoords="offset points", va="top", fontsize=LEGEND_SIZE)
    axes[0, 0].yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=5))  # 4 to 6 ticks
    axes[0, 0].set_ylabel("BCE per pixel")
    _legend_below(fig, handles)
    return fig


#: Inches in `image_rows`: row-label column, gap between thumbnails, class-name band over each
#: block, gap between blocks, title band, largest thumbnail.
_ROW_LABEL, _GAP, _HEAD, _BLOCK_GAP, _TITLE, _MAX_THUMBNAIL = 0.3, 0.05, 0.2, 0.15, 0.35, 1.25


def _block_layout(
    n: int, n_rows: int, max_columns: int, headed: bool, titled: bool
) -> tuple[int, int, float]:
    """(blocks, columns per block, thumbnail inches) for `n` images in `n_rows` rows that fit
    the print size, wrapped into the fewest blocks of at most `max_columns` columns."""
    blocks = -(-n // max_columns)
    columns = -(-n // blocks)
    width = PRINT_WIDTH - 2 * SAVE_PAD - _ROW_LABEL - (columns - 1) * _GAP
    height = (
        PRINT_HEIGHT
        - 2 * SAVE_PAD
        - _TITLE * titled
        - blocks * _HEAD * headed
        - (blocks - 1) * _BLOCK_GAP
        - blocks * (n_rows - 1) * _GAP
    )
    return blocks, columns, min(_MAX_THUMBNAIL, width / columns, height / (blocks * n_rows))


def image_rows(
    rows: Mapping[str, np.ndarray],
    labels: np.ndarray | None = None,
    title: str = "",
    max_columns: int = 6,
) -> Figure:
    """Rows of images, one row per entry of `rows` (row label -> (n, 28, 28[, 1]) array).

    Used for test images above their reconstructions, and for clean | noisy | outputs. More
    than `max_columns` images wrap into blocks (images 0-5 above 6-11), each block repeating
    the row labels (written beside each row) and, when `labels` ((n,) ints) are given, the
    class names over its columns. Thumbnails are at least `MIN_THUMBNAIL` inches wide; values
    outside [0, 1] (noisy inputs) are shown clipped to [0, 1].

    Raises `DeepvisError` when the images cannot fit the print size at that width.
    """
    names = list(rows)
    n = len(rows[names[0]])
    blocks, columns, side = _block_layout(
        n, len(names), max_columns, labels is not None, bool(title)
    )
    if side < MIN_THUMBNAIL:
        most = _most_images(len(names), max_columns, labels is not None, bool(title))
        advice = (
            f"show at most {most} images per figure (split them)" if most else "show fewer rows"
        )
        raise DeepvisError(
            f"{n} images in {len(names)} rows do not fit a {PRINT_WIDTH} x {PRINT_HEIGHT} inch "
            f"figure at {MIN_THUMBNAIL} inch each: {advice}"
        )
    head = _HEAD * (labels is not None)
    block_height = head + len(names) * side + (len(names) - 1) * _GAP
    width = _ROW_LABEL + columns * side + (columns - 1) * _GAP
    height = _TITLE * bool(title) + blocks * block_height + (blocks - 1) * _BLOCK_GAP
    fig = plt.figure(figsize=(width, height))
    for i in range(n):
        block, c = divmod(i, columns)
        for r, name in enumerate(names):
            top = (
                _TITLE * bool(title)
                + block * (block_height + _BLOCK_GAP)
                + head
                + r * (side + _GAP)
            )
            left = _ROW_LABEL + c * (side + _GAP)
            ax = fig.add_axes(
                (left / width, 1 - (top + side) / height, side / width, side / height)
            )
            ax.imshow(np.clip(rows[name][i].squeeze(), 0, 1), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(textwrap.fill(name, int(side * 16), break_long_words=False),
                              fontsize=LABEL_SIZE)
            if r == 0 and labels is not None:
                ax.set_title(CLASS_NAMES[int(labels[i])], fontsize=LABEL_SIZE, pad=3)
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.05 / height, va="top")
    return fig


def _most_images(n_rows: int, max_columns: int, headed: bool, titled: bool) -> int:
    """The most images `image_rows` fits at `MIN_THUMBNAIL` inches with `n_rows` rows."""
    most = 0
    for n in range(1, 10 * max_columns):
        if _block_layout(n, n_rows, max_columns, headed, titled)[2] >= MIN_THUMBNAIL:
            most = n
    return most


# --- Latent space and denoising figures (Exercise 1, steps 3 and 4) ---

#: Axis labels shared by every 2-D embedding plot, CAE and PCA alike.
EMBEDDING_AXES: tuple[str, str] = ("dimension 1", "dimension 2")


def _class_scatter(
    ax: Axes, codes: np.ndarray, labels: np.ndarray, axis_labels: Sequence[str]
) -> None:
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
    # a long y-label breaks before its parenthesis, so that it stays beside its axes
    ax.set_ylabel(
        axis_labels[1].replace(" (", "\n(", 1) if len(axis_labels[1]) > 24 else axis_labels[1]
    )
    ax.grid(alpha=0.2)


def _class_handles() -> list[Line2D]:
    """One legend entry per class name, in its fixed colour."""
    return [
        Line2D([], [], ls="", marker="o", ms=6, color=colour, label=name)
        for name, colour in zip(CLASS_NAMES, CLASS_COLORS, strict=True)
    ]


def latent_panels(
    panels: Mapping[str, np.ndarray],
    labels: np.ndarray,
    title: str = "",
    axis_labels: Sequence[str] = EMBEDDING_AXES,
    panel_axes: Mapping[str, Sequence[str]] | None = None,
) -> Figure:
    """Embeddings side by side (e.g. CAE | PCA) of the same images: same colours and axis labels.

    `panels`: panel title -> (N, 2) codes, all of the same N images in the same order;
    `labels`: their (N,) class labels. One shared class legend under the panels. `panel_axes`:
    panel title -> its own (x, y) axis labels (e.g. what each principal component explains),
    instead of `axis_labels`.
    """
    panel_axes = panel_axes or {}
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(PRINT_WIDTH - 2 * SAVE_PAD, 2.5),
        squeeze=False,
        layout="constrained",
    )
    fig.get_layout_engine().set(wspace=0.08)  # room between a panel and the next one's y-label
    for ax, (name, codes) in zip(axes[0], panels.items(), strict=True):
        _class_scatter(ax, codes, labels, panel_axes.get(name, axis_labels))
        ax.set_title(name, fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    _legend_below(fig, _class_handles(), ncols=5)
    return fig


def class_panels(
    codes: np.ndarray,
    labels: np.ndarray,
    title: str = "",
    axis_labels: Sequence[str] = EMBEDDING_AXES,
) -> Figure:
    """One small panel per class (2 rows of 5, in label order): that class's codes in its colour
    over every code in light grey, all panels on the same axes.

    `codes`: (N, 2) embedding; `labels`: their (N,) class labels. Shows where each class lies
    where an all-class scatter (`latent_panels`) paints classes over each other.
    """
    fig, axes = plt.subplots(
        2, 5, figsize=(PRINT_WIDTH - 2 * SAVE_PAD, 2.1), sharex=True, sharey=True,
        layout="constrained",
    )
    for k, ax in enumerate(axes.flat):
        ax.scatter(codes[:, 0], codes[:, 1], s=0.5, c="0.85", linewidths=0, rasterized=True)
        own = codes[labels == k]
        ax.scatter(own[:, 0], own[:, 1], s=0.8, c=CLASS_COLORS[k], linewidths=0, rasterized=True)
        ax.set_title(CLASS_NAMES[k], fontsize=LABEL_SIZE, pad=2)
        ax.tick_params(labelsize=8)
    for ax in axes[1]:
        ax.set_xlabel(axis_labels[0], fontsize=LABEL_SIZE)
    for ax in axes[:, 0]:
        ax.set_ylabel(axis_labels[1], fontsize=LABEL_SIZE)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def manifold_mosaic(
    images: np.ndarray,
    code1: np.ndarray,
    code2: np.ndarray,
    title: str = "CAE decoder output over a grid of latent codes",
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
    side = PRINT_HEIGHT - 2 * SAVE_PAD
    fig, ax = plt.subplots(figsize=(side, side), layout="constrained")
    ax.imshow(mosaic, cmap="gray_r", vmin=0, vmax=1, extent=extent, aspect="auto")
    ax.set_xlabel(f"{EMBEDDING_AXES[0]} (CAE code)")
    ax.set_ylabel(f"{EMBEDDING_AXES[1]} (CAE code)")
    ax.set_title(title, fontsize=11)
    return fig


def psnr_vs_std(
    table: pd.DataFrame,
    trained_std: float | None = None,
    title: str = "Mean PSNR on the test set against the input noise level",
) -> Figure:
    """Mean PSNR (dB) against noise std: one line per column of `table` (`quality.psnr_vs_std`).

    `table`: DataFrame indexed by noise std; `trained_std`: marked with a vertical line.
    """
    fig, ax = plt.subplots(figsize=(PRINT_WIDTH - 2 * SAVE_PAD, 3.2), layout="constrained")
    handles = [
        ax.plot(table.index, table[name], "o-", ms=4, label=name)[0] for name in table.columns
    ]
    if trained_std is not None:
        handles.append(
            ax.axvline(
                trained_std, ls="--", lw=1, color="0.4", label=f"training std ({trained_std})"
            )
        )
    ax.set_xlabel("noise standard deviation (pixel units, image range [0, 1])")
    ax.set_ylabel("mean PSNR (dB)")
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    _legend_below(fig, handles)
    return fig


def _score_panels(
    curves: Mapping[str, pd.DataFrame],
    columns: Mapping[str, tuple[str, str]],
    references: Mapping[str, Mapping[str, float]],
    height: float,
) -> tuple[Figure, list[Axes]]:
    """Panels side by side, one per score, each curve of `curves` (label -> frame indexed by
    epochs) against the epochs.

    `columns`: column -> (axis label, format of its reference values); `references`: column ->
    {label: value}, dashed lines whose values are written at the panel's right edge. One legend
    under the panels; a curve's missing (NaN) scores are left out.
    """
    colours = _reference_colors(references)
    fig, axes = plt.subplots(
        1,
        len(columns),
        figsize=(PRINT_WIDTH - 2 * SAVE_PAD, height),
        squeeze=False,
        layout="constrained",
    )
    handles = {}
    for ax, (column, (label, fmt)) in zip(axes[0], columns.items(), strict=True):
        for curve_label, curve in curves.items():
            points = curve[column].dropna()
            handles[curve_label] = ax.plot(
                points.index, points.to_numpy(), "o-", ms=4, label=curve_label
            )[0]
        refs = references.get(column, {})
        for name, value in refs.items():
            handles[name] = ax.axhline(value, ls="--", lw=1, color=colours[name], label=name)
        if refs:
            edge = ax.secondary_yaxis("right")
            edge.set_yticks(list(refs.values()), [fmt.format(v) for v in refs.values()])
            edge.tick_params(labelsize=LEGEND_SIZE)
            for tick, name in zip(edge.get_yticklabels(), refs, strict=True):
                tick.set_color(colours[name])
        ax.set_ylabel(textwrap.fill(label, 18))  # a long label on two lines: not past the plot
        ax.tick_params(labelsize=LEGEND_SIZE)
        ax.grid(alpha=0.3)
    _legend_below(fig, list(handles.values()), ncols=len(handles))
    return fig, list(axes[0])


def budget_curve(
    curve: pd.DataFrame,
    columns: Mapping[str, str],
    references: Mapping[str, Mapping[str, float]] | None = None,
    *,
    label: str,
    title: str = "",
) -> Figure:
    """Scores against training epochs (log scale: equal steps per doubling), one panel per
    score (`variants.curve`'s frame).

    `curve`: indexed by epochs; `columns`: column -> axis label, one panel each, in order.
    `references`: column -> {label: value}, dashed horizontal lines in that panel, their values
    (3 decimals) at its right edge. `label`: the curve's legend entry, which says what was
    trained and on which images it is scored. One legend under the panels.
    """
    fig, axes = _score_panels(
        {label: curve},
        {c: (label, "{:.3f}") for c, label in columns.items()},
        references or {},
        height=2.9,
    )
    for ax in axes:
        epochs = curve.index.to_numpy()
        ax.set_xscale("log", base=2)
        ax.set_xticks(epochs, [str(e) for e in epochs])
        ax.minorticks_off()
        ax.set_xlabel("training epochs (log scale)")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


#: `finetune_curve`'s columns: axis label and the format of a reference value. The labels
#: name no image set: `finetune_curve`'s title says which one the scores are on.
FINETUNE_SCORES: dict[str, tuple[str, str]] = {
    "psnr": ("mean PSNR (dB)", "{:.2f} dB"),
    "ssim": ("mean SSIM", "{:.3f}"),
    "test_bce": ("BCE per pixel", "{:.4f}"),
}


def finetune_curve(
    curves: pd.DataFrame | Mapping[str, pd.DataFrame],
    references: Mapping[str, Mapping[str, float]] | None = None,
    *,
    title: str,
) -> Figure:
    """The denoising CAE's quality against the epochs of fine-tuning the plain CAE.

    `curves`: one frame, or label -> frame for several fine-tuning runs; each frame's index =
    fine-tuning epochs 0..N (int; 0 is the plain CAE itself), columns ``psnr`` (dB), ``ssim``
    and ``test_bce`` (BCE per pixel against the clean images), one panel each, whichever noisy
    images (validation or test) they were measured on: `title` says which.
    `references`: column -> {label: value}, e.g. ``{"psnr": {"trained from scratch, 16 epochs":
    15.68}}``: a dashed line in that panel, its value written at the panel's right edge
    ("15.68 dB"), its label in the legend (use the same label in every panel).
    """
    if isinstance(curves, pd.DataFrame):
        curves = {"fine-tuned from the plain CAE": curves}
    fig, axes = _score_panels(curves, FINETUNE_SCORES, references or {}, height=2.7)
    for ax in axes:  # at most about 5 ticks: "1 2 ... 10" runs together in a narrow panel
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=5, integer=True))
        ax.set_xlabel("fine-tuning epochs")
    fig.suptitle(title, fontsize=11)
    return fig
