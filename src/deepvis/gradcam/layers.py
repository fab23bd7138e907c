"""How Grad-CAM's maps compare across layers of EfficientNet-Lite0: a comparison, not a choice.

The Grad-CAM layer is the final conv layer, as the assignment asks (EfficientNet-Lite0's
``top_activation``, `deepvis.gradcam.imagenet.lite0.LITE0_LAYER`). Equation (1) averages the
gradient ``d y^c / d A^k_ij`` over the positions of each feature map. Lite0's head
global-average-pools the last maps and applies one dense layer with weights ``w^c_k``, so there
the gradient is ``w^c_k / (h w)`` (``/ 49`` on the 7x7 grid) at every position, the average is
of a constant and Grad-CAM equals CAM (Zhou et al. 2016): the special case the Grad-CAM paper
(Selvaraju et al.) derives. VGG-16's flatten and fully-connected layers make its gradient vary.
Earlier layers of Lite0 have gradients that vary over positions; `compare_layers` measures, per
layer:

* the **spatial spread** of the gradient (`gradient_spread`): 0 exactly when every channel's
  gradient is the same at every position;
* the **deletion** and **insertion** AUC of the layer's Grad-CAM maps
  (`deepvis.gradcam.evaluation.deletion_insertion`);
* how much the rank-1 map differs from the rank-2 and rank-3 maps: the IoU of their top-20 %
  regions (`deepvis.gradcam.checks.top_iou`) and Spearman's rho (`checks.spearman`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from deepvis.gradcam.checks import spearman, top_iou
from deepvis.gradcam.core import GradCAM
from deepvis.gradcam.evaluation import deletion_insertion, network_images, upsample

#: EfficientNet-Lite0's layers compared: the last stride-16 map (14x14x112, the grid of VGG-16's
#: block5_conv3), the last 7x7 block output (7x7x320) and the last activation (7x7x1280, the
#: Grad-CAM layer, followed by global average pooling and the classifier).
LITE0_CANDIDATES = ("block10_add", "block15_project_bn", "top_activation")

COLUMNS = {
    "grid": "grid (h x w x C)",
    "spread": "gradient spread",
    "deletion": "deletion AUC",
    "insertion": "insertion AUC",
    "iou": "top-20% IoU, rank 1 vs 2/3",
    "rho": "Spearman rho, rank 1 vs 2/3",
}


def class_gradients(cam: GradCAM, x: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``d y^c / d A`` (N, k, h, w, C) float32 at ``cam``'s layer for each image's ``classes``
    (N, k); ``x`` (N, H, W, 3) preprocessed. One taped forward pass, one backward pass per rank."""
    x = tf.convert_to_tensor(np.asarray(x, np.float32))
    chosen = tf.constant(np.asarray(classes), tf.int32)
    with tf.GradientTape(persistent=True) as tape:
        features, logits = cam.grad_model(x, training=False)
        scores = tf.gather(logits, chosen, batch_dims=1)  # (N, k)
        ranked = [scores[:, j] for j in range(chosen.shape[1])]
    grads = [tape.gradient(score, features).numpy() for score in ranked]
    del tape
    return np.stack(grads, axis=1)


def gradient_spread(grads: np.ndarray) -> np.ndarray:
    """Relative spatial spread of gradients (..., h, w, C) -> (...) float64 in [0, 1].

    ``sqrt(sum_k sum_ij (g_ijk - mean_ij g_k)^2) / sqrt(sum_k sum_ij g_ijk^2)``: the share of
    the gradient's energy that varies over positions. 0 when each channel's gradient is
    constant in space (equation (1) then averages a constant), 1 when every channel's gradient
    averages to zero; 0 for an all-zero gradient.
    """
    g = np.asarray(grads, np.float64)
    varying = g - g.mean(axis=(-3, -2), keepdims=True)
    total = np.sqrt((g**2).sum(axis=(-3, -2, -1)))
    spread = np.sqrt((varying**2).sum(axis=(-3, -2, -1)))
    return np.divide(spread, total, out=np.zeros_like(total), where=total > 0)


def rank_agreement(maps: np.ndarray, fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Top-``fraction`` IoU and Spearman rho (N, k - 1) each of rank 1's map against ranks
    2..k; ``maps`` (N, k, h, w) on the layer's grid."""
    iou = np.array([[top_iou(m[0], other, fraction) for other in m[1:]] for m in maps])
    rho = np.array([[spearman(m[0], other) for other in m[1:]] for m in maps])
    return iou, rho


def compare_layers(
    net: Any,
    images: Sequence[np.ndarray],
    layers: Sequence[str],
    top: int = 3,
    steps: int = 6,
) -> pd.DataFrame:
    """One row per layer of ``net`` (an ``ImageNetModel``): the measurements of this module.

    ``images`` N uint8 RGB arrays; each image's top-``top`` classes (the same at every layer)
    are explained with Grad-CAM. Columns (`COLUMNS`): ``grid`` text; the others means over the
    N x ``top`` maps (``spread``, ``deletion``, ``insertion``; ``steps`` as
    ``deletion_insertion``) or over the N x (``top`` - 1) rank pairs (``iou``, ``rho``).
    Costs N x top x (2 (steps - 1)) + 3 N forward passes per layer.
    """
    x = net.prepare(images)
    base = network_images(net, images)
    rows = {}
    classes = None
    for name in layers:
        cam = GradCAM(net.model, name)
        result = cam.compute(x, classes=classes, top=top)
        classes = result.classes
        spread = gradient_spread(class_gradients(cam, x, classes))
        saliency = upsample(result.raw, net.input_size)
        aucs = [
            deletion_insertion(cam, net, base[i], saliency[i], classes[i], steps)
            for i in range(len(images))
        ]
        iou, rho = rank_agreement(result.maps)
        h, w = cam.grid
        channels = int(cam.grad_model.outputs[0].shape[-1])
        rows[name] = {
            "grid": f"{h}x{w}x{channels}",
            "spread": float(spread.mean()),
            "deletion": float(np.mean([d for d, _ in aucs])),
            "insertion": float(np.mean([i for _, i in aucs])),
            "iou": float(iou.mean()),
            "rho": float(rho.mean()),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "layer"
    return frame
