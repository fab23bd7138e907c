"""An interactive map of a 2-D code plane for the HTML write-ups (Exercise 1, Step 4).

`html` builds one self-contained block of HTML that holds an explorer per `Plane` (the CAE's
codes and PCA's, side by side): every test image's code drawn as a point coloured by class
(`deepvis.cae.plots.CLASS_COLORS`, as in the static figures), and beside the plane

- the test image under the pointer (or nearest the keyboard cursor), enlarged, with its class
  and its code;
- what the embedding's ``inverse_transform`` (the CAE's decoder, PCA's inverse) makes of the
  place clicked, read from a `GRID` x `GRID` grid of decoded images computed here, with a
  marker where the click landed;
- a legend whose buttons show or hide a class.

Nothing is requested from outside the page: the data sit in a JSON script inside the block,
the script and the style (package files ``assets/explorer.js``, ``assets/explorer.css``) are
inlined, and images travel as base64 PNG. Each decoded grid is a grey sprite, exact, with the
grid's images interleaved pixel by pixel (`interleave`), which PNG's filters compress far
better than tiles side by side, since neighbouring grid images look alike.

The test images are one sprite shared by every plane, shown at `LEVELS` (16) grey levels: each
byte is rounded to the nearest multiple of `STEP` (17), so a shown pixel is within `MAX_ERROR`
(8) of the dataset's byte (`quantise`). Exact bytes would not fit the explorer's budget of 4 MB
(issue #33): the 10,000 test images take 4.07 MB as an 8-bit PNG, 5.43 MB in base64, beside
0.85 MB for the two grids. At 16 levels they are a 4-bit PNG (a decoder reads its sample s as
17 s, the level itself), sorted by class (`sprite_order`), whose similar neighbours compress
better: 2.31 MB in base64, the whole explorer 3.42 MB. Finer levels leave too little margin
(18 levels, at most 7 off: 3.63 MB in all; 32, at most 4 off: 4.20 MB), and lossy WebP or JPEG
of about the images' size are further off (at quality 80, pixels up to 34 and 46 off).

Geometry (`extent`, `grid_codes`, `nearest_grid_point`): the plane spans the codes' range
padded by `PAD` of it on each side; the grid divides it into `GRID` x `GRID` cells, each
decoded at its centre, row 0 at the top (largest dimension 2), column 0 at the left. A click
shows the image of the cell it falls in, which is the nearest grid point.

The page's containers carry ``data-deepvis-explorer`` (the plane's `Plane.key`),
``data-extent`` (``x0 x1 y0 y1``: the plane canvas's left, right, bottom and top edges in
code units) and ``data-grid`` (the grid's size), for the tests and anyone reading the page.
"""

from __future__ import annotations

import base64
import html as html_lib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepvis.cae.latent import Embedding
from deepvis.cae.plots import CLASS_COLORS, EMBEDDING_AXES
from deepvis.data import CLASS_NAMES

#: Package files inlined into the page.
ASSETS = Path(__file__).resolve().parent / "assets"
#: Decoded images per side of the grid over the plane.
GRID = 40
#: The plane's margin around the codes, as a fraction of their range (matplotlib's default).
PAD = 0.05
#: Tiles per row of the test images' sprite.
SPRITE_COLUMNS = 100
#: Side of a Fashion-MNIST image, pixels.
SIDE = 28
#: Grey levels of the test images as the page shows them (a 4-bit PNG holds 16).
LEVELS = 16
#: Between neighbouring levels: 0, 17, ..., 255.
STEP = 255 // (LEVELS - 1)
#: The most a shown test image's pixel differs from the dataset's byte: half a step.
MAX_ERROR = STEP // 2
#: CSS pixels of a plane's canvas (square).
PLANE_PX = 300

Extent = tuple[float, float, float, float]


# --------------------------------------------------------------------------------------------
# Pixels and sprites


def to_bytes(images: np.ndarray) -> np.ndarray:
    """Images (N, 28, 28[, 1]) or rows (N, 784) of floats in [0, 1] (values outside are
    clipped) -> uint8 (N, 28, 28), ``round(255 * value)``: the dataset's own bytes for
    Fashion-MNIST images (stored as byte / 255)."""
    x = np.clip(np.asarray(images, dtype=np.float32).reshape(len(images), SIDE, SIDE), 0, 1)
    return np.round(x * 255).astype(np.uint8)


