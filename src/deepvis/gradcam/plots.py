"""Figures for Grad-CAM: per-image ranks, the sanity check, faithfulness, all methods side by side.

Each function returns a `matplotlib.figure.Figure` built without pyplot (nothing to close);
show it with `deepvis.page.captions.figure` (saved, numbered and captioned).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from deepvis.gradcam.checks import SanityStep
from deepvis.gradcam.images import overlay, resize_map

CMAP = "jet"


def gradcam_figure(
    image: np.ndarray,
    heatmaps: np.ndarray,
    labels: Sequence[str],
    title: str = "",
    method: str = "Grad-CAM",
) -> Figure:
    """One row per rank: input titled with its class | heat map with colour bar | overlay.

    ``image`` (H, W, 3) uint8; ``heatmaps`` (k, H, W) in [0, 1] at the image's resolution;
    ``labels`` k strings such as ``"Egyptian_cat (79.1%)"``; ``method`` titles the heat maps.
    """
    k = len(labels)
    height, width = image.shape[:2]
    panel = 3.0
    fig = Figure(figsize=(3 * panel + 0.6, k * panel * height / width + 0.7), layout="constrained")
    axes = fig.subplots(k, 3, squeeze=False)
    for rank, (row, heat, label) in enumerate(zip(axes, heatmaps, labels, strict=True), start=1):
        row[0].imshow(image)
        row[0].set_title(f"#{rank}: {label}", fontsize=9)
        shown = row[1].imshow(heat, cmap=CMAP, vmin=0.0, vmax=1.0)
        row[1].set_title(method if heat.max() > 0 else f"{method} (all zero)", fontsize=9)
        colorbar = fig.colorbar(shown, ax=row[1], fraction=0.046, pad=0.03)
        colorbar.ax.tick_params(labelsize=7)
        row[2].imshow(overlay(image, heat))
        row[2].set_title("overlay", fontsize=9)
        for ax in row:
            ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def sanity_figure(
    image: np.ndarray, steps: Sequence[SanityStep], title: str = "", columns: int = 3
) -> Figure:
    """Maps after each cumulative re-initialisation step, overlaid, titled with Spearman's rho.

    ``image`` (H, W, 3) uint8; each step's map (h, w) is resized to the image for display.
    Panels are laid out `columns` to a row, 6.5 inches wide (a page's text width).
    """
    height, width = image.shape[:2]
    n = len(steps)
    rows = -(-n // columns)
    panel = 6.5 / columns
    fig = Figure(figsize=(6.5, rows * (panel * height / width + 0.45) + 0.3), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    for i, (ax, step) in enumerate(zip(axes[:n], steps, strict=True)):
        ax.imshow(overlay(image, resize_map(step.map, (height, width))))
        name = step.name if i == 0 else f"+ {step.name}"
        ax.set_title(f"{name}\n$\\rho$ = {step.spearman:.2f}", fontsize=9)
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def faithfulness_figure(
    labels: Sequence[str],
    drop_salient: np.ndarray,
    random_mean: np.ndarray,
    random_sd: np.ndarray,
) -> Figure:
    """Grouped bars per map: class-probability drop when blurring the most salient 20 % of the
    pixels, against the mean drop of random regions of the same area (error bar: one standard
    deviation across the regions). All arrays (M,), ``labels`` M strings; 6.5 inches wide."""
    x = np.arange(len(labels))
    fig = Figure(figsize=(6.5, 3.8), layout="constrained")  # a page's text width
    ax = fig.subplots()
    ax.bar(x - 0.2, drop_salient, 0.4, label="top 20% salient pixels blurred", color="tab:red")
    ax.bar(
        x + 0.2,
        random_mean,
        0.4,
        yerr=random_sd,
        capsize=2,
        label="random regions of the same area blurred (mean ± sd)",
        color="tab:gray",
    )
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("drop in class probability", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7)
    return fig


#: Every Grad-CAM panel is this size (inches): the text width, so that all panels, and their
#: colour bars, print alike whatever the image's aspect ratio.
PANEL_SIZE = (6.5, 3.1)
#: The colour bar's box in a panel, in inches from the bottom left: (left, bottom, width, height).
COLORBAR_BOX = (0.75, 0.25, 0.14, 1.05)
COLORBAR_TICKS = (0.0, 0.5, 1.0)


def saliency_colorbar(fig: Figure, image: Any) -> Any:
    """The one colour bar of a panel: `COLORBAR_BOX`, ticks `COLORBAR_TICKS` as 0, 0.5, 1."""
    width, height = fig.get_size_inches()
    left, bottom, w, h = COLORBAR_BOX
    cax = fig.add_axes((left / width, bottom / height, w / width, h / height))
    cax.set_in_layout(False)
    colorbar = fig.colorbar(image, cax=cax, ticks=COLORBAR_TICKS, format="{x:g}")
    colorbar.ax.tick_params(labelsize=7)
    colorbar.set_label("saliency", fontsize=7)
    return colorbar


def gradcam_panel(
    image: np.ndarray, heatmaps: np.ndarray, labels: Sequence[str], title: str = ""
) -> Figure:
    """One image and its top-k maps at text width: the input titled with its top-1 class, then
    per rank the heat map (top row) and the overlay (bottom row), each titled with its class.

    ``image`` (H, W, 3) uint8; ``heatmaps`` (k, H, W) in [0, 1] at the image's resolution;
    ``labels`` k strings such as ``"Egyptian_cat (79.1%)"``. Always `PANEL_SIZE` (images are
    fitted into equal cells), with one colour bar in the same place (`saliency_colorbar`), so
    that every panel prints alike; titles are 8 pt.
    """
    k = len(labels)
    fig = Figure(figsize=PANEL_SIZE, layout="constrained")
    axes = fig.subplots(2, k + 1, squeeze=False)
    axes[0, 0].imshow(image)
    axes[0, 0].set_title(f"input; top-1:\n{labels[0]}", fontsize=8)
    axes[1, 0].set_visible(False)
    for rank, (heat, label) in enumerate(zip(heatmaps, labels, strict=True), start=1):
        shown = axes[0, rank].imshow(heat, cmap=CMAP, vmin=0.0, vmax=1.0)
        note = "" if heat.max() > 0 else " (all zero)"
        axes[0, rank].set_title(f"#{rank} heat map{note}:\n{label}", fontsize=8)
        axes[1, rank].imshow(overlay(image, heat))
        axes[1, rank].set_title(f"#{rank} overlay", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    saliency_colorbar(fig, shown)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def methods_figure(
    image: np.ndarray, heatmaps: Mapping[str, np.ndarray], title: str = "", columns: int = 4
) -> Figure:
    """One image explained by several methods: the input, then one overlay per method.

    ``image`` (H, W, 3) uint8; ``heatmaps`` maps a panel title (e.g. ``"Grad-CAM"``) to a map
    in [0, 1], either on the layer's grid (h, w) (resized bilinearly and overlaid) or an RGB
    picture (H, W, 3) uint8 (shown as is, e.g. `deepvis.gradcam.guided.to_image` of Guided
    Backprop). Panels fill rows of ``columns``, 6.5 inches wide (a page's text width).
    """
    height, width = image.shape[:2]
    count = 1 + len(heatmaps)
    cols = min(columns, count)
    rows = -(-count // cols)
    panel = 6.5 / cols
    fig = Figure(figsize=(6.5, rows * (panel * height / width + 0.3) + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    axes[0].imshow(image)
    axes[0].set_title("input", fontsize=8)
    for ax, (name, heat) in zip(axes[1:], heatmaps.items(), strict=False):
        if heat.ndim == 3:
            ax.imshow(heat)
        else:
            ax.imshow(overlay(image, resize_map(heat, (height, width))))
        ax.set_title(name if heat.max() > 0 else f"{name} (all zero)", fontsize=8)
    for ax in axes:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
