"""A small synthetic explorer (`deepvis.cae.explorer`) in headless Chromium, offline: hover,
click, the legend, the keyboard, and no request leaving the page."""

from __future__ import annotations

import numpy as np
import pytest

from deepvis.cae import explorer
from deepvis.data import CLASS_NAMES

from .explorer_page import (
    assert_shows_test_image,
    browser,
    isolated,
    needs_browser,
    plane,
    plane_pixel,
    shown,
    text,
    visit,
)
from .test_explorer import synthetic

pytestmark = needs_browser


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    """The synthetic explorer as a page of its own, with its inputs."""
    images, labels, planes = synthetic()
    path = tmp_path_factory.mktemp("explorer") / "explorer.html"
    body = explorer.html(images, labels, planes)
    path.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{body}</body></html>"
    )
    return path, images, labels, {p.key: p for p in planes}


@pytest.fixture(scope="module")
def chromium():
    with browser() as launched:
        yield launched


@pytest.mark.parametrize("key", ["cae", "pca"])
def test_hover_shows_the_test_image_under_the_pointer(chromium, page_file, key):
    path, images, labels, planes = page_file
    with visit(chromium, path) as seen:
        at = plane(seen.page, key)
        k = isolated(at, planes[key].codes, labels, label=3)
        seen.page.mouse.move(*at.screen(planes[key].codes[k]))
        assert_shows_test_image(seen.page, key, explorer.to_bytes(images)[k])
        assert text(seen.page, key, "test-class") == CLASS_NAMES[labels[k]]
        assert text(seen.page, key, "test-index") == f"test image {k}"
        code = text(seen.page, key, "test-code").replace("\u2212", "-")
        numbers = [float(v) for v in code.removeprefix("code (").removesuffix(")").split(", ")]
        assert np.allclose(numbers, planes[key].codes[k], atol=0.0051)  # two decimals
        assert seen.outside == []


@pytest.mark.parametrize("key", ["cae", "pca"])
def test_click_shows_the_decoded_nearest_grid_point(chromium, page_file, key):
    path, _, _, planes = page_file
    p = planes[key]
    with visit(chromium, path) as seen:
        at = plane(seen.page, key)
        cell = np.array([(p.box[1] - p.box[0]) / p.n, (p.box[3] - p.box[2]) / p.n])
        for row, column in [(0, 0), (4, 9), (11, 2)]:
            centre = explorer.grid_codes(p.box, p.n)[row, column]
            code = centre + cell * [0.2, -0.15]  # inside the cell, off its centre
            assert explorer.nearest_grid_point(p.box, p.n, code) == (row, column)
            seen.page.mouse.click(*at.screen(code))
            assert np.array_equal(shown(seen.page, key, "decoded"), 255 - p.grid[row, column])
            assert "grid point" in text(seen.page, key, "decoded-code")
        marker = plane_pixel(seen.page, key, at.pixels(code[None])[0])
        assert max(marker) < 80  # the click's black marker
        assert seen.outside == []


def test_legend_hides_and_shows_a_class(chromium, page_file):
    path, _, labels, planes = page_file
    key, label = "cae", 1  # Trouser: orange, a colour no grid line has
    with visit(chromium, path) as seen:
        page = seen.page
        at = plane(page, key)
        k = isolated(at, planes[key].codes, labels, label)
        xy = at.pixels(planes[key].codes[k][None])[0]
        before = plane_pixel(page, key, xy)
        assert len(set(before)) > 1  # coloured
        button = page.locator(f'[data-deepvis-explorer="{key}"] .dv-class[data-class="{label}"]')
        button.click()
        assert button.get_attribute("aria-pressed") == "false"
        hidden = plane_pixel(page, key, xy)
        assert len(set(hidden)) == 1  # white, or a grey grid line
        page.mouse.move(*at.screen(planes[key].codes[k]))
        assert text(page, key, "test-class") != CLASS_NAMES[label]  # not hoverable either
        button.click()
        assert button.get_attribute("aria-pressed") == "true"
        assert plane_pixel(page, key, xy) == before


def test_the_keyboard_reaches_everything(chromium, page_file):
    path, images, labels, planes = page_file
    with visit(chromium, path) as seen:
        page = seen.page
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.classList.contains('dv-plane')")
        assert text(page, "cae", "test-class") in CLASS_NAMES  # focus shows the nearest point
        page.keyboard.press("Shift+ArrowRight")
        shown_class = text(page, "cae", "test-class")
        k = int(text(page, "cae", "test-index").rsplit(" ", 1)[1])
        assert shown_class == CLASS_NAMES[labels[k]]
        assert_shows_test_image(page, "cae", explorer.to_bytes(images)[k])
        page.keyboard.press("Enter")
        assert "grid point" in text(page, "cae", "decoded-code")
        page.keyboard.press("Tab")  # on to the legend's first button
        assert page.evaluate("document.activeElement.dataset.class") == "0"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.getAttribute('aria-pressed')") == "false"
        assert seen.outside == []


def test_no_request_leaves_the_page(chromium, page_file):
    path = page_file[0]
    with visit(chromium, path) as seen:
        seen.page.mouse.move(300, 300)
        assert seen.outside == []
        assert all(u == seen.url or u.startswith("data:") for u in seen.requests)
        ready = seen.page.evaluate("document.querySelector('.deepvis-explorers').dataset.ready")
        assert ready == "true"
