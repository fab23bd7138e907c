"""Figures for Grad-CAM: per-image ranks, the sanity check, faithfulness, all methods side by side.

Each function returns a `matplotlib.figure.Figure` built without pyplot (nothing to close);
show it with `deepvis.page.captions.figure` (saved, numbered and captioned).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from deepvis.gradcam.checks import GUIDED, Sanity, SanityStep, method_title
from deepvis.gradcam.findings import peak_cell
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
    image: np.ndarray,
    steps: Sequence[SanityStep],
    title: str = "",
    columns: int = 5,
    cumulative: bool = True,
) -> Figure:
    """Maps after each re-initialisation step, overlaid, titled with Spearman's rho and SSIM.

    ``image`` (H, W, 3) uint8; each step's map (h, w) is resized to the image for display.
    ``cumulative``: steps of the cascade, titled ``+ <group>``; else of the independent
    variant, titled ``<group> only``. Panels are laid out `columns` to a row, 6.5 inches wide
    (a page's text width).
    """
    height, width = image.shape[:2]
    n = len(steps)
    rows = -(-n // columns)
    panel = 6.5 / columns
    fig = Figure(figsize=(6.5, rows * (panel * height / width + 0.4) + 0.3), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    for i, (ax, step) in enumerate(zip(axes[:n], steps, strict=True)):
        ax.imshow(overlay(image, resize_map(step.map, (height, width))))
        name = step.name if i == 0 else f"+ {step.name}" if cumulative else f"{step.name} only"
        ax.set_title(f"{name}\n$\\rho$ {step.spearman:.2f}, SSIM {step.ssim:.2f}", fontsize=7)
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


#: Line markers of `sanity_curves`, one per method, so that lines that coincide (Grad-CAM,
#: XGrad-CAM and HiResCAM at the last conv layer) stay apart.
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*")


def sanity_curves(sanity: Sanity, title: str = "") -> Figure:
    """The randomisation check step by step: mean |Spearman rho| (top panel) and SSIM (bottom)
    over the images between the trained and the re-initialised map, one line per method
    (dashed: the input-gradient ones; `MARKERS` in turn), steps on x from ``none`` (the
    trained network) to the last group (the stem). ``sanity`` a
    `deepvis.gradcam.checks.Sanity`; 6.5 inches wide."""
    fig = Figure(figsize=(6.5, 5.4), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    x = np.arange(len(sanity.steps))
    frames = (sanity.frame("rho"), sanity.frame("ssim"))  # mean over images: step x method
    dashed = {method_title(name) for name in GUIDED}
    for ax, frame in zip(axes, frames, strict=True):
        for column, marker in zip(frame.columns, MARKERS * len(frame.columns), strict=False):
            style = "--" if column in dashed else "-"
            ax.plot(x, frame[column], style, marker=marker, markersize=3.5, label=column)
    axes[0].set_ylabel("|Spearman $\\rho$| with the trained map", fontsize=8)
    axes[1].set_ylabel("SSIM with the trained map", fontsize=8)
    low = min(0.0, float(frames[1].min().min()))
    axes[0].set_ylim(-0.02, 1.02)
    axes[1].set_ylim(low - 0.02, 1.02)
    where = (
        "weight groups re-initialised, cumulatively from the top"
        if sanity.variant == "cascade"
        else "weight group re-initialised alone (the rest trained)"
    )
    axes[1].set_xlabel(f"{where}; mean over {len(sanity.classes)} images", fontsize=8)
    axes[1].set_xticks(x, ["none", *sanity.steps[1:]], rotation=60, ha="right", fontsize=7)
    for ax in axes:
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, ncols=4, loc="lower left", bbox_to_anchor=(0.0, 1.02))
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


#: Every Grad-CAM panel is this size (inches): the text width, so that all panels, and their
#: colour bars, print alike whatever the image's aspect ratio.
PANEL_SIZE = (6.5, 2.6)
#: The colour bar's box in a panel, in inches from the bottom left: (left, bottom, width, height).
COLORBAR_BOX = (0.75, 0.2, 0.14, 0.85)
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


def _mark_peak(ax: Any, x: float, y: float) -> None:
    """A ``+`` at pixel (x, y) of ``ax``'s image, black on white so that it shows on any map."""
    for color, size, edge in (("white", 12, 2.2), ("black", 10, 1.0)):
        ax.plot(x, y, "+", color=color, markersize=size, markeredgewidth=edge)


def gradcam_panel(
    image: np.ndarray,
    heatmaps: np.ndarray,
    labels: Sequence[str],
    title: str = "",
    notes: Sequence[str] = (),
) -> Figure:
    """One image and its top-k maps at text width: the input titled with its top-1 class, then
    per rank the heat map (top row, titled with its class) and the overlay below it (the rows
    labelled "heat map" and "overlay" on the left).

    ``image`` (H, W, 3) uint8; ``heatmaps`` (k, H, W) in [0, 1] at the image's resolution;
    ``labels`` k strings such as ``"Egyptian_cat (79.1%)"``; ``notes``, if given, k short strings
    (empty for none) written after each rank, e.g. ``"r = 0.95"``. Always `PANEL_SIZE` (images are
    fitted into equal cells), with one colour bar in the same place (`saliency_colorbar`), so
    that every panel prints alike; titles are 8 pt. A ``+`` (`_mark_peak`) marks each map's
    maximum (the first where tied) on its heat map and its overlay.
    """
    k = len(labels)
    fig = Figure(figsize=PANEL_SIZE, layout="constrained")
    axes = fig.subplots(2, k + 1, squeeze=False)
    axes[0, 0].imshow(image)
    axes[0, 0].set_title(f"input; top-1:\n{labels[0]}", fontsize=8)
    axes[1, 0].set_visible(False)
    for rank, (heat, label) in enumerate(zip(heatmaps, labels, strict=True), start=1):
        shown = axes[0, rank].imshow(heat, cmap=CMAP, vmin=0.0, vmax=1.0)
        note = "".join(f", {n}" for n in notes[rank - 1 : rank] if n)
        note += "" if heat.max() > 0 else " (all zero)"
        axes[0, rank].set_title(f"rank {rank}{note}:\n{label}", fontsize=8)
        axes[1, rank].imshow(overlay(image, heat))
        if heat.max() > 0:  # the map's maximum (a cell centre of its grid, as upsampled)
            y, x = peak_cell(heat)
            for ax in axes[:, rank]:
                _mark_peak(ax, x, y)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 1].set_ylabel("heat map", fontsize=8)
    axes[1, 1].set_ylabel("overlay", fontsize=8)
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


