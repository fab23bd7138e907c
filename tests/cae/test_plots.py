"""Every figure helper returns a Figure with the expected content, legible at print size: at
most 6.5 x 5.4 inches as saved (the PDF's text width, and the tallest figure it shows at that
width), no text under 7 pt, a title, and legends clear of every plotted point and label."""

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from PIL import Image  # noqa: E402

from deepvis.cae import plots  # noqa: E402
from deepvis.data import CLASS_NAMES  # noqa: E402
from deepvis.errors import DeepvisError  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def labelled() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.arange(200) % 10
    return rng.normal(size=(200, 2)) + labels[:, None], labels


def legends(fig: Figure) -> list:
    return fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]


def legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for legend in legends(fig) for t in legend.get_texts()]


def saved_inches(fig: Figure) -> tuple[float, float]:
    """Width and height of the PNG that `deepvis.files.save_figure` writes (tight bounding box)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    width, height = Image.open(buf).size
    return width / 100, height / 100


def drawn_texts(fig: Figure) -> list[Text]:
    """The non-empty texts a reader sees: titles, axis labels, in-view tick labels, annotations,
    legends (matplotlib keeps labels of ticks outside the view limits, undrawn)."""
    texts = [t for t in [fig._suptitle, *fig.texts] if t is not None]
    for legend in legends(fig):
        texts += legend.get_texts() + [legend.get_title()]
    axes = [*fig.axes, *(child for ax in fig.axes for child in ax.child_axes)]
    for ax in axes:
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                if low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                    texts += [label for label in (tick.label1, tick.label2) if label.get_visible()]
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def plotted_points(fig: Figure) -> np.ndarray:
    """Display coordinates of every line (sampled along its segments) and scatter point."""
    points = []
    for ax in fig.axes:
        for line in ax.lines:
            xy = line.get_transform().transform(np.asarray(line.get_xydata(), float))
            xy = xy[np.isfinite(xy).all(axis=1)]
            if len(xy) == 1:
                points.append(xy)
            for a, b in zip(xy[:-1], xy[1:], strict=True):
                points.append(a + np.linspace(0, 1, 50)[:, None] * (b - a))
        for collection in ax.collections:
            offsets = np.asarray(collection.get_offsets(), float)
            points.append(collection.get_offset_transform().transform(offsets))
    return np.concatenate(points)


def assert_legends_clear(fig: Figure) -> None:
    """No legend covers a plotted point, an axis label, a tick label or a title."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    points = plotted_points(fig)
    assert legends(fig), "the figure has no legend"
    for legend in legends(fig):
        box = legend.get_window_extent(renderer)
        inside = (
            (points[:, 0] >= box.x0)
            & (points[:, 0] <= box.x1)
            & (points[:, 1] >= box.y0)
            & (points[:, 1] <= box.y1)
        )
        assert not inside.any(), f"the legend covers plotted points at {points[inside][:3]}"
        own = set(legend.findobj(Text))
        for text in drawn_texts(fig):
            if text not in own:
                assert not box.overlaps(text.get_window_extent(renderer)), text.get_text()


def assert_printable(fig: Figure) -> None:
    """Saved at most 6.5 x 5.4 inches, with a title, and no drawn text under 7 pt."""
    width, height = saved_inches(fig)
    assert width <= 6.5 and height <= 5.4, (width, height)
    texts = drawn_texts(fig)
    small = [(t.get_text(), t.get_fontsize()) for t in texts if t.get_fontsize() < 7]
    assert not small
    titles = [fig._suptitle] if fig._suptitle else []
    titles += [ax.title for ax in fig.axes]
    assert any(t.get_text() for t in titles), "no title"


def test_the_checks_catch_a_legend_over_a_line_and_small_text():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="diagonal")
    ax.set_title("t")
    ax.legend(loc="center")
    with pytest.raises(AssertionError, match="covers plotted points"):
        assert_legends_clear(fig)
    ax.set_xlabel("tiny", fontsize=6)
    with pytest.raises(AssertionError):
        assert_printable(fig)
    fig.set_size_inches(9, 3)
    ax.xaxis.label.set_fontsize(8)
    with pytest.raises(AssertionError):
        assert_printable(fig)


