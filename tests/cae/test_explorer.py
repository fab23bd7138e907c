"""The code-plane explorer's data: the test images' quantiser, sprites that round-trip exactly,
the grid, the page, and its size for the real test set."""

from __future__ import annotations

import re

import numpy as np
import pytest

from deepvis import data
from deepvis.cae import explorer, latent
from deepvis.data import CLASS_NAMES

from .explorer_page import codes_of, payload, shown_test_images

#: The most the explorer may add to a page, bytes (issue #33: 4 MB).
BUDGET = 4_000_000

needs_fashion_mnist = pytest.mark.skipif(
    data._debian_dir() is None,
    reason="Fashion-MNIST Debian package not installed (make setup installs it)",
)


class Blob:
    """A fake decoder: code (u, v) -> a bright disc centred at column 14 + 2u, row 14 - 2v."""

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float32).reshape(len(X), -1)[:, :2]

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        rows, cols = np.mgrid[:28, :28]
        u, v = np.asarray(X, dtype=np.float32).T[:, :, None, None]
        disc = np.exp(-((cols - 14 - 2 * u) ** 2 + (rows - 14 + 2 * v) ** 2) / 20.0)
        return disc.reshape(len(X), -1).astype(np.float32)


def synthetic(n_images: int = 400, grid: int = 12, seed: int = 0):
    """A small explorer's inputs: random byte images, labels cycling through the classes, and
    two planes, one of a fake encoder and `Blob` decoder, one of a real PCA of the images."""
    rng = np.random.default_rng(seed)
    images = (rng.integers(0, 256, (n_images, 28, 28)) / 255).astype(np.float32)[..., None]
    labels = np.arange(n_images) % len(CLASS_NAMES)
    codes = rng.normal(size=(n_images, 2)).astype(np.float32) * [3.0, 2.0]
    pca = latent.fit_pca(images)
    planes = [
        explorer.plane("cae", "Fake encoder", codes, Blob(), n=grid),
        explorer.plane(
            "pca",
            "PCA, 2 components",
            latent.embed(pca, images),
            pca,
            axes=latent.pca_axes(pca),
            decoder="PCA's inverse transform",
            n=grid,
        ),
    ]
    return images, labels, planes


def test_bytes_are_the_datasets_own():
    raw = np.arange(256, dtype=np.uint8).repeat(4)[:784].reshape(1, 28, 28)
    as_loaded = (raw.astype("float32") / 255.0)[..., None]  # deepvis.data.load_fashion_mnist
    assert np.array_equal(explorer.to_bytes(as_loaded), raw)
    assert explorer.to_bytes(np.full((1, 784), 1.7))[0, 0, 0] == 255  # clipped
    assert explorer.to_bytes(np.full((1, 784), -0.2))[0, 0, 0] == 0


def test_quantiser_takes_the_nearest_of_16_levels_within_half_a_step():
    values = np.arange(256)
    shown = explorer.quantise(values.astype(np.uint8))
    levels = np.unique(shown)
    assert shown.dtype == np.uint8
    assert len(levels) == explorer.LEVELS == 16 and levels[0] == 0 and levels[-1] == 255
    assert set(np.diff(levels.astype(int))) == {explorer.STEP}
    error = np.abs(shown.astype(int) - values)
    assert error.max() == explorer.MAX_ERROR == 8
    assert np.array_equal(error, np.abs(values[:, None] - levels[None, :].astype(int)).min(axis=1))
    assert np.array_equal(explorer.quantise(shown), shown)  # a level stays itself
    images = np.random.default_rng(3).integers(0, 256, (2, 28, 28), dtype=np.uint8)
    assert explorer.quantise(images).shape == (2, 28, 28)


def test_sprite_order_sorts_by_class_keeping_the_test_sets_order():
    assert explorer.sprite_order(np.array([2, 0, 2, 1, 0])).tolist() == [1, 4, 3, 0, 2]


