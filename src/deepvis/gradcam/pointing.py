"""Ground truth for localisation: composites of photographs, the pointing game, the mass share.

The maps of one photograph cannot show whether a map finds *its class's* evidence: nothing
marks where that evidence is. A composite can. Two photographs side by side (or four in a 2x2
grid, `composite`), each letterboxed into its own cell with its aspect ratio kept, make one
input of the network; the map of each part's own class, the class the network gives that
photograph alone, should then lie in that part's cell. Per composite, part and CAM method:

* the **pointing game** (Zhang et al. 2018): credit 1 when the map's maximum lies in the part's
  cell, 0 when not (`peak_credit`; a maximum reached at several pixels shares the credit);
* the **mass share**: the fraction of the map's sum inside the cell (`mass_share`);

both on the maps upsampled bilinearly to the network's input, as the evaluation upsamples them
(`deepvis.gradcam.evaluation.upsample`). The baseline is random maps, uniform noise on the
layer's grid upsampled the same way (`random_scores`): their pointing rate tends to the cell's
share of the area. Intervals are percentile bootstraps that resample the *photographs*, not
the composites: every composite reuses two of a handful of photographs, so its pairs are not
independent draws. A resample draws the distinct photographs with replacement and weights each
composite by the product of its parts' counts (`photo_weights`, the two-way "pigeonhole"
bootstrap of Owen 2007 for data crossed by shared units; `bootstrap_means`).

Which photographs: the candidates of `PHOTOS` (the five stand-ins of
`deepvis.gradcam.testimages` and every other photograph that an installed package ships under
a stated licence; `EXCLUDED` says why the packages' other images are not candidates) that the
network classifies at `MIN_PROBABILITY` or more on its own, letterboxed into its whole input
(`qualify`). Every two qualifying photographs of different classes make two composites, one per
order (`side_by_side`). The rule looks at the photographs alone, never at a map.

Notebook 07 caches `layer_maps` and `score_layers` through
`deepvis.gradcam.experiment.Experiment.remember`, keyed with `code_key` (the cache keys the
source of `deepvis.gradcam.cache.CODE_MODULES`, which leave this module out). `summary`,
`difference`, `cite` and the other small reductions give the numbers and phrases its prose
cites; `table_frame` its table, `record` its entry of ``report/metrics.json`` and
`composites_figure` its figure.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from deepvis.gradcam.evaluation import random_maps, upsample
from deepvis.gradcam.images import overlay
from deepvis.gradcam.methods import METHODS
from deepvis.gradcam.testimages import SOURCES

#: The letterbox bars and empty cells: mid grey (uint8), zero after EfficientNet-Lite0's
#: preprocessing ((x - 127) / 128).
FILL = 127
#: A photograph qualifies when the network's top-1 probability for it alone is at least this.
MIN_PROBABILITY = 0.30
#: Bootstrap resamples (of the photographs, `bootstrap_means`), and the intervals' coverage.
BOOTSTRAP_DRAWS = 10_000
LEVEL = 0.95
#: Random maps per pair in the baseline (their scores are averaged).
RANDOM_DRAWS = 100
#: The baseline's name in the tables.
RANDOM = "Random map"
#: Pixels within this fraction of a map's maximum count as the maximum (float rounding).
TIE = 1e-6
#: The columns of `summary`.
SUMMARY_COLUMNS = [
    "layer",
    "method",
    "pairs",
    "hits",
    *(f"{s}{end}" for s in ("pointing", "mass") for end in ("", "_low", "_high")),
    *(f"{s}_lead{end}" for s in ("pointing", "mass") for end in ("", "_low", "_high")),
    "chance",
    "zero",
]


def code_key(obj: Any = None) -> str:
    """SHA-256 of the source of `obj` (default: this module), for cache keys: the result
    cache keys only `deepvis.gradcam.cache.CODE_MODULES`' source, which leaves this module
    out."""
    source = inspect.getsource(obj if obj is not None else sys.modules[__name__])
    return hashlib.sha256(source.encode()).hexdigest()


# --------------------------------------------------------------------------- the photographs


@dataclass(frozen=True)
class Photo:
    """A candidate photograph: where it comes from, its licence, and how to load it
    (``load()`` -> an image array as the package gives it, any of `rgb`'s layouts)."""

    origin: str
    licence: str
    load: Callable[[], np.ndarray]


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _sklearn(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(name)

    return load


def _stand_in(file: str) -> Photo:
    source = SOURCES[file]
    return Photo(source.origin, source.licence, source.load)


#: The candidates, by short name: the five test images of `deepvis.gradcam.testimages` first,
#: then the other photographs shipped (on disk, nothing downloaded) by scikit-image and
#: scikit-learn with a licence stated in their documentation.
PHOTOS: dict[str, Photo] = {
    "cat": _stand_in("cat.jpg"),
    "espresso": _stand_in("espresso.jpg"),
    "astronaut": _stand_in("astronaut.jpg"),
    "rocket": _stand_in("rocket.jpg"),
    "grace_hopper": _stand_in("grace_hopper.jpg"),
    "camera": Photo(
        "scikit-image `skimage.data.camera()`: a photographer at a camera on a tripod, "
        "photo by Lav Varshney",
        "CC0",
        _skimage("camera"),
    ),
    "clock": Photo(
        "scikit-image `skimage.data.clock()`: a wall clock, motion-blurred, "
        "photo by Stefan van der Walt",
        "public domain",
        _skimage("clock"),
    ),
    "coins": Photo(
        "scikit-image `skimage.data.coins()`: Greek coins from Pompeii, Brooklyn Museum",
        "no known copyright restrictions",
        _skimage("coins"),
    ),
    "hubble": Photo(
        "scikit-image `skimage.data.hubble_deep_field()`: the Hubble eXtreme Deep Field, NASA",
        "public domain (NASA)",
        _skimage("hubble_deep_field"),
    ),
    "ihc": Photo(
        "scikit-image `skimage.data.immunohistochemistry()`: stained colonic glands, CMMI",
        "no known copyright restrictions",
        _skimage("immunohistochemistry"),
    ),
    "retina": Photo(
        "scikit-image `skimage.data.retina()`: a fundus photograph, by Mikael Häggström",
        "CC0",
        _skimage("retina"),
    ),
    "microaneurysms": Photo(
        "scikit-image `skimage.data.microaneurysms()`: a crop of a fundus photograph (HRF "
        "database), by Andreas Maier",
        "CC0",
        _skimage("microaneurysms"),
    ),
    "text": Photo(
        "scikit-image `skimage.data.text()`: handwritten mathematics on paper, from Wikipedia",
        "public domain",
        _skimage("text"),
    ),
    "brick": Photo(
        "scikit-image `skimage.data.brick()`: a brick wall, CC0Textures",
        "CC0",
        _skimage("brick"),
    ),
    "grass": Photo(
        "scikit-image `skimage.data.grass()`: grass, from DeviantArt (linolafett)",
        "CC0",
        _skimage("grass"),
    ),
    "gravel": Photo(
        "scikit-image `skimage.data.gravel()`: gravel, CC0Textures",
        "CC0",
        _skimage("gravel"),
    ),
    "china": Photo(
        "scikit-learn `load_sample_image('china.jpg')`: a temple in China, by danielbuechele "
        "(Flickr)",
        "CC BY 2.0",
        _sklearn("china.jpg"),
    ),
    "flower": Photo(
        "scikit-learn `load_sample_image('flower.jpg')`: a flower, by vultilion (Flickr)",
        "CC BY 2.0",
        _sklearn("flower.jpg"),
    ),
}

#: The installed packages' other images, and why each is not a candidate.
EXCLUDED: dict[str, str] = {
    "skimage moon, page, stereo_motorcycle, lfw_subset": "no licence stated",
    "skimage cell": "a phase image computed from a hologram, not a photograph",
    "skimage horse, logo, colorwheel, checkerboard, shepp_logan_phantom, binary_blobs; "
    "matplotlib logo2.png, Minduka_Present_Blue_Pack.png": "not photographs",
    "skimage eagle, lily, skin, brain, cells3d, kidney and the other fetched data": (
        "not shipped: downloaded on first use"
    ),
    "skimage chelsea/cat, coffee, astronaut, rocket; matplotlib grace_hopper.jpg": (
        "already candidates, as the test images"
    ),
}


def rgb(image: np.ndarray) -> np.ndarray:
    """Any package image -> (H, W, 3) uint8 RGB: grey (H, W) repeated, bool to 0/255, an
    alpha channel dropped."""
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3], dtype=np.uint8)