def loss_history() -> dict[str, list[float]]:
    return {"loss": [0.40, 0.36, 0.34, 0.33], "val_loss": [0.41, 0.37, 0.38, 0.35]}


def score_curve() -> pd.DataFrame:
    return pd.DataFrame(
        {"knn5": [0.68, 0.70, 0.71], "trustworthiness_all": [np.nan, 0.967, 0.969]},
        index=pd.Index([6, 16, 32], name="epochs"),
    )


def finetune_frame() -> pd.DataFrame:
    epochs = np.arange(6)
    return pd.DataFrame(
        {
            "psnr": 16.0 - 5 * 0.5**epochs,
            "ssim": 0.62 - 0.3 * 0.5**epochs,
            "test_bce": 0.335 + 0.09 * 0.5**epochs,
        },
        index=pd.Index(epochs, name="epochs"),
    )


SCRATCH = "trained from scratch, 16 epochs"
FINETUNE_REFERENCES = {
    "psnr": {SCRATCH: 15.68},
    "ssim": {SCRATCH: 0.601},
    "test_bce": {SCRATCH: 0.3350},
}
FINETUNE_TITLE = "Denoising CAE: validation quality against fine-tuning epochs"


def images(n: int) -> np.ndarray:
    return np.random.default_rng(n).uniform(0, 1, (n, 28, 28, 1))


SWEEP = pd.DataFrame(
    {"noisy input": [12.0, 6.0, 0.0, -3.5], "denoising CAE": [16.0, 16.1, 15.7, 14.7]},
    index=pd.Index([0.25, 0.5, 1.0, 1.5], name="noise_std"),
)

#: Every figure function with small synthetic inputs; True where the figure has a legend.
FIGURES = {
    "sample_grid": (lambda: plots.sample_grid(images(100), np.arange(100) % 10), False),
    "loss_curves": (
        lambda: plots.loss_curves({"fine-tuned": loss_history(), "from scratch": six_epochs()}),
        True,
    ),
    "image_rows_12x2": (
        lambda: plots.image_rows(
            {"test image": images(12), "reconstruction": images(12)},
            np.arange(12) % 10,
            "Plain CAE: test images and their reconstructions",
        ),
        False,
    ),
    "image_rows_6x4": (
        lambda: plots.image_rows(
            {n: images(6) for n in ("clean", "noisy input", "denoising CAE", "plain CAE")},
            np.arange(6),
            "Test images: clean, noisy input, denoising CAE, plain CAE",
        ),
        False,
    ),
    "latent_panels": (
        lambda: plots.latent_panels(
            {"CAE": np.random.default_rng(0).normal(size=(300, 2)), "PCA": np.ones((300, 2))},
            np.arange(300) % 10,
            title="The same images in 2-D",
        ),
        True,
    ),
    "class_panels": (
        lambda: plots.class_panels(
            np.random.default_rng(0).normal(size=(300, 2)), np.arange(300) % 10,
            title="Each class in the plane",
        ),
        False,
    ),
    "manifold_mosaic": (
        lambda: plots.manifold_mosaic(
            np.random.default_rng(0).uniform(0, 1, (15, 15, 28, 28)),
            np.linspace(-30, 15, 15),
            np.linspace(20, -38, 15),
        ),
        False,
    ),
    "psnr_vs_std": (lambda: plots.psnr_vs_std(SWEEP, trained_std=1.0), True),
    "budget_curve": (
        lambda: plots.budget_curve(
            score_curve(),
            {"knn5": "5-NN accuracy", "trustworthiness_all": "trustworthiness (all test points)"},
            {"knn5": {"published": 0.734}, "trustworthiness_all": {"published": 0.970}},
            label="this CAE, validation split",
            title="Latent quality against training epochs",
        ),
        True,
    ),
    "finetune_curve": (
        lambda: plots.finetune_curve(finetune_frame(), FINETUNE_REFERENCES, title=FINETUNE_TITLE),
        True,
    ),
}


@pytest.mark.parametrize("name", FIGURES)
def test_figures_are_legible_at_print_size(name):
    build, has_legend = FIGURES[name]
    fig = build()
    assert isinstance(fig, Figure)
    assert_printable(fig)
    if has_legend:
        assert_legends_clear(fig)


