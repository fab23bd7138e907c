"""Benchmark: top-3 Grad-CAM of the five test images, batched vs the Keras example's way.

The Keras Grad-CAM example (keras.io/examples/vision/grad_cam) calls the whole model eagerly
under a tape once per image and class. `deepvis.gradcam.core.GradCAM` runs one compiled forward pass
over the batch and one backward pass per rank. `run` times both on the same inputs, checks
that they give the same maps, and prints the speed-up as its last line
(``python -m deepvis.bench gradcam``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from deepvis.gradcam.core import EPS, GradCAM
from deepvis.gradcam.imagenet import load_model
from deepvis.gradcam.images import load_image
from deepvis.gradcam.testimages import image_paths


def keras_example_maps(grad_model: keras.Model, x: np.ndarray, top: int) -> np.ndarray:
    """The example's loop: per image and rank, one taped model call -> (N, k, h, w) in [0, 1]."""
    maps = []
    for image in x:
        batch = image[None]
        for rank in range(top):
            with tf.GradientTape() as tape:
                features, preds = grad_model(batch)
                pred_index = tf.math.top_k(preds[0], top).indices[rank]
                class_channel = preds[:, pred_index]
            grads = tape.gradient(class_channel, features)
            pooled = tf.reduce_mean(grads, axis=(0, 1, 2))
            heatmap = tf.squeeze(features[0] @ pooled[..., tf.newaxis])
            heatmap = tf.maximum(heatmap, 0) / (tf.reduce_max(heatmap) + EPS)
            maps.append(heatmap.numpy())
    return np.stack(maps).reshape(len(x), top, *maps[0].shape)


def _best_time(fn: Callable[[], object], repeats: int) -> float:
    """Shortest wall time of ``repeats`` calls, in seconds (after one untimed warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(model: str = "auto", repeats: int = 3, top: int = 3) -> float:
    """Time both ways on gc1..gc5 and return the speed-up (example time / project time)."""
    net = load_model(model)
    x = net.prepare([load_image(p) for p in image_paths()])
    cam = GradCAM(net.model, net.layer)
    ours = cam.compute(x, top=top).maps
    theirs = keras_example_maps(cam.grad_model, x, top)
    diff = float(np.abs(ours - theirs).max())
    print(f"model {net.name}, layer {net.layer}, {len(x)} images, top-{top}")
    print(f"max |difference| between the two ways' maps: {diff:.2e}")
    t_ours = _best_time(lambda: cam.compute(x, top=top), repeats)
    t_theirs = _best_time(lambda: keras_example_maps(cam.grad_model, x, top), repeats)
    print(f"project (batched, one forward + {top} backward): {t_ours * 1000:.0f} ms")
    print(f"Keras example (one taped call per image and class): {t_theirs * 1000:.0f} ms")
    speedup = t_theirs / t_ours
    print(f"speed-up: {speedup:.1f}x")
    return speedup