def quantise(images: np.ndarray) -> np.ndarray:
    """uint8 images (any shape) -> the nearest of the `LEVELS` grey levels, ``STEP * round(value
    / STEP)`` (no ties: `STEP` is odd), uint8 of the same shape; at most `MAX_ERROR` off."""
    values = np.asarray(images, dtype=np.int32)
    return (STEP * ((values + STEP // 2) // STEP)).astype(np.uint8)


def sprite_order(labels: np.ndarray) -> np.ndarray:
    """The test images' order in their sprite: by class, stably (within a class the test set's
    order). Tile ``s`` holds image ``sprite_order(labels)[s]``; the page's script computes each
    image's tile from the labels alone."""
    return np.argsort(np.asarray(labels), kind="stable")


def tile(images: np.ndarray, columns: int = SPRITE_COLUMNS) -> np.ndarray:
    """uint8 (N, 28, 28) -> one uint8 sprite (28 * rows, 28 * columns), rows = ceil(N /
    columns): image k at tile row ``k // columns``, column ``k % columns``; tiles past the last
    image are 0."""
    rows = -(-len(images) // columns)
    tiles = np.zeros((rows * columns, SIDE, SIDE), dtype=np.uint8)
    tiles[: len(images)] = images
    return (
        tiles.reshape(rows, columns, SIDE, SIDE)
        .transpose(0, 2, 1, 3)
        .reshape(rows * SIDE, columns * SIDE)
    )


def untile(sprite: np.ndarray, count: int, columns: int = SPRITE_COLUMNS) -> np.ndarray:
    """The first `count` images of a `tile` sprite: uint8 (count, 28, 28)."""
    rows = sprite.shape[0] // SIDE
    tiles = sprite.reshape(rows, SIDE, columns, SIDE).transpose(0, 2, 1, 3)
    return tiles.reshape(rows * columns, SIDE, SIDE)[:count]


def interleave(grid: np.ndarray) -> np.ndarray:
    """uint8 (n, n, 28, 28) grid images -> uint8 sprite (28 n, 28 n) holding pixel (r, c) of
    image (i, j) at ``(r * n + i, c * n + j)``: each block of n x n sprite pixels is one pixel
    position across the whole grid."""
    n = grid.shape[0]
    return grid.transpose(2, 0, 3, 1).reshape(SIDE * n, SIDE * n)


def deinterleave(sprite: np.ndarray, n: int) -> np.ndarray:
    """The grid images of an `interleave` sprite: uint8 (n, n, 28, 28)."""
    return sprite.reshape(SIDE, n, SIDE, n).transpose(1, 3, 0, 2)


def png_base64(sprite: np.ndarray, bits: int = 8) -> str:
    """A uint8 (H, W) sprite as a base64 greyscale PNG of 8 or 4 `bits` a pixel (no colour
    profile, so a browser's canvas reads back the same bytes). At 4 bits every value must be a
    `quantise` level, a multiple of 17: the file holds value / 17, which decoders scale back."""
    from PIL import Image

    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, not {bits}")
    if bits == 4 and np.any(sprite % 17):
        raise ValueError("a 4-bit sprite holds multiples of 17 only")
    buffer = io.BytesIO()
    Image.fromarray(sprite, mode="L").save(buffer, format="PNG", optimize=True, bits=bits)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def png_pixels(data: str) -> np.ndarray:
    """The uint8 (H, W) sprite of a `png_base64` string."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("L"))


# --------------------------------------------------------------------------------------------
# Geometry of the plane


def extent(codes: np.ndarray, pad: float = PAD) -> Extent:
    """``(x0, x1, y0, y1)``: the range of (N, 2) `codes` along each dimension, widened by `pad`
    of it on each side (by 1 where a dimension is constant)."""
    lo, hi = np.min(codes, axis=0).astype(float), np.max(codes, axis=0).astype(float)
    margin = np.where(hi > lo, (hi - lo) * pad, 1.0)
    x0, x1, y0, y1 = lo[0] - margin[0], hi[0] + margin[0], lo[1] - margin[1], hi[1] + margin[1]
    return float(x0), float(x1), float(y0), float(y1)


def grid_codes(box: Extent, n: int = GRID) -> np.ndarray:
    """The centres of the n x n cells of the plane `box`: float32 (n, n, 2), ``[i, j]`` the
    code of row i (row 0 at the top: the largest dimension 2) and column j (column 0 at the
    left)."""
    x0, x1, y0, y1 = box
    steps = (np.arange(n) + 0.5) / n
    u, v = x0 + steps * (x1 - x0), y1 - steps * (y1 - y0)
    return np.stack(np.meshgrid(u, v), axis=-1).astype(np.float32)


def nearest_grid_point(box: Extent, n: int, code: Sequence[float]) -> tuple[int, int]:
    """``(row, column)`` of the `grid_codes` point nearest `code` (u, v): the cell it falls in,
    codes outside the plane taking the nearest edge cell."""
    x0, x1, y0, y1 = box
    column = int(np.floor((code[0] - x0) / (x1 - x0) * n))
    row = int(np.floor((y1 - code[1]) / (y1 - y0) * n))
    return min(max(row, 0), n - 1), min(max(column, 0), n - 1)


def ticks(lo: float, hi: float) -> list[float]:
    """Round tick values within [lo, hi], about five (matplotlib's ``MaxNLocator``)."""
    from matplotlib.ticker import MaxNLocator

    values = MaxNLocator(nbins=5).tick_values(lo, hi)
    return [float(f"{t:.12g}") for t in values if lo <= t <= hi]  # 0.3, not 0.30000000000000004


# --------------------------------------------------------------------------------------------
# The planes


@dataclass(frozen=True)
class Plane:
    """One explorer's data.

    ``key``: its name in the page (``data-deepvis-explorer``), e.g. ``"cae"``; ``title``: shown
    above it; ``codes``: float32 (N, 2), one row per test image; ``box``: its `extent`;
    ``grid``: uint8 (n, n, 28, 28), the decoded images at the `grid_codes` of ``box``;
    ``axes``: the two axis labels; ``decoder``: what made the grid, as the text names it.
    """

    key: str
    title: str
    codes: np.ndarray
    box: Extent
    grid: np.ndarray
    axes: tuple[str, str]
    decoder: str

    @property
    def n(self) -> int:
        """Grid points per side."""
        return self.grid.shape[0]


def plane(
    key: str,
    title: str,
    codes: np.ndarray,
    embedding: Embedding,
    *,
    axes: Sequence[str] = EMBEDDING_AXES,
    decoder: str = "the decoder",
    n: int = GRID,
) -> Plane:
    """The `Plane` of (N, 2) `codes`, its n x n grid decoded by ``embedding.inverse_transform``
    (outputs clipped to [0, 1], stored as bytes by `to_bytes`)."""
    codes = np.asarray(codes, dtype=np.float32)
    box = extent(codes)
    decoded = embedding.inverse_transform(grid_codes(box, n).reshape(-1, 2))
    grid = to_bytes(decoded).reshape(n, n, SIDE, SIDE)
    return Plane(key, title, codes, box, grid, (axes[0], axes[1]), decoder)


# --------------------------------------------------------------------------------------------
# The page


def _number(value: float) -> str:
    """A code value as the page writes it: two decimals, a true minus sign."""
    return f"{value:.2f}".replace("-", "\u2212")


def _tick_label(value: float) -> str:
    return f"{value:g}".replace("-", "\u2212")


def description(p: Plane, labels: np.ndarray) -> str:
    """The plane's text alternative: what it shows, its ranges and each class's median code."""
    x0, x1, y0, y1 = p.box
    medians = "; ".join(
        f"{CLASS_NAMES[k]} ({', '.join(_number(v) for v in np.median(p.codes[labels == k], 0))})"
        for k in range(len(CLASS_NAMES))
        if np.any(labels == k)
    )
    return (
        f"A scatter plot of the codes of {len(p.codes):,} test images, one point per image "
        f"coloured by its class; {p.axes[0]} runs from {_number(x0)} to {_number(x1)} "
        f"(left to right), {p.axes[1]} from {_number(y0)} to {_number(y1)} (bottom to top). "
        f"The median code of each class: {medians}. Hover over a point, or focus the plane and "
        "move its cursor with the arrow keys (Shift for larger steps), to see its test image "
        f"(shown at {LEVELS} grey levels: each pixel within {MAX_ERROR}/255 of the original); "
        f"click, or press Enter, to see what {p.decoder} makes of that place (the nearest of "
        f"{p.n} × {p.n} grid points). The buttons show or hide a class."
    )


def _axis(values: Sequence[float], lo: float, hi: float, vertical: bool) -> str:
    """Tick labels placed along an axis by percentages of the plane's size."""
    spans = []
    for value in values:
        share = (hi - value) / (hi - lo) if vertical else (value - lo) / (hi - lo)
        side = "top" if vertical else "left"
        spans.append(f'<span style="{side}:{100 * share:.2f}%">{_tick_label(value)}</span>')
    return "".join(spans)


def _container(p: Plane, labels: np.ndarray) -> str:
    """One explorer's HTML (the script fills in the canvases and readouts)."""
    x0, x1, y0, y1 = p.box
    ident = f"deepvis-explorer-{p.key}"
    esc = html_lib.escape
    legend = "".join(
        f'<button type="button" class="dv-class" data-class="{k}" aria-pressed="true">'
        f'<span class="dv-swatch" style="background:{color}"></span>{esc(name)}</button>'
        for k, (name, color) in enumerate(zip(CLASS_NAMES, CLASS_COLORS, strict=True))
    )
    return f"""<div class="dv-explorer" data-deepvis-explorer="{esc(p.key)}" \
data-extent="{x0!r} {x1!r} {y0!r} {y1!r}" data-grid="{p.n}" role="group" \
aria-labelledby="{ident}-title">
<p class="dv-title" id="{ident}-title">{esc(p.title)}</p>
<div class="dv-body">
<div class="dv-plot">
<span class="dv-ylabel">{esc(p.axes[1])} ↑</span>
<div class="dv-yticks" aria-hidden="true">{_axis(ticks(y0, y1), y0, y1, True)}</div>
<canvas class="dv-plane" width="{PLANE_PX}" height="{PLANE_PX}" tabindex="0" \
role="application" aria-roledescription="scatter plot" aria-label="{esc(p.title)}: code plane" \
aria-describedby="{ident}-description"></canvas>
<div class="dv-xticks" aria-hidden="true">{_axis(ticks(x0, x1), x0, x1, False)}</div>
<span class="dv-xlabel">{esc(p.axes[0])} →</span>
</div>
<div class="dv-side" aria-live="polite">
<p class="dv-caption">Test image, {LEVELS} grey levels</p>
<canvas class="dv-test" width="{SIDE}" height="{SIDE}" role="img" \
aria-label="no test image chosen yet"></canvas>
<p class="dv-readout"><span class="dv-test-class">point at a dot</span><br>\
<span class="dv-test-code"></span><br><span class="dv-test-index"></span></p>
<p class="dv-caption">{esc(p.decoder[0].upper() + p.decoder[1:])} at the click</p>
<canvas class="dv-decoded" width="{SIDE}" height="{SIDE}" role="img" \
aria-label="nothing decoded yet"></canvas>
<p class="dv-readout"><span class="dv-decoded-code">click the plane</span><br>\
<span class="dv-decoded-click"></span></p>
</div>
</div>
<div class="dv-legend" role="group" aria-label="Classes: show or hide">{legend}</div>
<details class="dv-more"><summary>Text description</summary>
<p id="{ident}-description">{esc(description(p, labels))}</p></details>
</div>"""


def _base64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def payload(images: np.ndarray, labels: np.ndarray, planes: Sequence[Plane]) -> dict:
    """The data the script reads (JSON): class names and colours, the (N,) uint8 labels and
    the test images' 4-bit `tile` sprite (base64; `quantise`d, in `sprite_order`), and per
    plane its float32 little-endian codes, its `interleave` grid sprite and its tick values."""
    shown = quantise(to_bytes(images))[sprite_order(labels)]
    return {
        "classes": list(CLASS_NAMES),
        "colors": list(CLASS_COLORS),
        "labels": _base64(np.asarray(labels, dtype=np.uint8)),
        "images": {"columns": SPRITE_COLUMNS, "png": png_base64(tile(shown), bits=4)},
        "planes": {
            p.key: {
                "codes": _base64(p.codes.astype("<f4")),
                "grid": png_base64(interleave(p.grid)),
                "ticks": [ticks(p.box[0], p.box[1]), ticks(p.box[2], p.box[3])],
            }
            for p in planes
        },
    }


def html(images: np.ndarray, labels: np.ndarray, planes: Sequence[Plane]) -> str:
    """The explorers of `planes` side by side, as one self-contained block of HTML.

    `images`: the test images (N, 28, 28[, 1]) in [0, 1], in the order of every plane's codes;
    `labels`: their (N,) int classes.
    """
    labels = np.asarray(labels)
    if any(len(p.codes) != len(images) for p in planes) or len(labels) != len(images):
        raise ValueError("every plane needs one code per image, and every image a label")
    if len({p.key for p in planes}) != len(planes):
        raise ValueError("the planes' keys must differ")
    # "<" never occurs in the data; escaped anyway, so that no "</script>" can end the block.
    data = json.dumps(payload(images, labels, planes), separators=(",", ":")).replace(
        "<", "\\u003c"
    )
    style = (ASSETS / "explorer.css").read_text(encoding="utf-8")
    script = (ASSETS / "explorer.js").read_text(encoding="utf-8")
    containers = "\n".join(_container(p, labels) for p in planes)
    return (
        f'<div class="deepvis-explorers">\n<style>\n{style}</style>\n{containers}\n'
        f'<script type="application/json" class="dv-data">{data}</script>\n'
        f"<script>\n{script}</script>\n</div>"
    )


def show(images: np.ndarray, labels: np.ndarray, planes: Sequence[Plane]) -> None:
    """Display `html` in the notebook (an HTML output, which the write-ups render as is)."""
    from IPython.display import HTML, display

    display(HTML(html(images, labels, planes)))