def test_sample_grid():
    x = np.random.default_rng(0).uniform(0, 1, (60, 28, 28, 1))
    fig = plots.sample_grid(x, np.arange(60) % 10, per_class=3)
    assert isinstance(fig, Figure) and len(fig.axes) == 30
    assert [ax.get_title() for ax in fig.axes[:10]] == list(CLASS_NAMES)
    assert fig._suptitle.get_text()


def six_epochs() -> dict[str, list[float]]:
    """A six-epoch history whose curves start above `loss_history`'s (0.33 to 0.41)."""
    return {"loss": [0.50, 0.45, 0.40, 0.37, 0.36, 0.35],
            "val_loss": [0.52, 0.46, 0.41, 0.38, 0.37, 0.36]}


def test_loss_curves_scale_to_the_curves():
    history = loss_history()  # curves span 0.33..0.41
    fig = plots.loss_curves({"CAE": history})
    (ax,) = fig.axes
    assert ax.get_title() == "" and ax.get_xlabel() == "epoch"  # one run: the caption names it
    assert ax.get_ylabel() == "BCE per pixel"
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), history["val_loss"])
    low, high = ax.get_ylim()
    values = history["loss"] + history["val_loss"]
    assert low < min(values) and max(values) < high
    assert (0.41 - 0.33) / (high - low) > 0.75  # the curves fill the axis
    assert legend_texts(fig) == ["train", "test"]
    assert_legends_clear(fig)


def test_loss_curves_give_each_run_its_panel_on_one_scale():
    fig = plots.loss_curves({"fine-tuned": loss_history(), "from scratch": six_epochs()})
    left, right = fig.axes
    assert [left.get_title(), right.get_title()] == ["fine-tuned", "from scratch"]
    np.testing.assert_array_equal(right.lines[0].get_xdata(), [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(right.lines[0].get_ydata(), six_epochs()["loss"])
    assert left.get_ylim() == right.get_ylim()  # shared: the panels compare directly
    low, high = left.get_ylim()
    assert low < 0.33 and high > 0.52
    assert legend_texts(fig) == ["train", "test"]  # one legend for both panels
    assert_legends_clear(fig)


def test_loss_curves_draw_a_starting_test_loss_at_epoch_0():
    history = {**loss_history(), "start": 0.56}  # a fine-tuned model's loss before epoch 1
    (ax,) = plots.loss_curves({"fine-tuned": history}).axes
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [0.56, *history["val_loss"]])
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3, 4])  # training: no epoch 0
    low, high = ax.get_ylim()  # scaled to the epochs (0.33..0.41), epoch 0 marked at the top
    assert low < 0.33 and 0.41 < high < 0.56
    assert [t.get_text() for t in ax.texts] == ["epoch 0: 0.560 ↑"]


def test_loss_curves_scale_to_a_start_within_the_curves():
    history = {**loss_history(), "start": 0.40}  # inside the epochs' range: no mark needed
    (ax,) = plots.loss_curves({"fine-tuned": history}).axes
    assert len(ax.texts) == 0 and ax.get_ylim()[1] > 0.41


def rows_in_reading_order(fig: Figure) -> list[list[float]]:
    """Each thumbnail's mean pixel, in rows of thumbnails from the top, left to right."""
    by_row: dict[float, list[tuple[float, float]]] = {}
    for ax in fig.axes:
        box = ax.get_position()
        by_row.setdefault(round(box.y0, 6), []).append((box.x0, ax.images[0].get_array().mean()))
    return [[mean for _, mean in sorted(by_row[y])] for y in sorted(by_row, reverse=True)]


def test_image_rows_wrap_into_blocks_of_legible_thumbnails():
    values = np.arange(12) / 12
    flat = np.ones((12, 28, 28, 1)) * values[:, None, None, None]
    fig = plots.image_rows(
        {"test image": flat, "reconstruction": 1 - flat}, np.arange(12) % 10, "t"
    )
    assert len(fig.axes) == 24
    np.testing.assert_allclose(
        rows_in_reading_order(fig), [values[:6], 1 - values[:6], values[6:], 1 - values[6:]]
    )
    width, _ = fig.get_size_inches()
    assert all(ax.get_position().width * width >= 0.9 for ax in fig.axes)
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()] == [
        "test image",
        "reconstruction",
    ] * 2
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == [CLASS_NAMES[i % 10] for i in range(12)]
    assert fig._suptitle.get_text() == "t"


