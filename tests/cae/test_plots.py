"""Every figure helper returns a Figure with the expected axes, labels and legend entries."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from deepvis.cae import plots  # noqa: E402
from deepvis.data import CLASS_NAMES  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def labelled() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.arange(200) % 10
    return rng.normal(size=(200, 2)) + labels[:, None], labels


def legend_texts(fig: Figure) -> list[str]:
    legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def test_sample_grid():
    x = np.random.default_rng(0).uniform(0, 1, (60, 28, 28, 1))
    fig = plots.sample_grid(x, np.arange(60) % 10, per_class=3)
    assert isinstance(fig, Figure) and len(fig.axes) == 30
    assert [ax.get_title() for ax in fig.axes[:10]] == list(CLASS_NAMES)


def test_loss_curves():
    history = {"loss": [0.4, 0.35, 0.33], "val_loss": [0.38, 0.34, 0.33]}
    fig = plots.loss_curves(history, "CAE", {"floor (0.24)": 0.24, "PCA (0.39)": 0.39})
    (ax,) = fig.axes
    assert ax.get_title() == "CAE" and ax.get_xlabel() == "epoch"
    assert "cross-entropy" in ax.get_ylabel()
    texts = legend_texts(fig)
    assert texts == ["train", "test", "floor (0.24)", "PCA (0.39)"]
    assert len(legend_texts(plots.loss_curves(history, "CAE"))) == 2
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])


def test_image_rows():
    rows = {"clean": np.zeros((8, 28, 28, 1)), "noisy": np.ones((8, 28, 28))}
    fig = plots.image_rows(rows, labels=np.arange(8), title="t")
    assert len(fig.axes) == 16
    assert [fig.axes[0].get_ylabel(), fig.axes[8].get_ylabel()] == ["clean", "noisy"]
    assert [ax.get_title() for ax in fig.axes[:8]] == list(CLASS_NAMES[:8])


def test_latent_scatter_colours_and_legend(labelled):
    codes, labels = labelled
    fig = plots.latent_scatter(codes, labels, "CAE codes")
    (ax,) = fig.axes
    assert ax.get_title() == "CAE codes"
    assert (ax.get_xlabel(), ax.get_ylabel()) == plots.EMBEDDING_AXES
    assert legend_texts(fig) == list(CLASS_NAMES)
    (points,) = ax.collections
    assert len(points.get_offsets()) == 200
    # Each point has its class's colour: match points back to codes by position.
    offsets, colours = points.get_offsets(), points.get_facecolors()
    for point, colour in zip(offsets[:20], colours[:20], strict=True):
        i = int(np.flatnonzero(np.all(codes == point, axis=1))[0])
        assert matplotlib.colors.to_hex(colour) == plots.CLASS_COLORS[labels[i]]


def test_latent_panels_share_sample_colours_and_labels(labelled):
    codes, labels = labelled
    fig = plots.latent_panels({"CAE": codes, "PCA": -codes}, labels, title="CAE | PCA")
    assert [ax.get_title() for ax in fig.axes] == ["CAE", "PCA"]
    assert {(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes} == {plots.EMBEDDING_AXES}
    assert legend_texts(fig) == list(CLASS_NAMES)
    left, right = (np.asarray(ax.collections[0].get_offsets()) for ax in fig.axes)
    np.testing.assert_allclose(left, -right)  # same points, same order in both panels


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
    table = pd.DataFrame(
        {"noisy input": [12.0, 6.0, 0.0], "denoising CAE": [17.0, 16.5, 15.0]},
        index=pd.Index([0.25, 0.5, 1.0], name="noise_std"),
    )
    fig = plots.psnr_vs_std(table, trained_std=1.0)
    (ax,) = fig.axes
    assert legend_texts(fig) == ["noisy input", "denoising CAE", "training std (1.0)"]
    assert "PSNR" in ax.get_ylabel() and "standard deviation" in ax.get_xlabel()


def test_budget_curve_draws_one_panel_per_score_with_its_references():
    curve = pd.DataFrame(
        {"knn5": [0.68, 0.70, 0.71], "trustworthiness_all": [np.nan, 0.967, 0.969]},
        index=pd.Index([6, 16, 32], name="epochs"),
    )
    fig = plots.budget_curve(
        curve,
        {"knn5": "5-NN accuracy", "trustworthiness_all": "trustworthiness"},
        {"knn5": {"goal": 0.74, "published": 0.734}},
    )
    left, right = fig.axes
    assert left.get_ylabel() == "5-NN accuracy" and right.get_ylabel() == "trustworthiness"
    assert list(left.lines[0].get_xdata()) == [6, 16, 32]
    assert list(right.lines[0].get_xdata()) == [16, 32]  # the missing score is left out
    assert legend_texts(fig) == ["this CAE", "goal", "published", "this CAE"]