def test_4_bit_sprite_round_trips_through_png_and_refuses_other_values():
    images = np.random.default_rng(4).integers(0, 256, (30, 28, 28), dtype=np.uint8)
    sprite = explorer.tile(explorer.quantise(images), columns=7)
    data = explorer.png_base64(sprite, bits=4)
    assert len(data) < len(explorer.png_base64(sprite))  # half the bits a pixel
    assert np.array_equal(explorer.png_pixels(data), sprite)
    with pytest.raises(ValueError, match="multiples of 17"):
        explorer.png_base64(images[0], bits=4)
    with pytest.raises(ValueError, match="4 or 8"):
        explorer.png_base64(sprite, bits=2)


@pytest.mark.parametrize("count", [1, 99, 100, 101, 250])
def test_tile_sprite_round_trips_through_png(count):
    images = np.random.default_rng(count).integers(0, 256, (count, 28, 28), dtype=np.uint8)
    sprite = explorer.tile(images, columns=100)
    assert sprite.shape == (28 * -(-count // 100), 2800)
    k = count - 1  # image k at tile row k // 100, column k % 100
    top, left = 28 * (k // 100), 28 * (k % 100)
    assert np.array_equal(sprite[top : top + 28, left : left + 28], images[k])
    decoded = explorer.png_pixels(explorer.png_base64(sprite))
    assert decoded.dtype == np.uint8 and np.array_equal(decoded, sprite)
    assert np.array_equal(explorer.untile(decoded, count, columns=100), images)


def test_interleaved_grid_round_trips_and_places_each_pixel():
    n = 5
    grid = np.random.default_rng(1).integers(0, 256, (n, n, 28, 28), dtype=np.uint8)
    sprite = explorer.interleave(grid)
    assert sprite.shape == (28 * n, 28 * n)
    i, j, r, c = 3, 1, 27, 4
    assert sprite[r * n + i, c * n + j] == grid[i, j, r, c]
    decoded = explorer.png_pixels(explorer.png_base64(sprite))
    assert np.array_equal(explorer.deinterleave(decoded, n), grid)


def test_extent_pads_the_codes_range():
    codes = np.array([[0.0, -1.0], [10.0, 3.0]])
    assert explorer.extent(codes, pad=0.05) == pytest.approx((-0.5, 10.5, -1.2, 3.2))
    assert explorer.extent(np.array([[2.0, 5.0]]), pad=0.05) == (1.0, 3.0, 4.0, 6.0)


def test_grid_points_are_cell_centres_row_zero_at_the_top():
    box = (0.0, 4.0, -2.0, 2.0)
    grid = explorer.grid_codes(box, 4)
    assert grid.shape == (4, 4, 2) and grid.dtype == np.float32
    assert grid[0, 0].tolist() == [0.5, 1.5]  # top left
    assert grid[3, 2].tolist() == [2.5, -1.5]
    assert grid[1, 3].tolist() == [3.5, 0.5]


def test_nearest_grid_point_is_the_cell_the_code_falls_in():
    box, n = (-3.0, 5.0, 10.0, 12.0), 7
    grid = explorer.grid_codes(box, n)
    for i in range(n):
        for j in range(n):
            assert explorer.nearest_grid_point(box, n, grid[i, j]) == (i, j)
    points = np.random.default_rng(2).uniform([-4, 9.5], [6, 12.5], size=(500, 2))
    flat = grid.reshape(-1, 2).astype(float)
    for code in points:  # Euclidean nearest grid point, in code units, edges clamped
        nearest = np.argmin(((flat - code) ** 2).sum(axis=1))
        assert explorer.nearest_grid_point(box, n, code) == divmod(int(nearest), n)


def test_ticks_fall_inside_the_range():
    assert explorer.ticks(-33.4, 21.9) == [-30.0, -15.0, 0.0, 15.0]
    assert explorer.ticks(0.2, 0.9) == [0.3, 0.45, 0.6, 0.75]


def test_plane_decodes_its_grid():
    images, labels, (cae, pca) = synthetic(n_images=60, grid=6)
    assert cae.grid.shape == (6, 6, 28, 28) and cae.grid.dtype == np.uint8
    expected = explorer.to_bytes(
        Blob().inverse_transform(explorer.grid_codes(cae.box, 6)[2, 4][None])
    )
    assert np.array_equal(cae.grid[2, 4], expected[0])
    code = explorer.grid_codes(pca.box, 6)[5, 0][None]
    assert np.array_equal(pca.grid[5, 0], explorer.to_bytes(pca_inverse(images, code))[0])


def pca_inverse(images: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The inverse transform of a PCA fitted as `synthetic` fits it."""
    return latent.fit_pca(images).inverse_transform(codes)


def test_page_is_self_contained_and_holds_the_exact_data():
    images, labels, planes = synthetic()
    page = explorer.html(images, labels, planes)
    assert page.count("data-deepvis-explorer=") == 2
    assert 'data-deepvis-explorer="cae"' in page and 'data-deepvis-explorer="pca"' in page
    # Nothing to load: no src or href, no <img> (the write-ups' check counts those as figures).
    assert not re.search(r"\s(src|href)=", page) and "<img" not in page
    assert "http://" not in page and "https://" not in page
    data = payload(page)
    shown = shown_test_images(data, labels)
    exact = explorer.to_bytes(images)
    assert np.array_equal(shown, explorer.quantise(exact))
    assert np.abs(shown.astype(int) - exact).max() == explorer.MAX_ERROR  # random bytes: reached
    for p in planes:
        assert np.array_equal(codes_of(data, p.key), p.codes)
        grid = explorer.deinterleave(explorer.png_pixels(data["planes"][p.key]["grid"]), p.n)
        assert np.array_equal(grid, p.grid)
        box = tuple(
            float(v)
            for v in re.search(rf'data-deepvis-explorer="{p.key}" data-extent="([^"]+)"', page)
            .group(1)
            .split()
        )
        assert box == p.box
    assert "A scatter plot of the codes of 400 test images" in page  # the text alternative
    assert page.count('<button type="button" class="dv-class"') == 2 * len(CLASS_NAMES)


def test_page_refuses_mismatched_inputs():
    images, labels, planes = synthetic(n_images=30, grid=3)
    with pytest.raises(ValueError, match="one code per image"):
        explorer.html(images[:20], labels[:20], planes)
    with pytest.raises(ValueError, match="keys must differ"):
        explorer.html(images, labels, [planes[0], planes[0]])


class Nearest:
    """A stand-in decoder with real content: code -> the test image whose code is nearest.
    Real images, not smoothed by a decoder, neighbours unalike: its interleaved grid takes more
    bytes than the trained CAE's (on PCA's plane 0.86 MB in base64, the CAE's own 0.68 MB)."""

    def __init__(self, codes: np.ndarray, images: np.ndarray) -> None:
        from scipy.spatial import cKDTree

        self.tree = cKDTree(codes)
        self.images = np.asarray(images, dtype=np.float32).reshape(len(images), -1)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        _, nearest = self.tree.query(np.asarray(X, dtype=np.float64))
        return self.images[nearest]


@needs_fashion_mnist
def test_the_explorer_of_the_real_test_set_fits_the_budget(tmp_path, monkeypatch):
    """Both planes of all 10,000 test images, their grids 40 x 40: at most 4 MB of HTML."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("DEEPVIS_HOME", str(tmp_path / "project"))
    monkeypatch.delenv(data.ENV_DIR, raising=False)
    (x_train, _), (x_test, y_test) = data.load_fashion_mnist()
    pca = latent.fit_pca(x_train)
    codes = latent.embed(pca, x_test)
    planes = [
        explorer.plane("cae", "Nearest test image", codes, Nearest(codes, x_test)),
        explorer.plane("pca", "PCA", codes, pca, axes=latent.pca_axes(pca)),
    ]
    page = explorer.html(x_test, y_test, planes)
    assert len(x_test) == 10_000 and planes[0].n == explorer.GRID == 40
    assert len(page.encode("utf-8")) <= BUDGET
    shown = shown_test_images(payload(page), y_test)
    assert np.abs(shown.astype(int) - explorer.to_bytes(x_test)).max() == explorer.MAX_ERROR