def test_image_rows_fit_one_image_of_every_class_in_a_row():
    rows = {"clean target": np.zeros((10, 28, 28)), "denoising CAE": np.ones((10, 28, 28))}
    fig = plots.image_rows(rows, np.arange(10), max_columns=10)
    width, _ = fig.get_size_inches()
    assert width <= plots.PRINT_WIDTH - 2 * plots.SAVE_PAD
    assert all(ax.get_position().width * width >= plots.MIN_THUMBNAIL for ax in fig.axes)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == list(CLASS_NAMES)
    # Row labels wrap between words only: "denoising" is never split.
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()] == [
        "clean\ntarget",
        "denoising\nCAE",
    ]


def test_image_rows_clip_noisy_values_and_refuse_what_cannot_be_legible():
    rows = {"clean": np.zeros((3, 28, 28, 1)), "noisy": np.full((3, 28, 28), 2.5)}
    fig = plots.image_rows(rows)
    assert {float(ax.images[0].get_array().max()) for ax in fig.axes} == {0.0, 1.0}
    assert not any(ax.get_title() for ax in fig.axes)
    with pytest.raises(DeepvisError, match="at most 6 images"):
        plots.image_rows({n: np.zeros((10, 28, 28)) for n in "abcd"}, np.arange(10), "four rows")


