"""Guided Backpropagation (Springenberg et al. 2015) and Guided Grad-CAM (Selvaraju et al. 2017).

Guided Backprop is the gradient of a class score with respect to the input pixels in which every
ReLU passes back only positive gradients, and only where its input was positive (and, for
ReLU6, below the cap). It gives input-resolution detail but no class discrimination; Guided
Grad-CAM multiplies it by the (bilinearly upsampled) Grad-CAM map, the paper's high-resolution,
class-discriminative visualisation. Both run batched: one forward pass and one backward pass per
rank, like `deepvis.gradcam.core.GradCAM`, and both have ``model``, ``rebuild`` and ``compute``,
so `deepvis.gradcam.checks.sanity_check` runs on them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from numpy.typing import ArrayLike

from deepvis.gradcam.core import EPS, GradCAM, _logits, class_tensor_of


@dataclass(frozen=True)
class GuidedResult:
    """Input-resolution explanations of N images and k classes each (float32 unless noted).

    ``classes`` (N, k) int64; ``gradients`` (N, k, H, W, 3) the guided gradients (times the
    upsampled CAM for Guided Grad-CAM); ``maps`` (N, k, H, W) the sum over colour channels of
    their absolute values, divided by its max (+ `EPS`), in [0, 1], the form the sanity check
    compares (Adebayo et al. 2018 use absolute values too).
    """

    classes: np.ndarray
    gradients: np.ndarray
    maps: np.ndarray


def _guided_relu_fn(max_value: float | None, threshold: float, slope: float) -> Any:
    """A ReLU-type activation whose gradient is ``relu'(x) * ReLU(upstream gradient)``."""

    @tf.custom_gradient
    def guided(x: Any) -> Any:
        y = tf.where(x > threshold, x, slope * (x - threshold))
        if max_value is not None:
            y = tf.minimum(y, max_value)

        def grad(dy: Any) -> Any:
            local = tf.where(x > threshold, tf.ones_like(x), tf.fill(tf.shape(x), slope))
            if max_value is not None:
                local = tf.where(x < max_value, local, tf.zeros_like(x))
            return local * tf.nn.relu(dy)

        return y, grad

    return guided


class _GuidedReLU(keras.layers.Layer):
    """Stands in for a ``ReLU`` (or ``Activation("relu")``) layer: same output, guided gradient."""

    def __init__(self, max_value: float | None, threshold: float, slope: float, name: str) -> None:
        super().__init__(name=name)
        self.fn = _guided_relu_fn(max_value, threshold, slope)

    def call(self, x: Any) -> Any:
        return self.fn(x)


class _GuidedActivation(keras.layers.Layer):
    """Calls a layer with a ReLU ``activation`` (sharing its weights) with the guided ReLU."""

    def __init__(self, layer: Any) -> None:
        super().__init__(name=f"{layer.name}_guided")
        self.inner = layer
        self.fn = _guided_relu_fn(None, 0.0, 0.0)

    def call(self, x: Any) -> Any:
        activation = self.inner.activation
        self.inner.activation = self.fn
        try:
            return self.inner.call(x)
        finally:
            self.inner.activation = activation


def guided_model(model: Any) -> Any:
    """A copy of ``model`` that shares its weights, with every ReLU's gradient guided.

    ``keras.layers.ReLU`` layers (any ``max_value``), ``Activation("relu")`` layers and layers
    whose ``activation`` is ``relu`` (VGG-16's convolutions) are replaced; the output is the
    model's logits (a softmax ending is dropped, as in `GradCAM`).
    """
    relu = keras.activations.relu

    def clone(layer: Any) -> Any:
        if isinstance(layer, keras.layers.ReLU):
            max_value = None if layer.max_value is None else float(layer.max_value)
            slope, threshold = float(layer.negative_slope), float(layer.threshold)
            return _GuidedReLU(max_value, threshold, slope, f"{layer.name}_guided")
        if isinstance(layer, keras.layers.Activation) and layer.activation is relu:
            return _GuidedReLU(None, 0.0, 0.0, f"{layer.name}_guided")
        if getattr(layer, "activation", None) is relu and not isinstance(
            layer, keras.layers.Activation
        ):
            return _GuidedActivation(layer)
        return layer

    logits_model = keras.Model(model.input, _logits(model))
    return keras.models.clone_model(logits_model, clone_function=clone)


