"""Grad-CAM (Selvaraju et al. 2017) and the CAM family for any Keras classifier, batched.

For a class score ``y^c`` (the logit, before any softmax) and the feature maps ``A^k`` of a conv
layer, ``alpha_k^c`` is the spatial mean of ``d y^c / d A^k`` and the map is
``ReLU(sum_k alpha_k^c A^k)`` on the layer's grid. `GradCAM` computes the top-k maps of a batch
with one forward pass under one tape and k backward passes. Its ``method`` picks another way of
turning the same activations and gradients into a map (`deepvis.gradcam.methods`: Grad-CAM++,
XGrad-CAM, HiResCAM, LayerCAM, EigenCAM, the counterfactual map), or Score-CAM, which weights
each channel by the class score of the image masked with that channel (batched masked forward
passes, a bounded number of images at a time). `GradCAM.compute_all` gives several methods from
one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from numpy.typing import ArrayLike

from deepvis.errors import DeepvisError
from deepvis.gradcam.folding import fold_batch_norm
from deepvis.gradcam.methods import METHODS, Method, method

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
    True where a map is all zero (no positive evidence: reported, never NaN). ``method`` names
    the `deepvis.gradcam.methods` entry; for methods that give a map rather than channel
    weights (HiResCAM, LayerCAM, EigenCAM) ``alphas`` is all NaN.
    """

    classes: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray
    logits: np.ndarray
    alphas: np.ndarray
    raw: np.ndarray
    maps: np.ndarray
    zero: np.ndarray
    method: str = "gradcam"


