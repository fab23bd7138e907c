"""How good are the maps? One table per method, with a random-map baseline.

`evaluate` scores every CAM method's maps of N images x k classes with:

* **deletion** and **insertion** AUC (Petsiuk et al. 2018, RISE): the class probability as the
  most salient pixels are replaced by the ImageNet mean colour (deletion: a faithful map makes
  it fall fast, low AUC) or revealed on a blurred copy (insertion: high AUC), at ``steps + 1``
  evenly spaced fractions; the area under that curve over the fraction in [0, 1];
* **ROAD** (Rong et al. 2022), most- and least-relevant first: the change in class probability
  when the most (MoRF: faithful maps make it drop) or least (LeRF: faithful maps keep it)
  relevant fraction of pixels is replaced by noisy linear imputation, which fills the removed
  pixels from their neighbours so the mask's shape leaks no class information (pytorch-grad-cam's
  ``metrics/road.py``, ``NoisyLinearImputer``, solved exactly with SciPy);
* the **sanity check**'s rank correlation: the absolute value of Spearman's rho between the
  map of the top-1 class and the map after the top ``sanity_steps`` weight groups (default:
  all of them, down to the stem) are re-initialised (`deepvis.gradcam.checks.sanity_check`'s
  last step; near 0 passes, near 1 fails; a negative rho resembles the trained map as much as
  a positive one).

The baseline is several random maps (uniform noise on the layer's grid, upsampled like the
maps, so each removes contiguous blocks of pixels): their mean is one row and their standard
deviation across draws another, so that a method's lead over the baseline can be read against
the baseline's own spread.

All perturbations are made on the images resized to the network's input (as
``ImageNetModel.prepare`` does) and the maps are upsampled bilinearly to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf
from PIL import Image, ImageFilter
from scipy import sparse
from scipy.sparse.linalg import splu

from deepvis.gradcam.checks import randomisation_cascade, spearman
from deepvis.gradcam.core import CAMResult, GradCAM
from deepvis.gradcam.methods import CAM_METHODS, METHODS

#: RGB colour of a deleted pixel: the ImageNet mean, i.e. zero after the usual normalisation
#: (RISE's deletion substrate).
MEAN_RGB = np.array([123.675, 116.28, 103.53], dtype=np.float32)
#: Gaussian blur radius (pixels at 224) of the insertion start image (RISE: sigma 5).
BLUR_RADIUS = 5.0
#: ROAD's imputation noise, 0.01 in ImageNet-normalised units (std 0.226 of [0, 1]), in grey levels.
ROAD_NOISE = 0.01 * 0.226 * 255.0
#: ROAD's neighbour weights (offset, weight), as ``metrics/road.py``.
ROAD_NEIGHBOURS = (
    ((1, 1), 1 / 12),
    ((0, 1), 1 / 6),
    ((-1, 1), 1 / 12),
    ((1, -1), 1 / 12),
    ((0, -1), 1 / 6),
    ((-1, -1), 1 / 12),
    ((1, 0), 1 / 6),
    ((-1, 0), 1 / 6),
)
RANDOM, RANDOM_SD = "Random map", "Random map, sd across draws"
COLUMNS = {
    "deletion": "deletion AUC (probability; lower is better)",
    "insertion": "insertion AUC (probability; higher is better)",
    "morf": "ROAD MoRF (change in probability; lower is better)",
    "lerf": "ROAD LeRF (change in probability; higher is better)",
    "sanity": "sanity check (|Spearman rho|; lower is better)",
}


# --------------------------------------------------------------------------- inputs and maps


def network_images(net: Any, images: Sequence[np.ndarray]) -> np.ndarray:
    """Uint8 RGB images of any sizes -> (N, S, S, 3) float32 in [0, 255] at the input size S.

    The same PIL bilinear resize as ``net.prepare``, so ``net.preprocess`` of the result is
    ``net.prepare(images)``.
    """
    size = (net.input_size, net.input_size)
    return np.stack(
        [np.asarray(Image.fromarray(im).resize(size, Image.BILINEAR), np.float32) for im in images]
    )


def upsample(maps: np.ndarray, size: int) -> np.ndarray:
    """Grid maps (N, k, h, w) -> (N, k, size, size) float32, bilinear (half-pixel centres)."""
    n, k, h, w = maps.shape
    flat = np.asarray(maps, np.float32).reshape(n * k, h, w, 1)
    return np.asarray(tf.image.resize(flat, (size, size), "bilinear")).reshape(n, k, size, size)


def random_maps(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """The baseline: uniform random grid maps of ``shape`` (N, k, h, w) float32 in [0, 1)."""
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def _probabilities(cam: GradCAM, net: Any, batch: np.ndarray) -> np.ndarray:
    """Softmax probabilities (M, classes) float64 of RGB images ``batch`` (M, S, S, 3)."""
    logits = cam.logits(net.preprocess(batch)).astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- deletion / insertion


def _reveal(order: np.ndarray, counts: np.ndarray, front: np.ndarray, back: np.ndarray) -> Any:
    """Images (len(counts), S, S, 3): ``front`` on the first ``counts[i]`` pixels of ``order``."""
    size = front.shape[0] * front.shape[1]
    for count in counts:
        mask = np.zeros(size, dtype=bool)
        mask[order[:count]] = True
        yield np.where(mask.reshape(front.shape[:2] + (1,)), front, back)


def deletion_insertion(
    cam: GradCAM,
    net: Any,
    base: np.ndarray,
    saliency: np.ndarray,
    classes: np.ndarray,
    steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion AUC (M,) each for M maps of one image.

    ``base`` (S, S, 3) float RGB; ``saliency`` (M, S, S); ``classes`` (M,). Pixels are taken in
    decreasing saliency (stable order), ``steps + 1`` fractions ``0, 1/steps, ..., 1``; the two
    ends do not depend on the map and are computed once. AUC by the trapezoid rule.
    """
    size = base.shape[0] * base.shape[1]
    substrate = np.broadcast_to(MEAN_RGB, base.shape)
    blurred = np.asarray(
        Image.fromarray(np.uint8(np.clip(np.rint(base), 0, 255))).filter(
            ImageFilter.GaussianBlur(BLUR_RADIUS)
        ),
        np.float32,
    )
    counts = np.rint(np.linspace(0, size, steps + 1)).astype(int)[1:-1]
    ends = _probabilities(cam, net, np.stack([base, substrate, blurred]))[:, classes]  # (3, M)
    batch = []
    for heat in saliency:
        order = np.argsort(-heat.ravel(), kind="stable")
        batch += list(_reveal(order, counts, substrate, base))  # deletion: mean colour on top
        batch += list(_reveal(order, counts, base, blurred))  # insertion: image on top
    inner = np.zeros((len(classes), 2, len(counts)))
    if batch:
        probs = _probabilities(cam, net, np.stack(batch))
        labels = np.repeat(classes, 2 * len(counts))
        inner = probs[np.arange(len(labels)), labels].reshape(len(classes), 2, len(counts))
    fractions = np.linspace(0.0, 1.0, steps + 1)
    deletion = np.concatenate([ends[0][:, None], inner[:, 0], ends[1][:, None]], axis=1)
    insertion = np.concatenate([ends[2][:, None], inner[:, 1], ends[0][:, None]], axis=1)
    return np.trapezoid(deletion, fractions, axis=1), np.trapezoid(insertion, fractions, axis=1)


