"""The Grad-CAM figures that the write-ups number (`deepvis.gradcam.plots`)."""

from __future__ import annotations

import numpy as np
import pytest

from deepvis.gradcam import plots


def test_layers_figure_puts_each_map_on_its_image_row_by_layer():
    """One column per image, one row per layer; each map is resized to its own image and
    scaled to its maximum, so a map peaked in the top-left cell reddens the top-left corner."""
    images = [np.full((40, 60, 3), 128, np.uint8), np.full((50, 50, 3), 128, np.uint8)]
    corner = np.zeros((7, 7))
    corner[0, 0] = 0.2  # scaled to 1 by the figure
    fine = np.zeros((14, 14))
    fine[-1, -1] = 3.0
    maps = {"final (7×7)": [corner, corner], "early (14×14)": [fine, fine]}
    fig = plots.layers_figure(images, maps, titles=["a: cat", "b: cup"])
    axes = np.array(fig.axes).reshape(2, 2)
    assert [ax.get_title() for ax in axes[0]] == ["a: cat", "b: cup"]
    assert [row[0].get_ylabel() for row in axes] == ["final (7×7)", "early (14×14)"]
    for r, row in enumerate(axes):
        for c, ax in enumerate(row):
            shown = ax.get_images()[0].get_array()
            assert shown.shape == images[c].shape  # resized to its own image
            red_minus_blue = shown[..., 0].astype(int) - shown[..., 2].astype(int)
            hot, cold = ((0, 0), (-1, -1)) if r == 0 else ((-1, -1), (0, 0))
            assert red_minus_blue[hot] > 50 > red_minus_blue[cold]  # jet: red at 1, blue at 0
            (px,), (py,) = ax.lines[0].get_data()  # the + at the peak cell's centre
            h, w = images[c].shape[:2]
            cells = (7, 7) if r == 0 else (14, 14)
            cell = (0, 0) if r == 0 else (13, 13)
            assert (py, px) == pytest.approx(
                ((cell[0] + 0.5) * h / cells[0] - 0.5, (cell[1] + 0.5) * w / cells[1] - 0.5)
            )


def test_gradcam_panel_shows_each_rank_and_marks_its_maximum():
    """Input, then per rank a heat map over its overlay; a + at each map's maximum on both, none
    on an all-zero map (titled so)."""
    image = np.full((30, 40, 3), 128, np.uint8)
    heat = np.zeros((3, 30, 40))
    heat[0, 5, 7] = 1.0
    heat[1, 20, 33] = 0.4
    fig = plots.gradcam_panel(image, heat, ["a (50.0%)", "b (20.0%)", "c (1.0%)"])
    axes = np.array(fig.axes[:8]).reshape(2, 4)
    assert axes[0, 0].get_title() == "input; top-1:\na (50.0%)"
    assert [ax.get_title() for ax in axes[0, 1:]] == [
        "rank 1:\na (50.0%)",
        "rank 2:\nb (20.0%)",
        "rank 3 (all zero):\nc (1.0%)",
    ]
    for rank, (y, x) in ((1, (5, 7)), (2, (20, 33))):
        for ax in axes[:, rank]:
            assert {line.get_xydata()[0].tolist() == [x, y] for line in ax.lines} == {True}
    assert not axes[0, 3].lines and not axes[1, 3].lines
    noted = plots.gradcam_panel(image, heat, ["a", "b", "c"], notes=["", "r = 0.95", "r = 0.10"])
    assert [ax.get_title() for ax in noted.axes[1:4]] == [
        "rank 1:\na",
        "rank 2, r = 0.95:\nb",
        "rank 3, r = 0.10 (all zero):\nc",
    ]