class GuidedBackprop:
    """Guided Backpropagation of a Keras classifier's logits to its input, batched.

    ``model`` maps (N, H, W, 3) float32 to class scores (pre-softmax scores are used).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.guided = guided_model(model)
        self.num_classes = int(self.guided.output.shape[-1])
        self._run = tf.function(self._gradients, reduce_retracing=True)

    def rebuild(self, model: Any) -> GuidedBackprop:
        """The same explanation for another model (e.g. a re-initialised copy)."""
        return GuidedBackprop(model)

    def _gradients(self, x: Any, classes: Any, top: int) -> tuple[Any, Any]:
        """Graph body: classes (N, k) and guided input gradients (N, k, H, W, 3)."""
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            logits = self.guided(x, training=False)
            if classes is None:
                classes = tf.math.top_k(logits, top).indices
            scores = tf.gather(logits, classes, batch_dims=1)
        n = tf.shape(scores)[0]
        grads = [
            tape.gradient(scores, x, output_gradients=tf.one_hot(tf.fill([n], j), top))
            for j in range(top)
        ]
        del tape
        return classes, tf.stack(grads, axis=1)

    def compute(
        self, x: np.ndarray, classes: ArrayLike | None = None, top: int = 3
    ) -> GuidedResult:
        """Guided gradients of a preprocessed batch ``x`` (N, H, W, 3) float32.

        ``classes`` (N, k) or the top-``top`` classes, with the checks of `GradCAM.compute`.
        """
        x = tf.convert_to_tensor(np.asarray(x, dtype=np.float32))
        class_tensor, top = class_tensor_of(x, classes, top, self.num_classes)
        classes_t, grads = self._run(x, class_tensor, top)
        return _result(classes_t.numpy().astype(np.int64), grads.numpy())


class GuidedGradCAM:
    """Guided Grad-CAM: Guided Backprop times the CAM map upsampled to the input (bilinear).

    ``method`` picks the CAM (`deepvis.gradcam.methods`; default Grad-CAM, as in the paper).
    """

    def __init__(self, model: Any, layer_name: str, method: str = "gradcam") -> None:
        self.model = model
        self.cam = GradCAM(model, layer_name, method)
        self.backprop = GuidedBackprop(model)

    def rebuild(self, model: Any) -> GuidedGradCAM:
        """The same explanation for another model (e.g. a re-initialised copy)."""
        return GuidedGradCAM(model, self.cam.layer_name, self.cam.method)

    def compute(
        self, x: np.ndarray, classes: ArrayLike | None = None, top: int = 3
    ) -> GuidedResult:
        """Guided Grad-CAM of a preprocessed batch ``x`` (N, H, W, 3), ``classes`` or the top-k."""
        cam = self.cam.compute(x, classes=classes, top=top)
        guided = self.backprop.compute(x, classes=cam.classes)
        size = guided.gradients.shape[2:4]
        up = tf.image.resize(cam.maps.reshape(-1, *cam.maps.shape[2:], 1), size, "bilinear")
        up = np.asarray(up).reshape(*cam.maps.shape[:2], *size, 1)
        return _result(cam.classes, guided.gradients * up)


def _result(classes: np.ndarray, gradients: np.ndarray) -> GuidedResult:
    """`GuidedResult` from classes (N, k) and input gradients (N, k, H, W, 3)."""
    saliency = np.abs(gradients).sum(axis=-1)
    peak = saliency.max(axis=tuple(range(2, saliency.ndim)), keepdims=True)
    return GuidedResult(
        classes=classes, gradients=gradients.astype(np.float32), maps=saliency / (peak + EPS)
    )


def to_image(gradients: np.ndarray) -> np.ndarray:
    """Guided gradients (H, W, 3) -> uint8 RGB to show, as pytorch-grad-cam's ``deprocess_image``.

    Standardised, scaled by 0.1 around grey 0.5 and clipped: ``clip((g - mean) / (std + 1e-5)
    * 0.1 + 0.5, 0, 1) * 255``.
    """
    g = np.asarray(gradients, dtype=np.float64)
    g = (g - g.mean()) / (g.std() + 1e-5) * 0.1 + 0.5
    return np.uint8(np.clip(g, 0.0, 1.0) * 255)