def candidates(photos: Mapping[str, Photo] | None = None) -> dict[str, np.ndarray]:
    """The candidate photographs (default `PHOTOS`), loaded: name -> (H, W, 3) uint8 RGB."""
    return {name: rgb(photo.load()) for name, photo in (photos or PHOTOS).items()}


# --------------------------------------------------------------------------- composites


def letterbox(
    image: np.ndarray, height: int, width: int, fill: int = FILL
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """`image` (h, w, 3) uint8 scaled to fit (height, width) with its aspect ratio kept
    (PIL bilinear, as ``ImageNetModel.prepare``), centred on a `fill` canvas.

    Returns the canvas (height, width, 3) uint8 and where the photograph lies in it,
    ``(top, left, bottom, right)`` in pixels (bottom and right exclusive).
    """
    h, w = image.shape[:2]
    scale = min(height / h, width / w)
    new_h = min(height, max(1, round(h * scale)))
    new_w = min(width, max(1, round(w * scale)))
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BILINEAR))
    canvas = np.full((height, width, 3), fill, dtype=np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas, (top, left, top + new_h, left + new_w)


def grid_cells(rows: int, cols: int, size: int) -> np.ndarray:
    """The cells of a rows x cols grid on a size x size canvas: (rows * cols, 4) int64
    ``(top, left, bottom, right)`` in pixels, row by row (cell boundaries rounded down)."""
    ys = np.arange(rows + 1) * size // rows
    xs = np.arange(cols + 1) * size // cols
    return np.array(
        [(ys[r], xs[c], ys[r + 1], xs[c + 1]) for r in range(rows) for c in range(cols)],
        dtype=np.int64,
    )


def composite(
    parts: Sequence[np.ndarray], rows: int, cols: int, size: int, fill: int = FILL
) -> tuple[np.ndarray, np.ndarray]:
    """`parts` (each (h_i, w_i, 3) uint8) letterboxed into the cells of a rows x cols grid,
    row by row: the canvas (size, size, 3) uint8 and the parts' cells (len(parts), 4) int64
    (`grid_cells`). Cells without a part stay `fill`. (1, 2) puts two side by side; (2, 2)
    makes a 2x2 grid."""
    cells = grid_cells(rows, cols, size)
    if len(parts) > len(cells):
        raise ValueError(f"{len(parts)} parts do not fit a {rows}x{cols} grid")
    canvas = np.full((size, size, 3), fill, dtype=np.uint8)
    for part, (top, left, bottom, right) in zip(parts, cells, strict=False):
        canvas[top:bottom, left:right] = letterbox(part, bottom - top, right - left, fill)[0]
    return canvas, cells[: len(parts)]


# --------------------------------------------------------------------------- the rule


def qualify(
    net: Any, photos: Mapping[str, np.ndarray], threshold: float = MIN_PROBABILITY
) -> pd.DataFrame:
    """Each photograph alone, letterboxed into the network's input, classified.

    ``net`` a `deepvis.gradcam.imagenet.ImageNetModel`; `photos` name -> (H, W, 3) uint8.
    Returns one row per photograph (index: its name, in order): ``class`` (int, the top-1
    ImageNet index), ``label`` (its name), ``probability`` (float, softmax) and ``qualifies``
    (probability >= `threshold`).
    """
    import tensorflow as tf

    from deepvis.gradcam.imagenet.classes import class_names

    size = net.input_size
    boxed = np.stack([letterbox(im, size, size)[0] for im in photos.values()])
    probs = tf.nn.softmax(net.model(net.preprocess(boxed), training=False)).numpy()
    top = probs.argmax(axis=1)
    names = class_names()
    return pd.DataFrame(
        {
            "class": top.astype(np.int64),
            "label": [names[c][1] for c in top],
            "probability": probs[np.arange(len(top)), top].astype(np.float64),
            "qualifies": probs[np.arange(len(top)), top] >= threshold,
        },
        index=pd.Index(list(photos), name="photo"),
    )


def side_by_side(alone: pd.DataFrame) -> list[tuple[str, str]]:
    """The composites' parts: every ordered pair (left, right) of qualifying photographs of
    `alone` (`qualify`) whose classes differ, in the table's order."""
    chosen = alone[alone["qualifies"]]
    return [
        (a, b)
        for a in chosen.index
        for b in chosen.index
        if a != b and chosen.at[a, "class"] != chosen.at[b, "class"]
    ]


@dataclass(frozen=True)
class Composites:
    """N composites of k parts each: ``parts`` (N, k) photograph names; ``images``
    (N, S, S, 3) uint8; ``cells`` (N, k, 4) int64 ``(top, left, bottom, right)`` in pixels;
    ``classes`` (N, k) int64, each part's own class (its class alone)."""

    parts: np.ndarray
    images: np.ndarray
    cells: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.parts)

    @property
    def size(self) -> int:
        """S, the side of the composites in pixels."""
        return int(self.images.shape[1])