def layers_figure(
    images: Sequence[np.ndarray], maps: Mapping[str, Sequence[np.ndarray]], titles: Sequence[str]
) -> Figure:
    """Several images' maps at several layers, overlaid: one column per image (titled with
    `titles`), one row per layer (labelled with its key in `maps`), 6.5 inches wide; a ``+``
    (black on white) marks the centre of each map's peak cell on its grid (the first maximum
    where tied).

    ``images``: N RGB images (H, W, 3) uint8, of any sizes; ``maps``: row label -> N maps on
    their layer's grid (h, w), each scaled to its own maximum and resized bilinearly to its
    image.
    """
    n = len(images)
    fig = Figure(figsize=(6.5, 0.3 + 0.85 * len(maps)), layout="constrained")
    axes = fig.subplots(len(maps), n, squeeze=False)
    for row, (label, grids) in zip(axes, maps.items(), strict=True):
        for ax, image, grid in zip(row, images, grids, strict=True):
            peak = float(np.max(grid))
            heat = resize_map(grid / peak if peak > 0 else grid, image.shape[:2])
            ax.imshow(overlay(image, heat))
            (gh, gw), (height, width) = np.shape(grid), image.shape[:2]
            y, x = peak_cell(grid)
            _mark_peak(ax, (x + 0.5) * width / gw - 0.5, (y + 0.5) * height / gh - 0.5)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(label, fontsize=7)
    for ax, title in zip(axes[0], titles, strict=True):
        ax.set_title(title, fontsize=7)
    return fig
