"""Grad-CAM (Selvaraju et al. 2017) for any Keras classifier, batched, plus its checks and a CLI.

For a class score ``y^c`` (the logit, before any softmax) and the feature maps ``A^k`` of a conv
layer, ``alpha_k^c`` is the spatial mean of ``d y^c / d A^k`` and the map is
``ReLU(sum_k alpha_k^c A^k)`` on the layer's grid. `GradCAM` computes the top-k maps of a batch
with one forward pass under one tape and k backward passes.

Command line::

    python -m deepvis.gradcam IMG [IMG ...] [--model auto] [--top 3] [--layer NAME] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from matplotlib import colormaps
from numpy.typing import ArrayLike
from PIL import Image, ImageFilter, ImageOps
from scipy.special import softmax
from scipy.stats import spearmanr

from deepvis.errors import DeepvisError, cli_errors

#: Divisor guard for normalising maps: an all-zero map stays zero instead of becoming NaN.
EPS = 1e-12


# --------------------------------------------------------------------------- layers


def conv_layer_names(model: Any) -> list[str]:
    """Names of the model's 2-D convolution layers (plain, depthwise, separable), in order."""
    conv_types = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
    return [layer.name for layer in model.layers if isinstance(layer, conv_types)]


def _feature_layer(model: Any, name: str) -> Any:
    """The layer `name`, checked to output a (batch, height, width, channels) feature map."""
    convs = ", ".join(conv_layer_names(model)) or "none"
    try:
        layer = model.get_layer(name)
    except ValueError:
        raise DeepvisError(
            f"model {model.name!r} has no layer {name!r}; its conv layers are: {convs}"
        ) from None
    if isinstance(layer, keras.layers.InputLayer) or len(layer.output.shape) != 4:
        raise DeepvisError(
            f"layer {name!r} ({type(layer).__name__}, output {tuple(layer.output.shape)}) is not "
            f"a conv feature map (batch, height, width, channels); conv layers: {convs}"
        )
    return layer


def _logits(model: Any) -> Any:
    """The model's pre-softmax class scores as a symbolic tensor (its output if not softmax)."""
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    if isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and activation is keras.activations.softmax
    ):
        return last.input
    if activation is keras.activations.softmax:
        return _WithoutActivation(last)(last.input)
    return model.output


class _WithoutActivation(keras.layers.Layer):
    """Calls a layer (sharing its weights) with its activation switched off."""

    def __init__(self, layer: Any) -> None:
        super().__init__(name=f"{layer.name}_pre_activation")
        self.inner = layer

    def call(self, x: Any) -> Any:
        activation = self.inner.activation
        self.inner.activation = keras.activations.linear
        try:
            return self.inner.call(x)
        finally:
            self.inner.activation = activation


# --------------------------------------------------------------------------- Grad-CAM


@dataclass(frozen=True)
class CAMResult:
    """Grad-CAM maps for a batch of N images and k classes each (float32 unless noted).

    ``classes`` (N, k) int64 class indices; ``scores`` (N, k) their logits ``y^c``;
    ``probabilities`` (N, k) their softmax probabilities; ``logits`` (N, n_classes);
    ``alphas`` (N, k, C) channel weights; ``raw`` (N, k, h, w) maps on the layer's grid (>= 0);
    ``maps`` (N, k, h, w) each divided by its max (+ `EPS`), in [0, 1]; ``zero`` (N, k) bool,
    True where a map is all zero (no positive evidence: reported, never NaN).
    """

    classes: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray
    logits: np.ndarray
    alphas: np.ndarray
    raw: np.ndarray
    maps: np.ndarray
    zero: np.ndarray