def composites(photos: Mapping[str, np.ndarray], alone: pd.DataFrame, size: int) -> Composites:
    """The side-by-side composites (`side_by_side`) of `photos` at size x size pixels."""
    pairs = side_by_side(alone)
    built = [composite([photos[a], photos[b]], 1, 2, size) for a, b in pairs]
    return Composites(
        parts=np.array(pairs, dtype=object).reshape(len(pairs), 2),
        images=np.array([image for image, _ in built], dtype=np.uint8).reshape(-1, size, size, 3),
        cells=np.array([cells for _, cells in built], dtype=np.int64).reshape(-1, 2, 4),
        classes=np.array(
            [[alone.at[a, "class"], alone.at[b, "class"]] for a, b in pairs], dtype=np.int64
        ).reshape(-1, 2),
    )


# --------------------------------------------------------------------------- maps


@dataclass(frozen=True)
class LayerMaps:
    """The maps of every part's own class at one layer: ``maps`` method -> (N, k, h, w)
    float32 in [0, 1] on the layer's grid; ``zero`` method -> (N, k) bool (all-zero maps);
    ``ranks`` (N, k) int64, the rank of each part's class among the composite's logits (1:
    its top class)."""

    layer: str
    maps: dict[str, np.ndarray]
    zero: dict[str, np.ndarray]
    ranks: np.ndarray


