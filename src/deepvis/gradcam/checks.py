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
    """Class probabilities (k,) before and after blurring the most salient vs random pixels."""

    original: np.ndarray
    salient: np.ndarray
    random: np.ndarray

    @property
    def drop_salient(self) -> np.ndarray:
        """Probability drop (k,) when the most salient pixels are blurred."""
        return self.original - self.salient

    @property
    def drop_random(self) -> np.ndarray:
        """Probability drop (k,) when as many random pixels are blurred."""
        return self.original - self.random


def faithfulness(
    net: Any,
    image: np.ndarray,
    heatmaps: np.ndarray,
    classes: Sequence[int],
    fraction: float = 0.2,
    seed: int = 0,
) -> Faithfulness:
    """Deletion test: blur the top ``fraction`` of pixels by saliency vs the same number at random.

    ``net`` is an `deepvis.gradcam.imagenet.ImageNetModel`; ``image`` (H, W, 3) uint8; ``heatmaps``
    (k, H, W) at the image's resolution; ``classes`` (k,). The blur is Gaussian with a radius
    of 1/40 of the longer side. All 1 + 2k images go through the network in one batch.
    """
    height, width = image.shape[:2]
    radius = max(height, width) / 40
    blurred = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))
    count = int(round(fraction * height * width))
    rng = np.random.default_rng(seed)
    variants = [image]
    for heat in heatmaps:
        salient = np.argsort(-heat.ravel(), kind="stable")[:count]
        randomly = rng.choice(height * width, size=count, replace=False)
        for chosen in (salient, randomly):
            mask = np.zeros(height * width, dtype=bool)
            mask[chosen] = True
            variants.append(np.where(mask.reshape(height, width, 1), blurred, image))
    logits = np.asarray(net.model(net.prepare(variants), training=False))
    probs = softmax(logits, axis=1)
    k = np.arange(len(classes))
    cls = np.asarray(classes)
    return Faithfulness(
        original=probs[0, cls], salient=probs[1 + 2 * k, cls], random=probs[2 + 2 * k, cls]
    )


def faithfulness_table(
    net: Any,
    images: Sequence[np.ndarray],
    heatmaps: Sequence[np.ndarray],
    classes: np.ndarray,
    labels: Sequence[Sequence[str]],
    fraction: float = 0.2,
) -> pd.DataFrame:
    """`faithfulness` of every image and rank: one row per (image, rank), in order.

    ``images`` N uint8 (H_i, W_i, 3); ``heatmaps`` N arrays (k, H_i, W_i) at each image's
    resolution; ``classes`` (N, k) class indices; ``labels`` N lists of k row labels (e.g.
    ``"gc1 #1 Egyptian_cat"``). Image i's random pixels are drawn with seed i. Columns
    ``drop_salient`` and ``drop_random`` (probability drops), indexed by label.
    """
    rows = {}
    for i, (image, heat, cls, names) in enumerate(
        zip(images, heatmaps, classes, labels, strict=True)
    ):
        result = faithfulness(net, image, heat, cls, fraction=fraction, seed=i)
        for r, name in enumerate(names):
            rows[name] = {
                "drop_salient": float(result.drop_salient[r]),
                "drop_random": float(result.drop_random[r]),
            }
    return pd.DataFrame.from_dict(rows, orient="index")