class GradCAM:
    """Grad-CAM for a Keras model and one of its conv layers (any architecture).

    ``model`` maps a float32 batch to class scores; if it ends in a softmax, the pre-softmax
    scores are used. ``layer_name`` names a layer with a 4-D (batch, h, w, C) output.
    ``grad_model`` is ``keras.Model(model.input, [layer output, logits])``, built once.
    """

    def __init__(self, model: Any, layer_name: str) -> None:
        layer = _feature_layer(model, layer_name)
        logits = _logits(model)
        self.model = model
        self.layer_name = layer_name
        self.num_classes = int(logits.shape[-1])
        self.grid = tuple(int(d) for d in layer.output.shape[1:3])
        self.grad_model = keras.Model(model.input, [layer.output, logits])
        self._run = tf.function(self._maps, reduce_retracing=True)

    def _maps(self, x: Any, classes: Any, top: int) -> tuple[Any, ...]:
        """Graph body: one forward pass under one tape, then one backward pass per rank."""
        with tf.GradientTape(persistent=True) as tape:
            features, logits = self.grad_model(x, training=False)
            if classes is None:
                classes = tf.math.top_k(logits, top).indices
            scores = tf.gather(logits, classes, batch_dims=1)  # (N, k)
        n = tf.shape(scores)[0]
        grads = [
            tape.gradient(scores, features, output_gradients=tf.one_hot(tf.fill([n], j), top))
            for j in range(top)
        ]
        del tape
        alphas = tf.reduce_mean(tf.stack(grads, axis=1), axis=(2, 3))  # (N, k, C)
        raw = tf.nn.relu(tf.einsum("nkc,nhwc->nkhw", alphas, features))
        return classes, scores, logits, alphas, raw

    def compute(self, x: np.ndarray, classes: ArrayLike | None = None, top: int = 3) -> CAMResult:
        """Maps for a preprocessed batch ``x`` (N, H, W, 3) float32.

        ``classes`` (N, k) picks the classes per image; without it the top-``top`` classes of
        each image are used (rank 1 first). Raises `DeepvisError` for a class index outside
        ``[0, num_classes)`` or a ``top`` outside ``[1, num_classes]``.
        """
        x = tf.convert_to_tensor(np.asarray(x, dtype=np.float32))
        if classes is None:
            if not 1 <= top <= self.num_classes:
                raise DeepvisError(f"top must be between 1 and {self.num_classes}, not {top}")
            class_tensor = None
        else:
            chosen = np.asarray(classes, dtype=np.int64)
            if chosen.ndim != 2 or chosen.shape[0] != x.shape[0]:
                raise DeepvisError(f"classes must be (N, k) for N={x.shape[0]} images")
            bad = chosen[(chosen < 0) | (chosen >= self.num_classes)]
            if bad.size:
                raise DeepvisError(
                    f"class index {int(bad[0])} out of range: the model has "
                    f"{self.num_classes} classes (0..{self.num_classes - 1})"
                )
            class_tensor, top = tf.constant(chosen, dtype=tf.int32), chosen.shape[1]
        outputs = self._run(x, class_tensor, top)
        classes_t, scores, logits, alphas, raw = (t.numpy() for t in outputs)
        peak = raw.max(axis=(2, 3), keepdims=True)
        probs = tf.nn.softmax(logits).numpy()
        return CAMResult(
            classes=classes_t.astype(np.int64),
            scores=scores,
            probabilities=np.take_along_axis(probs, classes_t.astype(np.int64), axis=1),
            logits=logits,
            alphas=alphas,
            raw=raw,
            maps=raw / (peak + EPS),
            zero=peak[..., 0, 0] <= 0,
        )


# --------------------------------------------------------------------------- images


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB, EXIF orientation applied.

    Grayscale, palette, CMYK, 16-bit and images with alpha (composited over white) are
    converted. An unreadable, truncated, empty or non-image file, or one with more pixels than
    Pillow's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``, never raised here), raises a
    one-line `DeepvisError` naming the file.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():  # over the limit is refused below, not just warned about
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            limit = Image.MAX_IMAGE_PIXELS
            if limit and im.width * im.height > limit:
                raise DeepvisError(
                    f"{path}: {im.width}x{im.height} pixels exceeds Pillow's decompression-bomb "
                    f"limit of {limit}; downscale the image first"
                )
            im.load()
            return _to_rgb(ImageOps.exif_transpose(im))
    except DeepvisError:
        raise
    except Image.DecompressionBombError:
        raise DeepvisError(
            f"{path}: more pixels than twice Pillow's decompression-bomb limit of "
            f"{Image.MAX_IMAGE_PIXELS}; downscale the image first"
        ) from None
    except FileNotFoundError:
        raise DeepvisError(f"{path}: no such file") from None
    except Exception as err:  # Pillow signals bad files with many exception types
        reason = " ".join(str(err).split()) or type(err).__name__
        raise DeepvisError(f"{path}: not a readable image ({reason})") from None