def layer_maps(
    net: Any, layer: str, comps: Composites, methods: Sequence[str], batch: int = 8
) -> LayerMaps:
    """Every method's map of each part's own class in `comps`, at `layer` of ``net.model``
    (`deepvis.gradcam.core.GradCAM.compute_all`, `batch` composites per call)."""
    from deepvis.gradcam.core import GradCAM

    cam = GradCAM(net.model, layer)
    x = net.preprocess(comps.images)
    runs = [
        cam.compute_all(x[i : i + batch], methods, classes=comps.classes[i : i + batch])
        for i in range(0, len(comps), batch)
    ]
    logits = np.concatenate([next(iter(r.values())).logits for r in runs])
    own = np.take_along_axis(logits, comps.classes, axis=1)
    return LayerMaps(
        layer=layer,
        maps={m: np.concatenate([r[m].maps for r in runs]) for m in methods},
        zero={m: np.concatenate([r[m].zero for r in runs]) for m in methods},
        ranks=1 + (logits[:, None, :] > own[..., None]).sum(axis=2).astype(np.int64),
    )


# --------------------------------------------------------------------------- scores


def cell_masks(cells: np.ndarray, size: int) -> np.ndarray:
    """Cells (..., 4) ``(top, left, bottom, right)`` -> masks (..., size, size) bool."""
    rows = np.arange(size)[:, None]
    cols = np.arange(size)[None, :]
    top, left, bottom, right = (cells[..., i, None, None] for i in range(4))
    return (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)