class GradCAM:
    """Grad-CAM, or another CAM ``method``, for a Keras model and one of its conv layers.

    ``model`` maps a float32 batch to class scores (or a float64 one, for a model built with
    Keras' float64 default, `dtype`); if it ends in a softmax, the pre-softmax scores are used.
    ``layer_name`` names a layer with a 4-D (batch, h, w, C) output.
    ``method`` is a name in `deepvis.gradcam.methods.METHODS` (default ``"gradcam"``).
    ``grad_model`` is ``keras.Model(model.input, [layer output, logits])``, built once, with
    batch-norms folded into their convs (`deepvis.gradcam.folding`: the same function, faster).
    ``batch_size`` bounds Score-CAM's masked images per forward pass (memory: that many input
    images and their activations).
    """

    def __init__(
        self, model: Any, layer_name: str, method: str = "gradcam", batch_size: int = 32
    ) -> None:
        self.method = _method(method).name
        layer = _feature_layer(model, layer_name)
        logits = _logits(model)
        self.model = model
        self.layer_name = layer_name
        self.batch_size = int(batch_size)
        self.num_classes = int(logits.shape[-1])
        #: The model's input dtype (float32 unless built in float64): inputs, weights, maps.
        self.dtype = np.dtype(model.inputs[0].dtype)
        self.grid = tuple(int(d) for d in layer.output.shape[1:3])
        self.grad_model = fold_batch_norm(
            keras.Model(model.input, [layer.output, logits]), keep=(layer_name,)
        )
        self._run = tf.function(self._maps, reduce_retracing=True)
        self._forward = shared_logits(model)

    def rebuild(self, model: Any) -> GradCAM:
        """The same method, layer and batch size on another model (e.g. a re-initialised copy)."""
        return GradCAM(model, self.layer_name, self.method, self.batch_size)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits (M, num_classes) float32 of a preprocessed batch (M, H, W, 3), ``batch_size``
        images per compiled forward pass."""
        x = np.asarray(x, dtype=self.dtype)
        parts = [
            self._forward(tf.constant(x[i : i + self.batch_size])).numpy()
            for i in range(0, len(x), self.batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self.num_classes), self.dtype)

    def _maps(self, x: Any, classes: Any, top: int, names: tuple[str, ...]) -> tuple[Any, ...]:
        """Graph body: one forward pass under one tape, then one backward pass per rank.

        Returns classes (N, k), scores (N, k), logits, features (N, h, w, C) and per method in
        ``names`` its weights (N, k, C) (or None) and its map (N, k, h, w) after the ReLU.
        Score-CAM's entry is (None, None): `compute_all` finishes it outside the graph.
        """
        chosen = [METHODS[name] for name in names]
        with tf.GradientTape(persistent=True) as tape:
            features, logits = self.grad_model(x, training=False)
            if classes is None:
                classes = tf.math.top_k(logits, top).indices
            scores = tf.gather(logits, classes, batch_dims=1)  # (N, k)
        stacked = None
        if any(m.gradients for m in chosen):
            n = tf.shape(scores)[0]
            ranks = [tf.one_hot(tf.fill([n], j), top, dtype=scores.dtype) for j in range(top)]
            grads = [tape.gradient(scores, features, output_gradients=r) for r in ranks]
            stacked = tf.stack(grads, axis=1)  # (N, k, h, w, C)
        del tape
        outputs = []
        for m in chosen:
            if m.fn is None:
                outputs.append((None, None))
            elif m.output == "weights":
                alphas = m.fn(features, stacked)  # (N, k, C)
                outputs.append((alphas, tf.nn.relu(tf.einsum("nkc,nhwc->nkhw", alphas, features))))
            else:
                cam = m.fn(features, stacked)  # (N, k, h, w) or (N, 1, h, w)
                if cam.shape[1] == 1:
                    cam = tf.repeat(cam, top, axis=1)
                outputs.append((None, tf.nn.relu(cam)))
        return classes, scores, logits, features, tuple(outputs)

    def compute(self, x: np.ndarray, classes: ArrayLike | None = None, top: int = 3) -> CAMResult:
        """Maps of this object's method for a preprocessed batch ``x`` (N, H, W, 3) float32.

        ``classes`` (N, k) picks the classes per image; without it the top-``top`` classes of
        each image are used (rank 1 first). Raises `DeepvisError` for a class index outside
        ``[0, num_classes)`` or a ``top`` outside ``[1, num_classes]``.
        """
        return self.compute_all(x, (self.method,), classes=classes, top=top)[self.method]

    def compute_all(
        self,
        x: np.ndarray,
        methods: Sequence[str],
        classes: ArrayLike | None = None,
        top: int = 3,
    ) -> dict[str, CAMResult]:
        """Several methods' maps from one forward pass and k backward passes: ``{name: result}``.

        As `compute` otherwise; Score-CAM adds its masked forward passes (`score_weights`).
        """
        names = tuple(_method(name).name for name in methods)
        x = tf.convert_to_tensor(np.asarray(x, dtype=self.dtype))
        class_tensor, top = class_tensor_of(x, classes, top, self.num_classes)
        classes_t, scores, logits, features, outputs = self._run(x, class_tensor, top, names)
        classes_np = classes_t.numpy().astype(np.int64)
        logits_np = logits.numpy()
        probs = np.take_along_axis(tf.nn.softmax(logits).numpy(), classes_np, axis=1)
        results = {}
        for name, (alphas, raw) in zip(names, outputs, strict=True):
            if name == "scorecam":
                alphas = self.score_weights(x, features.numpy(), classes_np)
                raw = tf.nn.relu(tf.einsum("nkc,nhwc->nkhw", alphas, features))
            raw_np = raw.numpy()
            if alphas is None:
                alphas_np = np.full((*classes_np.shape, features.shape[-1]), np.nan, self.dtype)
            else:
                alphas_np = np.asarray(alphas, dtype=self.dtype)
            peak = raw_np.max(axis=(2, 3), keepdims=True)
            results[name] = CAMResult(
                classes=classes_np,
                scores=scores.numpy(),
                probabilities=probs,
                logits=logits_np,
                alphas=alphas_np,
                raw=raw_np,
                maps=raw_np / (peak + EPS),
                zero=peak[..., 0, 0] <= 0,
                method=name,
            )
        return results

    def score_weights(self, x: Any, features: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Score-CAM channel weights (N, k, C) in `dtype` (Wang et al. 2020, as pytorch-grad-cam).

        Each channel of ``features`` (N, h, w, C) is upsampled to the input size (bilinear,
        corners aligned), min-max normalised to a mask in [0, 1] and multiplied into its image
        ``x`` (N, H, W, 3); the weights are the softmax over channels of the masked images'
        logits for ``classes`` (N, k). One set of masked passes serves all k classes. Constant
        channels (mostly all-zero after a ReLU) give the all-zero mask, whose logits are
        computed once. At most ``batch_size`` masked images go through the model at a time, the
        masks built in the same compiled call (`shared_masked_logits`).
        """
        x = np.asarray(x, dtype=self.dtype)
        height, width = x.shape[1:3]
        rows = tf.constant(_align_corners(features.shape[1], height), self.dtype)  # (H, h)
        cols = tf.constant(_align_corners(features.shape[2], width), self.dtype)  # (W, w)
        live = features.max(axis=(1, 2)) > features.min(axis=(1, 2))  # (N, C)
        blank = self._forward(tf.zeros((1, *x.shape[1:]), self.dtype)).numpy()[0]
        scores = np.empty(features.shape[:1] + features.shape[3:] + classes.shape[1:], self.dtype)
        scores[:] = blank[classes][:, None, :]  # (N, C, k)
        pairs = np.argwhere(live).astype(np.int32)  # (image, channel), image-major
        images = tf.constant(x)
        channels = tf.constant(np.ascontiguousarray(features.transpose(0, 3, 1, 2)))  # (N, C, h, w)
        masked_logits = shared_masked_logits(self.model)
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start : start + self.batch_size]
            logits = masked_logits(images, channels, tf.constant(chunk), rows, cols).numpy()
            scores[chunk[:, 0], chunk[:, 1]] = np.take_along_axis(logits, classes[chunk[:, 0]], 1)
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        weights = shifted / shifted.sum(axis=1, keepdims=True)
        return weights.transpose(0, 2, 1).astype(self.dtype)


