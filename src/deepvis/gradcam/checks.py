"""Checks of Grad-CAM maps: the randomisation sanity check and a deletion (faithfulness) test.

The sanity check (Adebayo et al. 2018) re-initialises the network's weights and asks whether
the map of the trained model's top-1 class changes. `randomisation_cascade` re-initialises the
weight groups of `weight_groups` from the logits down to the stem, cumulatively (or one group
at a time, the rest trained: the independent variant); `sanity_cascade` follows several
explanations (`CamMaps`: the CAM methods at one layer, Guided Backprop and Guided Grad-CAM)
along it and scores each map against the trained one by Spearman's rank correlation
(`spearman`) and SSIM (`map_ssim`), in a `Sanity`; `sanity_check` is one explanation of one
image, step by step (`SanityStep`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity

from deepvis.errors import DeepvisError
from deepvis.gradcam.core import EPS, GradCAM
from deepvis.gradcam.guided import GuidedBackprop
from deepvis.gradcam.methods import CAM_METHODS, METHODS

#: The input-gradient explanations `CamMaps` follows besides the CAM methods: name -> title.
GUIDED = {"guided_backprop": "Guided Backprop", "guided_gradcam": "Guided Grad-CAM"}
#: What `CamMaps` follows by default: every CAM method but Score-CAM (one masked forward pass
#: per live channel and image: about 45 s a step for 5 images at Lite0's ``top_activation``,
#: 1280 channels, on 2 shared AMD EPYC cores, against about 1 s for all the methods here) and
#: the counterfactual map (evidence against the class), then both guided explanations.
SANITY_METHODS: tuple[str, ...] = (*(m for m in CAM_METHODS if m != "scorecam"), *GUIDED)
#: The two ways of re-initialising: all groups down to the step's (cumulative), or its alone.
VARIANTS = ("cascade", "independent")


def method_title(name: str) -> str:
    """The display title of a method of `CamMaps`: ``"gradcam"`` -> ``"Grad-CAM"``."""
    return GUIDED[name] if name in GUIDED else METHODS[name].title


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


class Explanations(Protocol):
    """What `sanity_cascade` follows: several named maps of one model (e.g. `CamMaps`)."""

    model: Any

    def rebuild(self, model: Any) -> Explanations:
        """The same explanations on another model."""
        ...

    def maps(self, x: np.ndarray, classes: np.ndarray) -> dict[str, np.ndarray]:
        """Per name the maps (N, h, w) in [0, 1] of ``classes`` (N,) int for ``x`` (N, H, W, 3)."""
        ...


class CamMaps:
    """Several explanations of one model from as few passes as possible: `Explanations`.

    ``cam`` gives the model and the layer; ``methods`` are names of
    `deepvis.gradcam.methods.METHODS` (one forward and one backward pass for all of them, plus
    Score-CAM's masked passes) and of `GUIDED`: Guided Backprop (one guided backward pass) and
    Guided Grad-CAM (its gradients times the Grad-CAM map, upsampled bilinearly as
    `deepvis.gradcam.guided.GuidedGradCAM` does). Guided maps are at the input's resolution,
    CAM maps on the layer's grid. An unknown or repeated name raises `DeepvisError`.
    """

    def __init__(self, cam: GradCAM, methods: Sequence[str] = SANITY_METHODS) -> None:
        unknown = [name for name in methods if name not in METHODS and name not in GUIDED]
        if unknown or len(set(methods)) != len(methods) or not methods:
            choices = ", ".join([*METHODS, *GUIDED])
            raise DeepvisError(
                f"methods must be distinct names among {choices}; got {', '.join(methods) or '()'}"
            )
        self.cam = cam
        self.model = cam.model
        self.methods = tuple(methods)
        self._cams = [name for name in methods if name in METHODS]
        if "guided_gradcam" in methods and "gradcam" not in self._cams:
            self._cams.append("gradcam")
        self.backprop = GuidedBackprop(cam.model) if set(GUIDED) & set(methods) else None

    def rebuild(self, model: Any) -> CamMaps:
        """The same methods at the same layer of another model (e.g. a re-initialised copy)."""
        return CamMaps(self.cam.rebuild(model), self.methods)

    def maps(self, x: np.ndarray, classes: np.ndarray) -> dict[str, np.ndarray]:
        """``{method: maps (N, h, w) float32 in [0, 1]}`` of ``classes`` (N,) for ``x``
        (N, H, W, 3), in the order of ``methods``."""
        chosen = np.asarray(classes, np.int64)[:, None]
        found = {}
        if self._cams:
            results = self.cam.compute_all(x, self._cams, classes=chosen)
            found = {name: result.maps[:, 0] for name, result in results.items()}
        if self.backprop is not None:
            gradients = self.backprop.compute(x, classes=chosen).gradients[:, 0]  # (N, H, W, 3)
            found["guided_backprop"] = _input_saliency(gradients)
            if "guided_gradcam" in self.methods:
                cam = found["gradcam"][..., None]
                up = np.asarray(tf.image.resize(cam, gradients.shape[1:3], "bilinear"))
                found["guided_gradcam"] = _input_saliency(gradients * up)
        return {name: np.asarray(found[name], np.float32) for name in self.methods}


def _input_saliency(gradients: np.ndarray) -> np.ndarray:
    """Input gradients (N, H, W, 3) -> (N, H, W): the sum of absolute values over colours, each
    map divided by its max (+ `EPS`), as `deepvis.gradcam.guided.GuidedResult.maps`."""
    saliency = np.abs(gradients).sum(axis=-1)
    return saliency / (saliency.max(axis=(1, 2), keepdims=True) + EPS)


@dataclass(frozen=True)
class SanityStep:
    """One step of the randomisation (`sanity_check`, `Sanity.image_steps`) and its map.

    ``layers``: every layer re-initialised in the copy at this step; ``map`` (h, w) in [0, 1]
    for the original top-1 class; ``spearman`` its rank correlation with the trained model's
    map (`spearman`: 0.0 when either map is constant); ``ssim`` its `map_ssim` with it.
    """

    name: str
    layers: tuple[str, ...]
    map: np.ndarray
    spearman: float
    ssim: float


def weight_groups(model: Any) -> list[tuple[str, list[str]]]:
    """Layers with weights grouped by name prefix (``block5_conv3`` -> ``block5``), top first.

    Every layer with weights is in exactly one group; a group is placed where its topmost layer
    is and lists its layers top first. Lite0: ``logits``, ``top``, ``block15`` ... ``block0``,
    ``stem``; VGG-16: ``predictions``, ``fc2``, ``fc1``, ``block5`` ... ``block1``.
    """
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


def map_ssim(a: np.ndarray, b: np.ndarray, size: tuple[int, int]) -> float:
    """SSIM of two maps (h, w) in [0, 1] after bilinear upsampling to ``size`` (H, W).

    skimage's ``structural_similarity`` with ``data_range=1`` and its 7 x 7 uniform window (the
    largest odd window that fits, for a ``size`` under 7 pixels a side). Maps already of
    ``size`` are compared as they are. A ``size`` under 3 pixels a side raises `DeepvisError`.
    """
    if min(size) < 3:
        raise DeepvisError(f"SSIM needs maps of at least 3 x 3 pixels, not {size[0]} x {size[1]}")
    a, b = (_upsample(m, size) for m in (a, b))
    window = min(7, min(size) - (1 - min(size) % 2))
    return float(structural_similarity(a, b, data_range=1.0, win_size=window))


def _upsample(cam_map: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A map (h, w) as float64 (H, W) = ``size``: bilinear (half-pixel centres) when h, w differ."""
    cam_map = np.asarray(cam_map, np.float64)
    if cam_map.shape == tuple(size):
        return cam_map
    return np.asarray(tf.image.resize(cam_map[..., None], size, "bilinear"), np.float64)[..., 0]


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