def peak_credit(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The pointing game: (..., H, W) maps and bool masks -> (...) float64 in [0, 1], the
    fraction of the map's maximal pixels (within `TIE` of the maximum) inside the mask.

    Usually 1 (a hit) or 0 (a miss); a maximum on a plateau across the mask's edge shares the
    credit, and an all-zero map, maximal everywhere, scores the mask's share of the area.
    """
    peak = maps.max(axis=(-2, -1), keepdims=True)
    top = maps >= peak - TIE * np.abs(peak)
    return (top & masks).sum(axis=(-2, -1)) / top.sum(axis=(-2, -1))


def mass_share(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(..., H, W) maps (>= 0) and bool masks -> (...) float64: the fraction of each map's sum
    inside the mask; an all-zero map scores the mask's share of the area (it favours no
    place)."""
    total = np.sum(maps, axis=(-2, -1), dtype=np.float64)
    inside = np.sum(np.where(masks, maps, 0), axis=(-2, -1), dtype=np.float64)
    area = masks.mean(axis=(-2, -1))
    return np.where(total > 0, inside / np.where(total > 0, total, 1.0), area)


def scores(grid_maps: np.ndarray, cells: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Maps on a layer's grid (N, k, h, w) upsampled to size x size (`upsample`, as the
    evaluation does) and scored against `cells` (N, k, 4): (pointing credit, mass share),
    each (N, k) float64."""
    up = upsample(grid_maps, size)
    masks = cell_masks(cells, size)
    return peak_credit(up, masks), mass_share(up, masks)


def random_scores(
    shape: tuple[int, int, int, int],
    cells: np.ndarray,
    size: int,
    draws: int = RANDOM_DRAWS,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The baseline: `draws` random grid maps of `shape` (N, k, h, w) (uniform noise,
    `deepvis.gradcam.evaluation.random_maps` with seeds ``seed``, ``seed + 1``, ...) scored as
    `scores` scores the real maps; the mean (pointing credit, mass share) over the draws, each
    (N, k) float64."""
    hits = np.zeros(shape[:2])
    mass = np.zeros(shape[:2])
    for d in range(draws):
        h, m = scores(random_maps(shape, seed + d), cells, size)
        hits += h / draws
        mass += m / draws
    return hits, mass


def score_layers(
    maps: Mapping[str, LayerMaps], comps: Composites, draws: int = RANDOM_DRAWS, seed: int = 0
) -> pd.DataFrame:
    """Every pair scored at every layer: one row per layer, method (then `RANDOM`),
    composite and part, with ``photo``, ``class``, ``share`` (the cell's share of the area),
    ``rank`` (of the class in the composite), ``hit`` and ``mass`` (`scores`,
    `random_scores`) and ``zero`` (an all-zero map)."""
    area = cell_masks(comps.cells, comps.size).mean(axis=(-2, -1))
    n, k = comps.parts.shape
    frames = []
    for layer, found in maps.items():
        shape = next(iter(found.maps.values())).shape
        scored = {m: scores(grid, comps.cells, comps.size) for m, grid in found.maps.items()}
        scored[RANDOM] = random_scores(shape, comps.cells, comps.size, draws, seed)
        zero = found.zero | {RANDOM: np.zeros((n, k), dtype=bool)}
        for method, (hit, mass) in scored.items():
            frames.append(
                pd.DataFrame(
                    {
                        "layer": layer,
                        "method": method,
                        "composite": np.repeat(np.arange(n), k),
                        "part": np.tile(np.arange(k), n),
                        "photo": comps.parts.ravel(),
                        "class": comps.classes.ravel(),
                        "share": area.ravel(),
                        "rank": found.ranks.ravel(),
                        "hit": hit.ravel(),
                        "mass": mass.ravel(),
                        "zero": zero[method].ravel(),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# --------------------------------------------------------------------------- intervals


def photo_weights(parts: np.ndarray, draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> np.ndarray:
    """Resamples of the photographs behind N composites: ``parts`` (N, k) photograph names ->
    (draws, N) float64 weights. Each resample draws the P distinct photographs P times with
    replacement; a composite weighs the product of its k parts' counts (0 when any part was
    not drawn). The same `seed` and ``parts`` give the same resamples."""
    names, index = np.unique(np.asarray(parts).astype(str), return_inverse=True)
    index = index.reshape(np.shape(parts))
    counts = np.random.default_rng(seed).multinomial(
        len(names), np.full(len(names), 1 / len(names)), size=draws
    )
    return counts[:, index].prod(axis=2).astype(np.float64)


def bootstrap_means(
    values: np.ndarray,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = 0,
    parts: np.ndarray | None = None,
) -> np.ndarray:
    """Means of `values` (N, k), one row per composite (or image), over `draws` resamples:
    (draws,) float64. Without ``parts`` the N rows are resampled with replacement; with
    ``parts`` (N, k) photograph names the photographs are (`photo_weights`), and a resample
    that keeps no whole composite gives NaN. The same `seed` and N (and ``parts``) resample
    alike, so the means of two scores' difference pair them."""
    per = np.asarray(values, np.float64).reshape(len(values), -1).mean(axis=1)
    if parts is None:
        chosen = np.random.default_rng(seed).integers(0, len(per), size=(draws, len(per)))
        return per[chosen].mean(axis=1)
    weights = photo_weights(parts, draws, seed)
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, weights @ per / total, np.nan)


def interval(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central `level` percentile interval of bootstrap `samples` (NaNs left out): (low,
    high)."""
    low, high = np.nanquantile(samples, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def _matrix(rows: pd.DataFrame, column: str) -> np.ndarray:
    """One layer and method's `column` as (N composites, k parts)."""
    return rows.pivot(index="composite", columns="part", values=column).to_numpy(np.float64)


def _photos(rows: pd.DataFrame) -> np.ndarray | None:
    """One layer and method's photographs as (N composites, k parts), in `_matrix`'s order;
    None when the rows do not name them (the bootstrap then resamples composites)."""
    if "photo" not in rows:
        return None
    return rows.pivot(index="composite", columns="part", values="photo").to_numpy(object)


def summary(pairs: pd.DataFrame, draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> pd.DataFrame:
    """Per layer and method (`RANDOM` last): ``pairs``, ``hits`` (sum of pointing credit),
    ``pointing`` and ``mass`` (means over pairs), their `LEVEL` intervals (``*_low``,
    ``*_high``), ``chance`` (the cells' mean share of the area), ``zero`` (all-zero maps),
    and the lead over the random maps of the same pairs with its interval
    (``*_lead``, ``*_lead_low``, ``*_lead_high``; same resamples). Bootstraps resample the
    photographs (`bootstrap_means`). Empty `pairs` give an empty table."""
    rows = []
    if pairs.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    for (layer, method), group in pairs.groupby(["layer", "method"], sort=False):
        chance = pairs[(pairs.layer == layer) & (pairs.method == RANDOM)]
        row: dict[str, Any] = {"layer": layer, "method": method, "pairs": len(group)}
        row["hits"] = float(group["hit"].sum())
        for score in ("hit", "mass"):
            name = "pointing" if score == "hit" else "mass"
            values, base, photos = _matrix(group, score), _matrix(chance, score), _photos(group)
            row[name] = float(values.mean())
            means = bootstrap_means(values, draws, seed, photos)
            row[f"{name}_low"], row[f"{name}_high"] = interval(means)
            row[f"{name}_lead"] = float((values - base).mean())
            lead = bootstrap_means(values - base, draws, seed, photos)
            row[f"{name}_lead_low"], row[f"{name}_lead_high"] = interval(lead)
        row["chance"] = float(group["share"].mean())
        row["zero"] = int(group["zero"].sum())
        rows.append(row)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def difference(
    pairs: pd.DataFrame,
    first: tuple[str, str],
    second: tuple[str, str],
    score: str = "hit",
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = 0,
) -> tuple[float, float, float]:
    """The mean of ``score`` (``"hit"`` or ``"mass"``) for (layer, method) `first` minus
    `second` over the same pairs, and its `LEVEL` interval (photographs resampled): (mean,
    low, high); NaNs when either was not scored or they are the same."""

    def pick(layer: str, method: str) -> pd.DataFrame:
        return pairs[(pairs.layer == layer) & (pairs.method == method)] if len(pairs) else pairs

    a, b = pick(*first), pick(*second)
    if a.empty or b.empty or first == second:
        return (np.nan, np.nan, np.nan)
    diff = _matrix(a, score) - _matrix(b, score)
    return (float(diff.mean()), *interval(bootstrap_means(diff, draws, seed, _photos(a))))


def compared(
    low: float, high: float, more: str, less: str, same: str, missing: str = "not compared"
) -> str:
    """The phrase an interval of a difference carries: `more` when it lies above 0, `less`
    below, `same` when it holds 0, `missing` when it is NaN (nothing to compare)."""
    if np.isnan(low) or np.isnan(high):
        return missing
    return more if low > 0 else less if high < 0 else same


def beating(
    table: pd.DataFrame, layer: str, score: str = "pointing", behind: bool = False
) -> list[str]:
    """The titles of the methods at `layer` whose lead over the random maps in `score`
    (``"pointing"`` or ``"mass"``) has an interval above 0 (`behind`: below 0)."""
    rows = table[(table.layer == layer) & (table.method != RANDOM)]
    if behind:
        return [METHODS[m].title for m in rows.method[rows[f"{score}_lead_high"] < 0]]
    return [METHODS[m].title for m in rows.method[rows[f"{score}_lead_low"] > 0]]


# --------------------------------------------------------------------------- the write-up


def cite(table: pd.DataFrame, layer: str, method: str, score: str = "pointing") -> str:
    """``"0.69 [0.61, 0.77]"``: the `summary` mean of `score` (``"pointing"``, ``"mass"``,
    ``"pointing_lead"`` or ``"mass_lead"``) and its interval at `layer` for `method`
    (`RANDOM` for the baseline); ``"—"`` when it was not scored."""
    row = table[(table.layer == layer) & (table.method == method)]
    if row.empty:
        return "—"
    mean, low, high = (float(row[f"{score}{end}"].iloc[0]) for end in ("", "_low", "_high"))
    return f"{mean:.2f} [{low:.2f}, {high:.2f}]"


def hits(table: pd.DataFrame, layer: str, method: str) -> str:
    """``"58 of 84"``: the pointing game's hits and pairs of `summary` at `layer` for
    `method`; ``"—"`` when it was not scored."""
    row = table[(table.layer == layer) & (table.method == method)]
    return "—" if row.empty else f"{row.hits.iloc[0]:g} of {row.pairs.iloc[0]}"


def labelled(alone: pd.DataFrame, qualifying: bool = True) -> list[str]:
    """``"cat (Egyptian_cat, 78.5%)"`` for each photograph of `qualify`'s table that qualifies
    (`qualifying`) or not: its name, its class alone and that class's probability."""
    rows = alone[alone["qualifies"] == qualifying]
    return [f"{name} ({row.label}, {row.probability:.1%})" for name, row in rows.iterrows()]


def signed(found: tuple[float, float, float]) -> str:
    """``"+0.30 [+0.21, +0.39]"``: a `difference` and its interval; ``"—"`` for NaNs."""
    if np.isnan(found).any():
        return "—"
    return "{:+.2f} [{:+.2f}, {:+.2f}]".format(*found)


def coinciding(found: LayerMaps | None, methods: Sequence[str], tol: float = 1e-4) -> list[str]:
    """The titles of those of `methods` whose maps at one layer equal the first's to within
    `tol` (maps in [0, 1]), the first included; ``[]`` when fewer than two do (or no maps)."""
    if found is None or methods[0] not in found.maps:
        return []
    first = found.maps[methods[0]]
    same = [
        m
        for m in methods
        if m in found.maps and np.abs(found.maps[m] - first).max(initial=0.0) <= tol
    ]
    return [METHODS[m].title for m in same] if len(same) > 1 else []


def edge_note(found: LayerMaps | None, size: int) -> str:
    """Where the edge between two side-by-side halves of a size x size input falls on the
    layer's grid, as a clause: between two grid columns, or across the middle one."""
    if found is None:
        return "no grid was scored"
    h, w = next(iter(found.maps.values())).shape[2:]
    where = (
        f"the edge between the halves runs through the middle of grid column {w // 2 + 1}, "
        "so a maximum there falls on the side of its larger neighbour"
        if (w * (size // 2)) % size
        else "the edge between the halves falls between two grid columns"
    )
    return f"the grid is {h}×{w} ({size // w} pixels a cell) and {where}"


def seen(pairs: pd.DataFrame, top: int = 1) -> int:
    """How many class-part pairs of `score_layers` have their class among the composite's
    `top` classes (the network still finds it there)."""
    if pairs.empty:
        return 0
    first = pairs[(pairs.layer == pairs.layer.iloc[0]) & (pairs.method == pairs.method.iloc[0])]
    return int((first["rank"] <= top).sum())


def table_frame(table: pd.DataFrame) -> pd.DataFrame:
    """`summary` as the write-up's table: index the layer; columns ``map`` (the method's
    title), ``hits`` ("61/84"), ``pointing`` and ``mass`` ("0.73 [0.62, 0.83]")."""

    def ci(row: pd.Series, name: str) -> str:
        return f"{row[name]:.2f} [{row[name + '_low']:.2f}, {row[name + '_high']:.2f}]"

    return pd.DataFrame(
        {
            "map": [METHODS[m].title if m in METHODS else m for m in table.method],
            "hits": [
                f"{h:g}/{p}" if m != RANDOM else f"{h:.1f}/{p}"
                for h, p, m in zip(table.hits, table.pairs, table.method, strict=True)
            ],
            "pointing": [ci(row, "pointing") for _, row in table.iterrows()],
            "mass": [ci(row, "mass") for _, row in table.iterrows()],
        },
        index=pd.Index(list(table.layer), name="layer"),
    )


def record(table: pd.DataFrame, comps: Composites) -> dict[str, Any]:
    """What ``report/metrics.json`` keeps under ``gradcam.pointing``: the composites, and per
    layer and method the pairs, hits, mean pointing and mass with their intervals and their
    leads over the random maps (`summary`); the random maps under ``random``."""
    keep = [
        "pairs",
        "hits",
        "pointing",
        "pointing_low",
        "pointing_high",
        "pointing_lead",
        "pointing_lead_low",
        "pointing_lead_high",
        "mass",
        "mass_low",
        "mass_high",
        "mass_lead",
        "mass_lead_low",
        "mass_lead_high",
        "chance",
        "zero",
    ]
    layers: dict[str, dict[str, Any]] = {}
    for _, row in table.iterrows():
        key = "random" if row.method == RANDOM else row.method
        layers.setdefault(row.layer, {})[key] = {k: row[k] for k in keep}
    photos = sorted({str(p) for p in comps.parts.ravel()})
    return {"composites": len(comps), "photos": photos, "level": LEVEL, "layers": layers}


def chosen_for_figure(comps: Composites, alone: pd.DataFrame, count: int = 3) -> list[int]:
    """The composites a figure shows: the qualifying photographs taken two by two in order
    ((1st, 2nd), (3rd, 4th), ...), the first `count` of them that were built."""
    names = list(alone.index[alone["qualifies"]])
    wanted = list(zip(names[0::2], names[1::2], strict=False))
    built = [tuple(p) for p in comps.parts]
    return [built.index(pair) for pair in wanted if pair in built][:count]


def composites_figure(
    comps: Composites, maps: Mapping[str, LayerMaps], chosen: Sequence[int], method: str
) -> Any:
    """One row per composite of `chosen`: the composite, then per layer of `maps` the map of
    each part's class (`method`) overlaid, the part's cell outlined and the maximum marked (+),
    titled with the layer, the class and the pointing game's verdict (hit, miss, or a shared
    credit)."""
    from matplotlib.figure import Figure

    from deepvis.gradcam.imagenet.classes import class_names

    names = class_names()
    k = comps.parts.shape[1]
    cols = 1 + k * len(maps)
    fig = Figure(figsize=(6.5, len(chosen) * 6.5 / cols + 0.5), layout="constrained")
    axes = fig.subplots(len(chosen), cols, squeeze=False)
    for row, i in zip(axes, chosen, strict=True):
        image = comps.images[i]
        row[0].imshow(image)
        row[0].set_title(" | ".join(comps.parts[i]), fontsize=7)
        panels = [(layer, j) for layer in maps for j in range(k)]
        for ax, (layer, j) in zip(row[1:], panels, strict=True):
            heat = upsample(maps[layer].maps[method][i : i + 1, j : j + 1], comps.size)[0, 0]
            credit = peak_credit(heat, cell_masks(comps.cells[i, j], comps.size))
            y, x = np.unravel_index(int(np.argmax(heat)), heat.shape)
            ax.imshow(overlay(image, heat))
            ax.plot([x], [y], marker="+", color="white", markersize=8, mew=1.5)
            top, left, bottom, right = comps.cells[i, j]
            ax.add_patch(_rectangle(left, top, right - left, bottom - top))
            label = names[comps.classes[i, j]][1]
            verdict = {1.0: "hit", 0.0: "miss"}.get(float(credit), f"{float(credit):.2f}")
            ax.set_title(f"{layer}\n{label}: {verdict}", fontsize=6)
    for ax in axes.ravel():
        ax.set_axis_off()
    return fig


def _rectangle(x: float, y: float, width: float, height: float) -> Any:
    """The outline of a part's cell on a panel (white, dashed)."""
    from matplotlib.patches import Rectangle

    return Rectangle(
        (x - 0.5, y - 0.5), width, height, fill=False, edgecolor="white", linestyle="--", lw=1
    )