def shared_logits(model: Any) -> Callable[[Any], Any]:
    """The compiled function (N, H, W, 3) -> (N, num_classes) pre-softmax logits of `model`,
    traced once per model and shared by every `GradCAM` on it (`_per_model`: each trace costs
    seconds on Lite0)."""

    def build() -> Callable[[Any], Any]:
        scorer = fold_batch_norm(keras.Model(model.input, _logits(model)))
        return tf.function(lambda x: scorer(x, training=False), reduce_retracing=True)

    return _per_model(model, "_deepvis_logits", build)


def shared_masked_logits(model: Any) -> Callable[..., Any]:
    """The compiled function of Score-CAM's masked passes on `model`, shared like `shared_logits`.

    ``(images (N, H, W, 3), channels (N, C, h, w), pairs (b, 2) int32 (image, channel),
    rows (H, h), cols (W, w)) -> (b, num_classes)`` logits: each pair's channel upsampled by the
    interpolation matrices (``rows @ a @ cols.T``), min-max normalised to a mask in [0, 1] and
    multiplied into its image, all in the graph.
    """
    forward = shared_logits(model)

    def masked(images: Any, channels: Any, pairs: Any, rows: Any, cols: Any) -> Any:
        acts = tf.gather_nd(channels, pairs)  # (b, h, w)
        up = tf.matmul(tf.matmul(rows[None], acts), cols[None], transpose_b=True)  # (b, H, W)
        low = tf.reduce_min(up, axis=(1, 2), keepdims=True)
        masks = (up - low) / (tf.reduce_max(up, axis=(1, 2), keepdims=True) - low + 1e-8)
        return forward(tf.gather(images, pairs[:, 0]) * masks[..., None])

    return _per_model(
        model, "_deepvis_masked_logits", lambda: tf.function(masked, reduce_retracing=True)
    )


def _per_model(model: Any, key: str, build: Callable[[], Callable[..., Any]]) -> Any:
    """``build()``, made once per model and kept on the model itself under ``key`` (so it lives
    as long as the model; set past Keras' attribute tracking)."""
    made = model.__dict__.get(key)
    if made is None:
        made = build()
        object.__setattr__(model, key, made)
    return made


def class_tensor_of(
    x: Any, classes: ArrayLike | None, top: int, num_classes: int
) -> tuple[Any, int]:
    """Checked classes for a batch ``x`` (N, ...): an int32 tensor (N, k) (None for top-k) and k.

    Raises `DeepvisError` for ``classes`` not (N, k), an index outside ``[0, num_classes)`` or a
    ``top`` outside ``[1, num_classes]``.
    """
    if classes is None:
        if not 1 <= top <= num_classes:
            raise DeepvisError(f"top must be between 1 and {num_classes}, not {top}")
        return None, top
    chosen = np.asarray(classes, dtype=np.int64)
    if chosen.ndim != 2 or chosen.shape[0] != x.shape[0]:
        raise DeepvisError(f"classes must be (N, k) for N={x.shape[0]} images")
    bad = chosen[(chosen < 0) | (chosen >= num_classes)]
    if bad.size:
        raise DeepvisError(
            f"class index {int(bad[0])} out of range: the model has "
            f"{num_classes} classes (0..{num_classes - 1})"
        )
    return tf.constant(chosen, dtype=tf.int32), chosen.shape[1]


def _method(name: str) -> Method:
    """The method ``name`` (a `DeepvisError` listing the choices for an unknown one)."""
    return method(name)


def _align_corners(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) float32 matrix of 1-D linear interpolation with corners aligned.

    As ``torch.nn.UpsamplingBilinear2d``: output i samples input position
    ``i (size_in - 1) / (size_out - 1)``.
    """
    matrix = np.zeros((size_out, size_in), dtype=np.float64)
    if size_out == 1 or size_in == 1:
        matrix[:, 0] = 1.0
        return matrix.astype(np.float32)
    pos = np.arange(size_out) * (size_in - 1) / (size_out - 1)
    low = np.minimum(np.floor(pos).astype(int), size_in - 1)
    high = np.minimum(low + 1, size_in - 1)
    frac = pos - low
    np.add.at(matrix, (np.arange(size_out), low), 1.0 - frac)
    np.add.at(matrix, (np.arange(size_out), high), frac)
    return matrix.astype(np.float32)