def _chosen_groups(model: Any, steps: int | None) -> list[tuple[str, list[str]]]:
    """The top ``steps`` groups of `weight_groups` (all of them for None); `DeepvisError` for
    a ``steps`` outside ``[1, number of groups]``."""
    groups = weight_groups(model)
    if steps is None:
        return groups
    if not 1 <= steps <= len(groups):
        raise DeepvisError(
            f"steps must be between 1 and {len(groups)} (the model's weight groups), or None "
            f"for all of them, not {steps}"
        )
    return groups[:steps]


def randomisation_cascade(
    model: Any, steps: int | None = None, seed: int = 0, variant: str = "cascade"
) -> Iterator[tuple[Any, str, tuple[str, ...]]]:
    """The randomisation of Adebayo et al. (2018) on a copy of `model`.

    Yields ``(copy, group, layers)``: first the copy with the trained weights (``"trained"``,
    ``()``), then one state per group of `weight_groups`, top first: the top ``steps`` groups
    (None: all of them, down to the stem). ``variant`` ``"cascade"``: each group is
    re-initialised in turn and stays so (``layers``: every layer re-initialised so far);
    ``"independent"``: each group alone, the trained weights of the previous one restored first
    (``layers``: the group's). The copy is changed in place between yields; `model` is
    untouched. The new weights are those of a fresh ``clone_model`` of `model` made right after
    ``keras.utils.set_random_seed(seed)`` (which also seeds Python's, NumPy's and TensorFlow's
    global generators): the same ``seed`` gives the same weights, in both variants.
    """
    if variant not in VARIANTS:
        raise DeepvisError(f"variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    groups = _chosen_groups(model, steps)
    keras.utils.set_random_seed(seed)
    fresh = keras.models.clone_model(model)  # newly initialised weights
    work = keras.models.clone_model(model)
    work.set_weights(model.get_weights())
    yield work, "trained", ()
    done: tuple[str, ...] = ()
    for name, names in groups:
        for layer in names:
            work.get_layer(layer).set_weights(fresh.get_layer(layer).get_weights())
        done = done + tuple(names) if variant == "cascade" else tuple(names)
        yield work, name, done
        if variant == "independent":
            for layer in names:
                work.get_layer(layer).set_weights(model.get_layer(layer).get_weights())


@dataclass(frozen=True)
class Sanity:
    """The randomisation check of several explanations of N images (`sanity_cascade`).

    ``variant``: ``"cascade"`` or ``"independent"`` (`randomisation_cascade`); ``seed`` its
    seed; ``steps`` (S + 1) ``"trained"`` then the groups re-initialised, top first;
    ``layers`` (S + 1) the layers of each step's group (``()`` for ``"trained"``: in the
    cascade, step i has the layers of steps 1..i re-initialised, in the independent variant
    only its own); ``classes`` (N,) int64 the trained model's top-1 classes, explained at every
    step; per method ``maps`` (S + 1, N, h, w) float32 in [0, 1], ``spearman`` (S + 1, N) the
    signed rank correlation of each map with the trained one (`spearman`) and ``ssim``
    (S + 1, N) their SSIM at the input's size (`map_ssim`); ``seconds`` the wall time.
    """

    variant: str
    seed: int
    steps: tuple[str, ...]
    layers: tuple[tuple[str, ...], ...]
    classes: np.ndarray
    maps: dict[str, np.ndarray]
    spearman: dict[str, np.ndarray]
    ssim: dict[str, np.ndarray]
    seconds: float

    @property
    def methods(self) -> tuple[str, ...]:
        """The explanations' names, in order."""
        return tuple(self.maps)

    def frame(self, score: str = "rho") -> pd.DataFrame:
        """The mean over images of ``score`` per step (rows, indexed by `steps`) and method
        (columns, `method_title`): ``"rho"`` |Spearman rho| or ``"ssim"``."""
        values = {"rho": {k: np.abs(v) for k, v in self.spearman.items()}, "ssim": self.ssim}
        if score not in values:
            raise DeepvisError(f"score must be 'rho' or 'ssim', not {score!r}")
        frame = pd.DataFrame(
            {method_title(k): v.mean(axis=1) for k, v in values[score].items()},
            index=list(self.steps),
        )
        frame.index.name = "re-initialised"
        return frame

    def constant(self) -> pd.DataFrame:
        """How many of the N maps are constant (all zero, say: no ranking, rho 0) per step
        (rows) and method (columns, `method_title`), int."""
        frame = pd.DataFrame(
            {method_title(k): v for k, v in self._constant_counts().items()},
            index=list(self.steps),
        )
        frame.index.name = "re-initialised"
        return frame

    def _constant_counts(self) -> dict[str, np.ndarray]:
        """Per method the number (S + 1,) int of constant maps per step."""
        return {k: (np.ptp(v, axis=(2, 3)) == 0).sum(axis=1) for k, v in self.maps.items()}

    def record(self) -> dict[str, Any]:
        """What ``report/metrics.json`` keeps (key ``gradcam.sanity``): ``variant``, ``seed``,
        ``images`` (N), ``seconds``, ``steps``, ``layers`` (the layers of each step's group),
        and per method the mean over images of ``rho`` (|Spearman rho|) and ``ssim`` per step,
        and the number of ``constant`` maps per step (`constant`)."""
        return {
            "variant": self.variant,
            "seed": self.seed,
            "images": len(self.classes),
            "seconds": self.seconds,
            "steps": list(self.steps),
            "layers": [list(names) for names in self.layers],
            "rho": {k: np.abs(v).mean(axis=1).tolist() for k, v in self.spearman.items()},
            "ssim": {k: v.mean(axis=1).tolist() for k, v in self.ssim.items()},
            "constant": {k: v.tolist() for k, v in self._constant_counts().items()},
        }

    def image_steps(self, method: str, image: int = 0) -> list[SanityStep]:
        """One method's maps of one image along the steps, as `SanityStep` (``layers``: every
        layer re-initialised in the copy at that step)."""
        if method not in self.maps or not 0 <= image < len(self.classes):
            raise DeepvisError(
                f"no method {method!r} or image {image}: methods {', '.join(self.methods)}, "
                f"images 0..{len(self.classes) - 1}"
            )
        result, done = [], ()
        for i, (name, names) in enumerate(zip(self.steps, self.layers, strict=True)):
            done = done + names if self.variant == "cascade" else names
            result.append(
                SanityStep(
                    name,
                    done,
                    self.maps[method][i, image],
                    float(self.spearman[method][i, image]),
                    float(self.ssim[method][i, image]),
                )
            )
        return result


def sanity_cascade(
    explanations: Explanations,
    x: np.ndarray,
    steps: int | None = None,
    seed: int = 0,
    variant: str = "cascade",
) -> Sanity:
    """The randomisation sanity check (Adebayo et al. 2018) of several explanations at once.

    ``explanations`` (e.g. `CamMaps`) are rebuilt on the copy of `randomisation_cascade`
    (``steps`` groups, None: all, down to the stem; ``seed``; ``variant``) and the maps of the
    trained model's top-1 class of each image in ``x`` (N, H, W, 3), preprocessed, recomputed
    at every step; ``explanations.model`` is untouched. Each map is compared with the trained
    one by `spearman` and by `map_ssim` at the input's size (H, W). A faithful explanation
    degrades (|rho| and SSIM fall); one that ignores the weights keeps |rho| = 1. Cost: one
    `Explanations.maps` call per step, S + 1 in all.
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise DeepvisError(f"x must be a batch of images (N, H, W, 3), not shape {x.shape}")
    began = time.perf_counter()
    groups = _chosen_groups(explanations.model, steps)
    cascade = randomisation_cascade(explanations.model, steps, seed, variant)
    work, _, _ = next(cascade)
    explain = explanations.rebuild(work)
    classes = np.argmax(np.asarray(work(x, training=False)), axis=1).astype(np.int64)
    found = {name: [maps] for name, maps in explain.maps(x, classes).items()}
    for _ in cascade:
        for name, maps in explain.maps(x, classes).items():
            found[name].append(maps)
    maps = {name: np.stack(per_step) for name, per_step in found.items()}
    scores = {name: _scores(stack, x.shape[1:3]) for name, stack in maps.items()}
    return Sanity(
        variant=variant,
        seed=seed,
        steps=("trained", *(name for name, _ in groups)),
        layers=((), *(tuple(names) for _, names in groups)),
        classes=classes,
        maps=maps,
        spearman={name: rho for name, (rho, _) in scores.items()},
        ssim={name: ssim for name, (_, ssim) in scores.items()},
        seconds=time.perf_counter() - began,
    )


def _scores(stack: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """`spearman` and `map_ssim` (at ``size``) of each map of ``stack`` (S + 1, N, h, w) with
    the trained one, ``stack[0]``: two float64 arrays (S + 1, N)."""
    pairs = [[(stack[0, n], cam_map) for n, cam_map in enumerate(step)] for step in stack]
    rho = np.array([[spearman(a, b) for a, b in row] for row in pairs])
    ssim = np.array([[map_ssim(a, b, size) for a, b in row] for row in pairs])
    return rho, ssim


class _Single:
    """One `Explainer` as `Explanations` with the one name ``"map"``."""

    def __init__(self, explainer: Explainer) -> None:
        self.explainer = explainer
        self.model = explainer.model

    def rebuild(self, model: Any) -> _Single:
        """The explainer rebuilt on another model."""
        return _Single(self.explainer.rebuild(model))

    def maps(self, x: np.ndarray, classes: np.ndarray) -> dict[str, np.ndarray]:
        """``{"map": (N, h, w)}`` of ``classes`` (N,)."""
        return {"map": self.explainer.compute(x, classes=classes[:, None]).maps[:, 0]}


def sanity_check(
    cam: Explainer, x: np.ndarray, steps: int | None = None, seed: int = 0
) -> list[SanityStep]:
    """Cascading model-parameter randomisation (Adebayo et al. 2018) of one explanation of one
    image: `sanity_cascade` of ``cam`` alone, as `SanityStep` per step.

    ``x`` is one preprocessed image (1, H, W, 3); ``cam`` a `deepvis.gradcam.core.GradCAM`
    (any method, same layer on the copy), `deepvis.gradcam.guided.GuidedBackprop` or
    `GuidedGradCAM`; ``cam.model`` is untouched. ``steps`` weight groups from the top (None:
    all, down to the stem), ``seed``. Returns the trained step plus one per group. A faithful
    explanation degrades.
    """
    if np.ndim(x) != 4 or len(x) != 1:
        raise DeepvisError(f"x must be one image (1, H, W, 3), not shape {np.shape(x)}")
    return sanity_cascade(_Single(cam), x, steps, seed).image_steps("map", 0)
