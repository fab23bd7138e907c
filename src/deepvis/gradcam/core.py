"""Grad-CAM (Selvaraju et al. 2017) for any Keras classifier, batched.

For a class score ``y^c`` (the logit, before any softmax) and the feature maps ``A^k`` of a conv
layer, ``alpha_k^c`` is the spatial mean of ``d y^c / d A^k`` and the map is
``ReLU(sum_k alpha_k^c A^k)`` on the layer's grid. `GradCAM` computes the top-k maps of a batch
with one forward pass under one tape and k backward passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from numpy.typing import ArrayLike

from deepvis.errors import DeepvisError

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