def test_latent_panels_share_sample_colours_and_labels(labelled):
    codes, labels = labelled
    fig = plots.latent_panels({"CAE": codes, "PCA": -codes}, labels, title="CAE | PCA")
    assert [ax.get_title() for ax in fig.axes] == ["CAE", "PCA"]
    assert {(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes} == {plots.EMBEDDING_AXES}
    assert legend_texts(fig) == list(CLASS_NAMES)
    left, right = (np.asarray(ax.collections[0].get_offsets()) for ax in fig.axes)
    np.testing.assert_allclose(left, -right)  # same points, same order in both panels
    assert len(left) == 200
    # Each point has its class's colour: match points back to codes by position.
    colours = fig.axes[0].collections[0].get_facecolors()
    for point, colour in zip(left[:20], colours[:20], strict=True):
        i = int(np.flatnonzero(np.all(codes == point, axis=1))[0])
        assert matplotlib.colors.to_hex(colour) == plots.CLASS_COLORS[labels[i]]


def test_latent_panels_break_a_long_y_label_before_its_parenthesis(labelled):
    codes, labels = labelled
    pca = ("component 1 (29.0% of the variance)", "component 2 (17.8% of the variance)")
    fig = plots.latent_panels({"CAE": codes, "PCA": codes}, labels, panel_axes={"PCA": pca})
    cae_ax, pca_ax = fig.axes[:2]
    assert pca_ax.get_xlabel() == pca[0]  # room enough below the axes
    assert pca_ax.get_ylabel() == "component 2\n(17.8% of the variance)"
    assert cae_ax.get_ylabel() == plots.EMBEDDING_AXES[1]  # short: left whole


def test_class_panels_colour_one_class_per_panel_over_all_points(labelled):
    codes, labels = labelled
    fig = plots.class_panels(codes, labels)
    assert [ax.get_title() for ax in fig.axes] == list(CLASS_NAMES)
    for k, ax in enumerate(fig.axes):
        everyone, own = (np.asarray(c.get_offsets()) for c in ax.collections)
        np.testing.assert_array_equal(everyone, codes)  # all points, in grey, under the class
        np.testing.assert_array_equal(own, codes[labels == k])
        assert matplotlib.colors.to_hex(ax.collections[1].get_facecolors()[0]) == (
            plots.CLASS_COLORS[k])
    assert len({ax.get_xlim() for ax in fig.axes}) == 1  # one scale for every panel


def test_manifold_mosaic():
    images = np.random.default_rng(0).uniform(0, 1, (4, 5, 28, 28))
    fig = plots.manifold_mosaic(images, np.linspace(-1, 1, 5), np.linspace(2, -2, 4))
    (ax,) = fig.axes
    (im,) = ax.images
    assert im.get_array().shape == (4 * 28, 5 * 28)
    left, right, bottom, top = im.get_extent()
    assert left < -1 < 1 < right and bottom < -2 < 2 < top
    assert "dimension 1" in ax.get_xlabel() and "dimension 2" in ax.get_ylabel()


def test_psnr_vs_std():
    fig = plots.psnr_vs_std(SWEEP, trained_std=1.0)
    (ax,) = fig.axes
    assert legend_texts(fig) == ["noisy input", "denoising CAE", "training std (1.0)"]
    assert "PSNR" in ax.get_ylabel() and "standard deviation" in ax.get_xlabel()
    assert "PSNR" in ax.get_title()


def edge_labels(ax) -> list[str]:
    (edge,) = ax.child_axes
    return [t.get_text() for t in edge.yaxis.get_ticklabels()]


def test_budget_curve_draws_one_panel_per_score_with_its_references():
    fig = plots.budget_curve(
        score_curve(),
        {"knn5": "5-NN accuracy", "trustworthiness_all": "trustworthiness"},
        {"knn5": {"goal": 0.74, "published": 0.734}},
        label="this CAE, validation split",
    )
    left, right = fig.axes
    assert left.get_ylabel() == "5-NN accuracy" and right.get_ylabel() == "trustworthiness"
    assert list(left.lines[0].get_xdata()) == [6, 16, 32]
    assert list(right.lines[0].get_xdata()) == [16, 32]  # the missing score is left out
    # One legend for both panels, the curve under the label it was given
    assert legend_texts(fig) == ["this CAE, validation split", "goal", "published"]
    assert edge_labels(left) == ["0.740", "0.734"] and not right.child_axes


def test_finetune_curve_has_three_panels_with_labelled_references():
    frame = finetune_frame()
    fig = plots.finetune_curve(frame, FINETUNE_REFERENCES, title=FINETUNE_TITLE)
    assert len(fig.axes) == 3
    assert all(ax.get_xlabel() == "fine-tuning epochs" for ax in fig.axes)
    assert ["PSNR" in fig.axes[0].get_ylabel(), "SSIM" in fig.axes[1].get_ylabel()] == [True] * 2
    # The axis labels name no image set; the title says which one was scored
    assert fig.axes[2].get_ylabel() == "BCE per pixel"
    assert fig._suptitle.get_text() == FINETUNE_TITLE
    for ax, column in zip(fig.axes, ["psnr", "ssim", "test_bce"], strict=True):
        np.testing.assert_array_equal(ax.lines[0].get_xdata(), np.arange(6))
        np.testing.assert_allclose(ax.lines[0].get_ydata(), frame[column])
        (reference,) = ax.lines[1:]
        assert reference.get_linestyle() == "--"
        assert reference.get_ydata()[0] == FINETUNE_REFERENCES[column][SCRATCH]
    assert [edge_labels(ax) for ax in fig.axes] == [["15.68 dB"], ["0.601"], ["0.3350"]]
    assert legend_texts(fig) == ["fine-tuned from the plain CAE", SCRATCH]
    colours = {matplotlib.colors.to_hex(ax.lines[1].get_color()) for ax in fig.axes}
    assert len(colours) == 1  # the same reference in the same colour in every panel


def test_finetune_curve_keeps_its_epoch_ticks_apart():
    """Ten epochs in a narrow panel: whole-number ticks, about five of them, not all ten."""
    ten = finetune_frame().reindex(range(11)).interpolate().loc[1:]
    fig = plots.finetune_curve({"4 epochs": ten.loc[:4], "10 epochs": ten}, title=FINETUNE_TITLE)
    fig.canvas.draw()
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert 3 <= len(ticks) <= 6 and all(float(t).is_integer() for t in ticks)


def test_finetune_curve_without_references():
    fig = plots.finetune_curve(finetune_frame(), title=FINETUNE_TITLE)
    assert all(len(ax.lines) == 1 and not ax.child_axes for ax in fig.axes)
    assert legend_texts(fig) == ["fine-tuned from the plain CAE"]