# --------------------------------------------------------------------------- ROAD


def impute(
    image: np.ndarray, keep: np.ndarray, rng: np.random.Generator, noise: float = ROAD_NOISE
) -> np.ndarray:
    """ROAD's noisy linear imputation of the pixels where ``keep`` (H, W) is False.

    Each removed pixel becomes the weighted mean of its 8 neighbours (`ROAD_NEIGHBOURS`,
    renormalised at the border), solved jointly as one sparse linear system for all removed
    pixels, plus Gaussian noise of std ``noise``. ``image`` (H, W, C) float; returns float32.
    """
    height, width = keep.shape
    missing = np.flatnonzero(~keep.ravel())
    flat = image.reshape(height * width, -1).astype(np.float64)
    if missing.size == 0:
        return image.astype(np.float32)
    index = np.full(height * width, -1)
    index[missing] = np.arange(missing.size)
    row, col = np.divmod(missing, width)
    diagonal = np.zeros(missing.size)
    rhs = np.zeros((missing.size, flat.shape[1]))
    rows, cols, vals = [], [], []
    kept = keep.ravel()
    for (dr, dc), weight in ROAD_NEIGHBOURS:
        r, c = row + dr, col + dc
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        diagonal[inside] += weight
        eq = np.flatnonzero(inside)
        neighbour = r[inside] * width + c[inside]
        known = kept[neighbour]
        rhs[eq[known]] -= weight * flat[neighbour[known]]
        rows.append(eq[~known])
        cols.append(index[neighbour[~known]])
        vals.append(np.full(int((~known).sum()), weight))
    rows.append(np.arange(missing.size))
    cols.append(np.arange(missing.size))
    vals.append(-diagonal)
    shape = (missing.size, missing.size)
    system = sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape
    )
    solved = splu(system, permc_spec="MMD_AT_PLUS_A").solve(rhs)
    out = flat.copy()
    out[missing] = solved + noise * rng.standard_normal(solved.shape)
    return out.reshape(image.shape).astype(np.float32)


