"""Driving a page's code-plane explorers (`deepvis.cae.explorer`) in headless Chromium.

Shared by the tests of a small synthetic explorer (`tests/cae/test_explorer_browser.py`) and
those of the rendered write-up (`tests/report/test_explorer_page.py`). The browser is Debian's
Chromium, as in `deepvis.report.check.browser_check`; every request to anything but the page's
own file is aborted and recorded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from deepvis.cae import explorer
from deepvis.report.check import CHROMIUM

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
VIEWPORT = {"width": 1200, "height": 900}

needs_browser = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium not installed"
)


@dataclass
class Visit:
    """An open page: Playwright's ``page``, the page's file URL, and every request it made
    (``requests``) and those aborted because they left the file (``outside``)."""

    page: Any
    url: str
    requests: list[str]
    outside: list[str]


@contextmanager
def browser() -> Iterator[Any]:
    """Headless Chromium (Playwright's ``Browser``), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def visit(chromium: Any, path: Path, timeout_ms: float = 60_000) -> Iterator[Visit]:
    """`path` open in a new page of `chromium`, its explorers started (``data-ready``)."""
    url = path.resolve().as_uri()
    seen = Visit(None, url, [], [])

    def route(request_route: Any, request: Any) -> None:
        if request.url == url:
            request_route.continue_()
        else:
            seen.outside.append(request.url)
            request_route.abort()

    page = chromium.new_page(viewport=VIEWPORT, device_scale_factor=1)
    try:
        page.on("request", lambda request: seen.requests.append(request.url))
        page.route("**/*", route)
        page.goto(url, wait_until="load")
        page.wait_for_function(
            "[...document.querySelectorAll('.deepvis-explorers')].every("
            "b => b.dataset.ready === 'true' || b.dataset.ready === 'failed')",
            timeout=timeout_ms,
        )
        seen.page = page
        yield seen
    finally:
        page.close()


def payload(page_html: str) -> dict:
    """The explorers' JSON data (`deepvis.cae.explorer.payload`) of a page's HTML."""
    # nbconvert re-serialises HTML outputs: the attributes' order may change.
    match = re.search(r'<script [^>]*class="dv-data"[^>]*>(.*?)</script>', page_html)
    assert match, "no explorer data in the page"
    return json.loads(match.group(1))


def shown_test_images(data: dict, labels: np.ndarray) -> np.ndarray:
    """The test images as `payload`'s data holds them (`deepvis.cae.explorer.quantise`d bytes,
    their sprite in `deepvis.cae.explorer.sprite_order`), in the test set's order: uint8 (N, 28,
    28)."""
    sprite = explorer.png_pixels(data["images"]["png"])
    images = np.empty((len(labels), explorer.SIDE, explorer.SIDE), dtype=np.uint8)
    images[explorer.sprite_order(labels)] = explorer.untile(
        sprite, len(labels), data["images"]["columns"]
    )
    return images


def codes_of(data: dict, key: str) -> np.ndarray:
    """Plane `key`'s float32 (N, 2) codes in `payload`'s data."""
    import base64

    raw = base64.b64decode(data["planes"][key]["codes"])
    return np.frombuffer(raw, dtype="<f4").reshape(-1, 2)


@dataclass
class Plane:
    """Where a plane is on the screen: its canvas's CSS box and its extent in code units."""

    left: float
    top: float
    width: float
    height: float
    box: explorer.Extent
    n: int

    def screen(self, code: np.ndarray) -> tuple[float, float]:
        """The client coordinates of `code` (u, v)."""
        x0, x1, y0, y1 = self.box
        return (
            float(self.left + (code[0] - x0) / (x1 - x0) * self.width),
            float(self.top + (y1 - code[1]) / (y1 - y0) * self.height),
        )

    def pixels(self, codes: np.ndarray) -> np.ndarray:
        """(N, 2) screen coordinates (CSS pixels, relative to the canvas) of (N, 2) codes."""
        x0, x1, y0, y1 = self.box
        return np.stack(
            [
                (codes[:, 0] - x0) / (x1 - x0) * self.width,
                (y1 - codes[:, 1]) / (y1 - y0) * self.height,
            ],
            axis=1,
        )


def container(key: str) -> str:
    return f'[data-deepvis-explorer="{key}"]'


def plane(page: Any, key: str) -> Plane:
    """The on-screen geometry of explorer `key`, scrolled into view."""
    canvas = page.locator(f"{container(key)} canvas.dv-plane")
    canvas.scroll_into_view_if_needed()
    rect = canvas.bounding_box()
    attributes = page.locator(container(key))
    box = tuple(float(v) for v in attributes.get_attribute("data-extent").split())
    n = int(attributes.get_attribute("data-grid"))
    return Plane(rect["x"], rect["y"], rect["width"], rect["height"], box, n)


def isolated(
    at: Plane, codes: np.ndarray, labels: np.ndarray, label: int, room: float = 5.0
) -> int:
    """A point of class `label` with no other point within `room` CSS pixels and at least
    `room` from the plane's edges (so the pointer finds exactly it)."""
    from scipy.spatial import cKDTree

    xy = at.pixels(codes)
    distance, _ = cKDTree(xy).query(xy, k=2)
    inside = (xy > room).all(axis=1) & (xy < [at.width - room, at.height - room]).all(axis=1)
    candidates = np.flatnonzero((distance[:, 1] >= room) & inside & (labels == label))
    assert candidates.size, f"no isolated point of class {label}"
    return int(candidates[0])


def shown(page: Any, key: str, which: str) -> np.ndarray:
    """The grey values of explorer `key`'s ``dv-test`` or ``dv-decoded`` canvas: uint8 (28, 28),
    as displayed (ink dark on white)."""
    rgba = page.evaluate(
        """selector => [...document.querySelector(selector).getContext('2d')
                           .getImageData(0, 0, 28, 28).data]""",
        f"{container(key)} canvas.dv-{which}",
    )
    rgba = np.asarray(rgba, dtype=np.uint8).reshape(28, 28, 4)
    assert (rgba[..., 0] == rgba[..., 1]).all() and (rgba[..., 3] == 255).all()
    return rgba[..., 0]


def assert_shows_test_image(page: Any, key: str, image: np.ndarray) -> None:
    """Explorer `key` shows the test image of bytes `image` (uint8 (28, 28), the dataset's): each
    pixel within the stated quantisation (`deepvis.cae.explorer.MAX_ERROR`) of it, and exactly
    its `deepvis.cae.explorer.quantise` levels."""
    grey = 255 - shown(page, key, "test").astype(int)  # the figures' gray_r: ink dark on white
    assert np.abs(grey - image).max() <= explorer.MAX_ERROR
    assert np.array_equal(grey, explorer.quantise(image))


def plane_pixel(page: Any, key: str, xy: tuple[float, float]) -> tuple[int, int, int]:
    """The RGB of explorer `key`'s plane canvas at CSS pixel `xy` (relative to the canvas)."""
    return tuple(
        page.evaluate(
            """([selector, x, y]) => {
                 const canvas = document.querySelector(selector);
                 const scale = canvas.width / canvas.getBoundingClientRect().width;
                 return [...canvas.getContext('2d')
                   .getImageData(Math.floor(x * scale), Math.floor(y * scale), 1, 1).data]
                   .slice(0, 3);
               }""",
            [f"{container(key)} canvas.dv-plane", float(xy[0]), float(xy[1])],
        )
    )


def text(page: Any, key: str, name: str) -> str:
    """The text of explorer `key`'s element of class ``dv-<name>``."""
    return page.locator(f"{container(key)} .dv-{name}").inner_text()
