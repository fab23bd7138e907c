"""Checks of Grad-CAM maps: the randomisation sanity check and a deletion (faithfulness) test."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import keras
import numpy as np
import pandas as pd
from PIL import Image, ImageFilter
from scipy.special import softmax
from scipy.stats import spearmanr


class Explainer(Protocol):
    """What `sanity_check` needs: `deepvis.gradcam.core.GradCAM` (any method), or
    `deepvis.gradcam.guided.GuidedBackprop` / `GuidedGradCAM`."""

    model: Any

    def rebuild(self, model: Any) -> Explainer:
        """The same explanation on another model."""
        ...

    def compute(self, x: np.ndarray, classes: Any = None, top: int = 3) -> Any:
        """A result whose ``maps`` are (N, k, h, w) in [0, 1]."""
        ...


@dataclass(frozen=True)
class SanityStep:
    """One step of the cascading randomisation: groups re-initialised so far, and the map.

    ``map`` (h, w) in [0, 1] for the original top-1 class; ``spearman`` its rank correlation
    with the trained model's map (0.0 when either map is constant: no ranking is left).
    """

    name: str
    layers: tuple[str, ...]
    map: np.ndarray
    spearman: float


def weight_groups(model: Any) -> list[tuple[str, list[str]]]:
    """Layers with weights grouped by name prefix (``block5_conv3`` -> ``block5``), top first."""
    groups: dict[str, list[str]] = {}
    for layer in reversed(model.layers):
        if layer.weights:
            groups.setdefault(layer.name.split("_")[0], []).append(layer.name)
    return list(groups.items())


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps' pixels; 0.0 when either map is constant."""
    a, b = np.ravel(a), np.ravel(b)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def top_region(cam_map: np.ndarray, fraction: float = 0.2) -> np.ndarray:
    """Boolean mask (same shape) of the ``round(fraction * size)`` highest values of a map
    (ties broken by position, stable)."""
    flat = np.ravel(cam_map)
    count = int(round(fraction * flat.size))
    mask = np.zeros(flat.size, dtype=bool)
    mask[np.argsort(-flat, kind="stable")[:count]] = True
    return mask.reshape(np.shape(cam_map))


def top_iou(a: np.ndarray, b: np.ndarray, fraction: float = 0.2) -> float:
    """Intersection over union of the top-``fraction`` regions (`top_region`) of two maps."""
    ra, rb = top_region(a, fraction), top_region(b, fraction)
    union = (ra | rb).sum()
    return float((ra & rb).sum() / union) if union else 1.0


def randomisation_cascade(
    model: Any, steps: int = 5, seed: int = 0
) -> Iterator[tuple[Any, str, tuple[str, ...]]]:
    """The cascading randomisation of Adebayo et al. (2018) on a copy of `model`.

    Yields ``(copy, group, layers so far)``: first the copy with the trained weights
    (``"trained"``, ``()``), then the same copy after each of the top `steps` groups of
    `weight_groups` is re-initialised, cumulatively, classifier first. The copy is changed in
    place between yields; `model` is untouched. Keras' RNGs are seeded with `seed`.
    """
    keras.utils.set_random_seed(seed)
    fresh = keras.models.clone_model(model)  # newly initialised weights
    work = keras.models.clone_model(model)
    work.set_weights(model.get_weights())
    yield work, "trained", ()
    done: list[str] = []
    for name, names in weight_groups(model)[:steps]:
        for layer in names:
            work.get_layer(layer).set_weights(fresh.get_layer(layer).get_weights())
        done += names
        yield work, name, tuple(done)


def sanity_check(cam: Explainer, x: np.ndarray, steps: int = 5, seed: int = 0) -> list[SanityStep]:
    """Cascading model-parameter randomisation (Adebayo et al. 2018) for one image.

    ``x`` is one preprocessed image (1, H, W, 3). Along `randomisation_cascade` (``steps``
    weight groups, ``seed``) the map of the trained model's top-1 class is recomputed after
    each step (``cam.rebuild(copy)``: for `GradCAM` the same layer and method; Guided
    Backprop and Guided Grad-CAM work too); ``cam.model`` is untouched. Returns the original
    step plus one per group. A faithful explanation degrades.
    """
    cascade = randomisation_cascade(cam.model, steps, seed)
    work, _, _ = next(cascade)
    cam = cam.rebuild(work)
    cls = np.argmax(np.asarray(work(x, training=False)), axis=1)[:, None]  # trained top-1
    original = cam.compute(x, classes=cls).maps[0, 0]
    result = [SanityStep("trained", (), original, 1.0)]
    for _, name, done in cascade:
        cam_map = cam.compute(x, classes=cls).maps[0, 0]
        result.append(SanityStep(name, done, cam_map, spearman(original, cam_map)))
    return result