def road(
    cam: GradCAM,
    net: Any,
    base: np.ndarray,
    saliency: np.ndarray,
    classes: np.ndarray,
    fractions: Sequence[float],
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """ROAD MoRF and LeRF (M,) each for M maps of one image: mean change in class probability.

    For each fraction f, the top-f (MoRF) or bottom-f (LeRF) pixels by saliency (stable order)
    are imputed (`impute`); the result is the probability after minus before, averaged over
    ``fractions``. ``base`` (S, S, 3) float RGB; ``saliency`` (M, S, S); ``classes`` (M,).
    """
    rng = np.random.default_rng(seed)
    size = base.shape[0] * base.shape[1]
    batch = []
    for heat in saliency:
        order = np.argsort(-heat.ravel(), kind="stable")
        for most in (True, False):
            for fraction in fractions:
                count = int(round(fraction * size))
                keep = np.ones(size, dtype=bool)
                keep[order[:count] if most else order[size - count :]] = False
                batch.append(impute(base, keep.reshape(base.shape[:2]), rng))
    labels = np.repeat(classes, 2 * len(fractions))
    probs = _probabilities(cam, net, np.stack(batch))
    after = probs[np.arange(len(labels)), labels].reshape(len(classes), 2, -1)
    before = _probabilities(cam, net, base[None])[0, classes]
    change = after.mean(axis=2) - before[:, None]
    return change[:, 0], change[:, 1]


# --------------------------------------------------------------------------- sanity check


def sanity_correlations(
    cam: GradCAM, x: np.ndarray, methods: Sequence[str], steps: int | None = None, seed: int = 0
) -> dict[str, np.ndarray]:
    """Spearman's rho (N,) per method between the top-1 maps before and after randomisation.

    The last step of `deepvis.gradcam.checks.sanity_check` for every method at once: after
    `randomisation_cascade` (``steps`` groups, None: all; ``seed``) each method's map of the
    trained model's top-1 class is recomputed. ``x`` (N, H, W, 3) preprocessed. The random
    baseline ignores the model, so its rho is 1 by construction.
    """
    cascade = randomisation_cascade(cam.model, steps, seed)
    work, _, _ = next(cascade)
    work_cam = cam.rebuild(work)
    top1 = np.argmax(work_cam.logits(x), axis=1)[:, None]
    before = work_cam.compute_all(x, methods, classes=top1)
    for _ in cascade:  # to the last step
        pass
    after = work_cam.compute_all(x, methods, classes=top1)
    pairs = {
        name: zip(before[name].maps[:, 0], after[name].maps[:, 0], strict=True) for name in methods
    }
    return {name: np.array([spearman(b, a) for b, a in maps]) for name, maps in pairs.items()}


# --------------------------------------------------------------------------- the table


def _scores(
    cam: GradCAM,
    net: Any,
    base: np.ndarray,
    grid: np.ndarray,
    classes: np.ndarray,
    steps: int,
    road_fractions: Sequence[float],
    seed: int,
) -> dict[str, float]:
    """Mean deletion, insertion, MoRF and LeRF over the N x k maps ``grid`` (N, k, h, w)."""
    saliency = upsample(grid, net.input_size)
    scores: dict[str, list[np.ndarray]] = {key: [] for key in ("deletion", "insertion")}
    scores.update(morf=[], lerf=[])
    for i in range(len(base)):
        dele, ins = deletion_insertion(cam, net, base[i], saliency[i], classes[i], steps)
        morf, lerf = road(cam, net, base[i], saliency[i], classes[i], road_fractions, seed + i)
        for key, value in (("deletion", dele), ("insertion", ins), ("morf", morf), ("lerf", lerf)):
            scores[key].append(value)
    return {key: float(np.mean(values)) for key, values in scores.items()}


def evaluate(
    net: Any,
    images: Sequence[np.ndarray],
    results: dict[str, CAMResult] | None = None,
    methods: Sequence[str] = CAM_METHODS,
    top: int = 3,
    steps: int = 6,
    road_fractions: Sequence[float] = (0.2,),
    sanity_steps: int | None = None,
    sanity_methods: Sequence[str] | None = None,
    seed: int = 0,
    random_draws: int = 3,
) -> pd.DataFrame:
    """Per method (rows, then `RANDOM` and `RANDOM_SD`) the mean over N images x ``top``
    classes of: deletion and insertion AUC, ROAD MoRF and LeRF, and the sanity check's |rho|
    (`COLUMNS`).

    ``net`` an ``ImageNetModel``; ``images`` N uint8 RGB arrays; ``results`` the maps already
    computed (``GradCAM(...).compute_all(net.prepare(images), methods, top=top)``), computed
    here when None. The baseline is ``random_draws`` random maps per image and class (seeds
    ``seed``, ``seed + 1``, ...): row `RANDOM` is the mean of the draws' scores, row
    `RANDOM_SD` their standard deviation across draws (0 for one draw).

    Cost, in forward passes, for N images, k classes and M maps per image and class (the
    methods plus the random draws): deletion and insertion take ``2 (steps - 1)`` perturbed
    images per map plus 3 per image and map set (``steps=6``: 10 per map); ROAD takes one
    imputed image per fraction and order (2 per map with one fraction), each a sparse solve of
    about 0.08 s at 224 x 224. For N = 5, k = 3, 7 methods and 3 random draws (M = 10): 1,500
    deletion/insertion passes and 300 ROAD solves and passes. The sanity check randomises
    ``sanity_steps`` weight groups (None: all) once and recomputes the maps of every method in
    ``sanity_methods`` (default: all but Score-CAM, NaN there: on the randomised network it
    would need its N x C masked passes again, C the layer's channels).
    """
    x = net.prepare(images)
    cam = GradCAM(net.model, net.layer)
    if results is None or any(name not in results for name in methods):
        results = {**(results or {}), **cam.compute_all(x, methods, top=top)}
    classes = results[methods[0]].classes
    base = network_images(net, images)
    rows = {
        name: _scores(cam, net, base, results[name].raw, classes, steps, road_fractions, seed)
        for name in methods
    }
    shape = results[methods[0]].raw.shape
    draws = pd.DataFrame(
        [
            _scores(
                cam, net, base, random_maps(shape, seed + d), classes, steps, road_fractions, seed
            )
            for d in range(random_draws)
        ]
    )
    if sanity_methods is None:
        sanity_methods = [name for name in methods if name != "scorecam"]
    rho = (
        sanity_correlations(cam, x, list(sanity_methods), sanity_steps, seed)
        if sanity_methods
        else {}
    )
    for name in rows:
        rows[name]["sanity"] = float(np.mean(np.abs(rho[name]))) if name in rho else np.nan
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = [METHODS[name].title for name in rows]
    table.loc[RANDOM] = {**draws.mean().to_dict(), "sanity": 1.0}
    sd = draws.std(ddof=1) if random_draws > 1 else draws.mean() * 0.0
    table.loc[RANDOM_SD] = {**sd.to_dict(), "sanity": 0.0}
    table = table[list(COLUMNS)].rename(columns=COLUMNS)
    table.index.name = "method"
    return table