def _to_rgb(im: Any) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8 RGB."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(im, dtype=np.float64)
        if im.mode.startswith("I;16") or values.max(initial=0) > 255:
            values = values / 257.0  # 16-bit range -> 8 bits (convert("RGB") would clip)
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def resize_map(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinearly resize a scalar map (h, w) to ``size`` = (height, width); float32 in [0, 1]."""
    height, width = size
    image = Image.fromarray(np.asarray(cam, dtype=np.float32), mode="F")
    return np.clip(np.asarray(image.resize((width, height), Image.BILINEAR)), 0.0, 1.0)


def overlay(
    image: np.ndarray, heat: np.ndarray, alpha: float = 0.45, cmap: str = "jet"
) -> np.ndarray:
    """Blend a colour-mapped heat map (H, W) in [0, 1] over an RGB image (H, W, 3) uint8."""
    colours = colormaps[cmap](np.clip(heat, 0.0, 1.0))[..., :3] * 255.0
    blended = (1.0 - alpha) * image.astype(np.float32) + alpha * colours
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- checks


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


def sanity_check(
    model: Any, layer_name: str, x: np.ndarray, steps: int = 5, seed: int = 0
) -> list[SanityStep]:
    """Cascading model-parameter randomisation (Adebayo et al. 2018) for one image.

    ``x`` is one preprocessed image (1, H, W, 3). Starting from the trained weights, the weight
    groups of `weight_groups` are re-initialised one after another from the top (classifier
    first), ``steps`` of them, cumulatively; after each the map of the trained model's top-1
    class is recomputed. Works on a copy (``model`` is untouched); seeds Keras' RNGs with
    ``seed``. Returns the original step plus one per group. A faithful explanation degrades.
    """
    keras.utils.set_random_seed(seed)
    fresh = keras.models.clone_model(model)  # newly initialised weights
    work = keras.models.clone_model(model)
    work.set_weights(model.get_weights())
    cam = GradCAM(work, layer_name)
    cls = np.argmax(np.asarray(work(x, training=False)), axis=1)[:, None]  # trained top-1
    original = cam.compute(x, classes=cls).maps[0, 0]
    result = [SanityStep("trained", (), original, 1.0)]
    done: list[str] = []
    for name, names in weight_groups(model)[:steps]:
        for layer in names:
            work.get_layer(layer).set_weights(fresh.get_layer(layer).get_weights())
        done += names
        cam_map = cam.compute(x, classes=cls).maps[0, 0]
        result.append(SanityStep(name, tuple(done), cam_map, spearman(original, cam_map)))
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

    ``net`` is an `deepvis.imagenet.ImageNetModel`; ``image`` (H, W, 3) uint8; ``heatmaps``
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


# --------------------------------------------------------------------------- CLI


def explain(net: Any, cam: GradCAM, image: np.ndarray, top: int) -> tuple[CAMResult, np.ndarray]:
    """Top-``top`` Grad-CAM of one RGB image: the result and its maps (k, H, W) at image size."""
    result = cam.compute(net.prepare([image]), top=top)
    size = image.shape[:2]
    return result, np.stack([resize_map(m, size) for m in result.maps[0]])


def _parser() -> argparse.ArgumentParser:
    from deepvis.imagenet import MODEL_NAMES

    parser = argparse.ArgumentParser(
        prog="python -m deepvis.gradcam",
        description="Grad-CAM saliency maps of the top-k ImageNet classes for each image. Writes "
        "DIR/<stem>_gradcam.png (input | heat map | overlay per rank) and DIR/<stem>.json.",
    )
    parser.add_argument("images", nargs="+", metavar="IMG", help="image files (any Pillow format)")
    parser.add_argument(
        "--model",
        choices=MODEL_NAMES,
        default="auto",
        help="auto: VGG-16 if its ImageNet weights are on disk, else EfficientNet-Lite0",
    )
    parser.add_argument("--top", type=int, default=3, help="classes per image (default 3)")
    parser.add_argument("--layer", help="conv layer to explain (default: the model's last)")
    parser.add_argument(
        "--out", type=Path, default=Path("gradcam"), help="output folder (default ./gradcam)"
    )
    return parser


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns 0 when every image succeeded, 2 otherwise."""
    args = _parser().parse_args(argv)
    from deepvis.files import atomic_write_json, save_figure
    from deepvis.imagenet import class_names, load_model
    from deepvis.plots_gradcam import gradcam_figure

    names = class_names()
    net = load_model(args.model)
    cam = GradCAM(net.model, args.layer or net.layer)
    if not 1 <= args.top <= cam.num_classes:
        raise DeepvisError(f"--top must be between 1 and {cam.num_classes}, not {args.top}")
    print(f"model: {net.description}; layer {cam.layer_name} {cam.grid}", flush=True)
    failed = 0
    for i, path in enumerate(map(Path, args.images), start=1):
        try:
            image = load_image(path)
        except DeepvisError as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            failed += 1
            continue
        result, heat = explain(net, cam, image, args.top)
        ranked = [
            {
                "rank": r + 1,
                "index": int(c),
                "wnid": names[c][0],
                "name": names[c][1],
                "probability": round(float(p), 6),
                "zero_map": bool(z),
            }
            for r, (c, p, z) in enumerate(
                zip(result.classes[0], result.probabilities[0], result.zero[0], strict=True)
            )
        ]
        labels = [f"{c['name']} ({c['probability']:.1%})" for c in ranked]
        title = f"{path.name}: {net.name}, layer {cam.layer_name}"
        fig = gradcam_figure(image, heat, labels, title=title)
        png = save_figure(fig, args.out / f"{path.stem}_gradcam.png")
        record = {
            "image": str(path),
            "size": [image.shape[1], image.shape[0]],
            "model": net.name,
            "layer": cam.layer_name,
            "top": ranked,
        }
        atomic_write_json(args.out / f"{path.stem}.json", record)
        summary = ", ".join(labels)
        print(f"[{i}/{len(args.images)}] {path}: {summary} -> {png}", flush=True)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