@dataclass(frozen=True)
class Faithfulness:
    """Class probabilities before and after blurring the most salient region vs random regions.

    ``original`` (k,) and ``salient`` (k,) per class; ``random`` (k, draws): one column per
    random region of the same area.
    """

    original: np.ndarray
    salient: np.ndarray
    random: np.ndarray

    @property
    def drop_salient(self) -> np.ndarray:
        """Probability drop (k,) when the most salient pixels are blurred."""
        return self.original - self.salient

    @property
    def drop_random(self) -> np.ndarray:
        """Probability drops (k, draws) when a random region of the same area is blurred."""
        return self.original[:, None] - self.random

    @property
    def wins(self) -> np.ndarray:
        """(k,) bool: the salient drop beats the drop of every random region (beyond their
        spread, not just their mean)."""
        return self.drop_salient > self.drop_random.max(axis=1)


def random_regions(
    shape: tuple[int, int], count: int, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """``draws`` boolean masks (draws, H, W), each one rectangle of about ``count`` pixels.

    The rectangles have the image's aspect ratio (sides ``sqrt(count / (H W))`` of the
    image's) and lie at uniformly random positions inside it; the pixel count is then made
    exactly ``count`` by adding or removing pixels along the rectangle's last row.
    """
    height, width = shape
    scale = np.sqrt(count / (height * width))
    rows = min(height, max(1, int(round(height * scale))))
    cols = min(width, max(1, -(-count // rows)))
    masks = np.zeros((draws, height, width), dtype=bool)
    for mask in masks:
        top = rng.integers(0, height - rows + 1)
        left = rng.integers(0, width - cols + 1)
        block = np.zeros(rows * cols, dtype=bool)
        block[:count] = True  # row-major: the last row is partly filled
        mask[top : top + rows, left : left + cols] = block.reshape(rows, cols)
    return masks


def faithfulness(
    net: Any,
    image: np.ndarray,
    heatmaps: np.ndarray,
    classes: Sequence[int],
    fraction: float = 0.2,
    seed: int = 0,
    draws: int = 10,
) -> Faithfulness:
    """Deletion test: blur the top ``fraction`` of pixels by saliency, or random regions.

    ``net`` is an `deepvis.gradcam.imagenet.ImageNetModel`; ``image`` (H, W, 3) uint8; ``heatmaps``
    (k, H, W) at the image's resolution; ``classes`` (k,). The baseline blurs ``draws``
    contiguous random regions (`random_regions`) of the same pixel count, the same for every
    class. The blur is Gaussian with a radius of 1/40 of the longer side. All
    1 + k + ``draws`` images go through the network in one batch.
    """
    height, width = image.shape[:2]
    radius = max(height, width) / 40
    blurred = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))
    count = int(round(fraction * height * width))
    regions = random_regions((height, width), count, draws, np.random.default_rng(seed))
    masks = [top_region(heat, fraction) for heat in heatmaps] + list(regions)
    variants = [image] + [np.where(m[..., None], blurred, image) for m in masks]
    logits = np.asarray(net.model(net.prepare(variants), training=False))
    probs = softmax(logits, axis=1)
    cls = np.asarray(classes)
    k = len(cls)
    return Faithfulness(
        original=probs[0, cls],
        salient=probs[1 + np.arange(k), cls],
        random=probs[1 + k :][:, cls].T,
    )


def faithfulness_table(
    net: Any,
    images: Sequence[np.ndarray],
    heatmaps: Sequence[np.ndarray],
    classes: np.ndarray,
    labels: Sequence[Sequence[str]],
    fraction: float = 0.2,
    draws: int = 10,
) -> pd.DataFrame:
    """`faithfulness` of every image and rank: one row per (image, rank), in order.

    ``images`` N uint8 (H_i, W_i, 3); ``heatmaps`` N arrays (k, H_i, W_i) at each image's
    resolution; ``classes`` (N, k) class indices; ``labels`` N lists of k row labels. Image i's
    random regions are drawn with seed i. Columns: ``drop_salient``; ``random_mean``,
    ``random_sd`` and ``random_max`` of the ``draws`` random regions' drops; ``win`` (bool,
    `Faithfulness.wins`). Indexed by label.
    """
    rows = {}
    for i, (image, heat, cls, names) in enumerate(
        zip(images, heatmaps, classes, labels, strict=True)
    ):
        result = faithfulness(net, image, heat, cls, fraction=fraction, seed=i, draws=draws)
        for r, name in enumerate(names):
            drops = result.drop_random[r]
            rows[name] = {
                "drop_salient": float(result.drop_salient[r]),
                "random_mean": float(drops.mean()),
                "random_sd": float(drops.std(ddof=1)) if drops.size > 1 else 0.0,
                "random_max": float(drops.max()),
                "win": bool(result.wins[r]),
            }
    return pd.DataFrame.from_dict(rows, orient="index")
