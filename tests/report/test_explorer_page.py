"""The code-plane explorers (`deepvis.cae.explorer`) of the rendered write-ups, checked in
headless Chromium with every request outside the file blocked, against the dataset and the
models themselves (loaded from the cache, never trained).

The report read is the quick one that `.ci/run` builds (`make report QUICK=1`); with
``DEEPVIS_QUICK`` set off when pytest starts, the full report in ``report/``; with
``DEEPVIS_HOME`` set then, that project folder's.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest

from deepvis.cae import explorer, latent, train
from deepvis.cae.config import analysis_data, cae_config
from deepvis.config import QUICK_ON, paths
from deepvis.data import CLASS_NAMES, load_fashion_mnist
from deepvis.report.check import pdf_text

from ..cae.explorer_page import (
    assert_shows_test_image,
    browser,
    codes_of,
    isolated,
    needs_browser,
    payload,
    plane,
    plane_pixel,
    shown,
    text,
    visit,
)

pytestmark = [pytest.mark.report, needs_browser]

#: The report's mode and project folder, read before the suite's fixtures reset them.
QUICK = os.environ.get("DEEPVIS_QUICK", "1").strip().lower() in QUICK_ON
HOME = os.environ.get("DEEPVIS_HOME")


@pytest.fixture
def report(monkeypatch):
    """The report's folder (``deepvis.config.paths().report`` of the project, in its mode)."""
    if HOME:
        monkeypatch.setenv("DEEPVIS_HOME", HOME)
    else:
        monkeypatch.delenv("DEEPVIS_HOME", raising=False)
    monkeypatch.setenv("DEEPVIS_QUICK", "1" if QUICK else "0")
    return paths().report


@pytest.fixture(scope="module")
def chromium():
    with browser() as launched:
        yield launched


@functools.cache
def dataset(quick: bool) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The images the write-ups analyse in mode `quick` (set in the environment already)."""
    return analysis_data(load_fashion_mnist())


@functools.cache
def embeddings(quick: bool) -> dict[str, latent.Embedding]:
    """The report's CAE (from the cache) and PCA, by explorer key."""
    (x_train, _), (x_test, _) = dataset(quick)
    config = cae_config()
    assert train.is_cached(config), "the report's CAE is not in the cache: run make report"
    cae = latent.CAEEmbedding.of(train.fit_or_load(config, x_train, x_test))
    return {"cae": cae, "pca": latent.fit_pca(x_train)}


def test_both_write_ups_show_the_explorers_and_the_pdf_does_not(report):
    for name in ("exercise1", "report"):
        page = (report / f"{name}.html").read_text(encoding="utf-8")
        for key in ("cae", "pca"):
            assert page.count(f'data-deepvis-explorer="{key}"') == 1, (name, key)
        text_only = pdf_text(report / f"{name}.pdf")
        assert "Explore both planes" not in text_only and "Text description" not in text_only


@pytest.mark.parametrize("key", ["cae", "pca"])
def test_hover_shows_the_test_image_and_its_class(report, chromium, key):
    _, (x_test, y_test) = dataset(QUICK)
    path = report / "exercise1.html"
    codes = codes_of(payload(path.read_text(encoding="utf-8")), key)
    assert len(codes) == len(x_test)
    # The points are where the model puts the test images.
    assert np.allclose(codes, latent.embed(embeddings(QUICK)[key], x_test), atol=1e-3)
    with visit(chromium, path) as seen:
        at = plane(seen.page, key)
        for label in (0, 5, 8):
            k = isolated(at, codes, y_test, label)
            seen.page.mouse.move(*at.screen(codes[k]))
            assert_shows_test_image(seen.page, key, explorer.to_bytes(x_test)[k])
            assert text(seen.page, key, "test-class") == CLASS_NAMES[y_test[k]]
        assert seen.outside == []
        assert all(u == seen.url or u.startswith("data:") for u in seen.requests)


@pytest.mark.parametrize("key", ["cae", "pca"])
def test_click_shows_the_decoders_output_at_the_nearest_grid_point(report, chromium, key):
    embedding = embeddings(QUICK)[key]
    with visit(chromium, report / "exercise1.html") as seen:
        at = plane(seen.page, key)
        grid = explorer.grid_codes(at.box, at.n)
        cell = np.array([at.box[1] - at.box[0], at.box[3] - at.box[2]]) / at.n
        for row, column in [(3, 5), (at.n // 2, at.n // 2), (at.n - 2, at.n - 7)]:
            code = grid[row, column] + cell * [-0.2, 0.25]
            assert explorer.nearest_grid_point(at.box, at.n, code) == (row, column)
            seen.page.mouse.click(*at.screen(code))
            decoded = explorer.to_bytes(embedding.inverse_transform(grid[row, column][None]))[0]
            difference = np.abs(shown(seen.page, key, "decoded").astype(int) - (255 - decoded))
            assert difference.max() <= 1  # float round-off between batch sizes, at most
        assert seen.outside == []


def test_legend_hides_a_class(report, chromium):
    _, (_, y_test) = dataset(QUICK)
    path = report / "exercise1.html"
    codes = codes_of(payload(path.read_text(encoding="utf-8")), "cae")
    with visit(chromium, path) as seen:
        at = plane(seen.page, "cae")
        k = isolated(at, codes, y_test, label=1)  # Trouser: orange
        xy = at.pixels(codes[k][None])[0]
        assert len(set(plane_pixel(seen.page, "cae", xy))) > 1
        seen.page.locator('[data-deepvis-explorer="cae"] .dv-class[data-class="1"]').click()
        assert len(set(plane_pixel(seen.page, "cae", xy))) == 1
        assert seen.outside == []
