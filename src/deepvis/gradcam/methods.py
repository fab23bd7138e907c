"""The CAM methods, each one function of a layer's activations and the class-score gradients.

The seam is pytorch-grad-cam's ``base_cam.py``: one mechanism (`deepvis.gradcam.core.GradCAM`: one
forward pass, one backward pass per rank) supplies, inside one compiled graph,

* ``features`` (N, h, w, C) float32: the layer's activations ``A``;
* ``grads`` (N, k, h, w, C) float32: ``d y^c / d A`` for each image's k classes (None for the
  gradient-free methods),

and a method turns them into either channel weights (N, k, C), giving the map
``ReLU(sum_c weights_c A_c)``, or directly a map (N, k, h, w) before the ReLU. The formulas
follow pytorch-grad-cam 1.5.7 (constants included), against which
``tests/gradcam/test_reference.py`` checks every method. Score-CAM needs masked forward passes of
the model rather than gradients; `deepvis.gradcam.core` runs it (its entry here has ``fn=None``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import numpy as np
import tensorflow as tf
from threadpoolctl import ThreadpoolController

from deepvis.errors import DeepvisError


@dataclass(frozen=True)
class Method:
    """A CAM method: how it is called and what it returns.

    ``output`` is ``"weights"`` (``fn`` returns (N, k, C)) or ``"map"`` (``fn`` returns
    (N, k, h, w), or (N, 1, h, w) for all classes alike, before the ReLU); ``gradients`` says
    whether ``fn`` needs ``grads``; ``reference`` names the pytorch-grad-cam class computing the
    same thing (None if it has none).
    """

    name: str
    title: str
    output: Literal["weights", "map"]
    gradients: bool
    fn: Callable[[Any, Any], Any] | None
    reference: str | None
    paper: str


def _channel_sums(features: Any) -> Any:
    """(N, h, w, C) -> (N, 1, 1, 1, C): each channel's sum over the grid, broadcastable to grads."""
    return tf.reduce_sum(features, axis=(1, 2))[:, None, None, None, :]


def gradcam(features: Any, grads: Any) -> Any:
    """Grad-CAM weights (N, k, C): the spatial mean of the gradients, ``alpha_k^c``."""
    return tf.reduce_mean(grads, axis=(2, 3))


def gradcam_plus_plus(features: Any, grads: Any) -> Any:
    """Grad-CAM++ weights (N, k, C): positive gradients weighted by ``a_ij`` (eq. 19, exp head).

    ``a = g^2 / (2 g^2 + sum(A) g^3 + 1e-6)``, zero where ``g == 0``; weights ``sum a ReLU(g)``.
    """
    g2 = grads * grads
    g3 = g2 * grads
    aij = g2 / (2.0 * g2 + _channel_sums(features) * g3 + 1e-6)
    aij = tf.where(grads != 0, aij, tf.zeros_like(aij))
    return tf.reduce_sum(tf.nn.relu(grads) * aij, axis=(2, 3))


def xgradcam(features: Any, grads: Any) -> Any:
    """XGrad-CAM weights (N, k, C): ``sum(g A) / (sum(A) + 1e-7)`` over the grid."""
    weighted = grads * features[:, None] / (_channel_sums(features) + 1e-7)
    return tf.reduce_sum(weighted, axis=(2, 3))


def hirescam(features: Any, grads: Any) -> Any:
    """HiResCAM map (N, k, h, w): ``sum_c g_c A_c`` position by position (no averaging)."""
    return tf.reduce_sum(grads * features[:, None], axis=-1)


def layercam(features: Any, grads: Any) -> Any:
    """LayerCAM map (N, k, h, w): ``sum_c ReLU(g_c) A_c`` position by position."""
    return tf.reduce_sum(tf.nn.relu(grads) * features[:, None], axis=-1)


def counterfactual(features: Any, grads: Any) -> Any:
    """Counterfactual weights (N, k, C): Grad-CAM of the negated gradients (Selvaraju et al. §5).

    The map shows regions whose removal would raise the class score: evidence against it.
    """
    return -tf.reduce_mean(grads, axis=(2, 3))


def first_component(features: np.ndarray) -> np.ndarray:
    """(N, h, w, C) -> (N, h, w), same float dtype: centred activations on their first principal
    axis.

    As pytorch-grad-cam's ``get_2d_projection``: per image, rows are grid positions, columns
    channels; the column means are subtracted and the rows projected on the first right singular
    vector of ``numpy.linalg.svd`` (its sign is LAPACK's, kept as the reference keeps it). The
    thin SVD gives the same first vector, sign included, as the reference's full one, ten times
    faster (``tests/gradcam/test_reference.py`` checks the maps).
    """
    features = np.nan_to_num(np.asarray(features))
    out = []
    with _blas().limit(limits=1, user_api="blas"):  # BLAS threads would fight TensorFlow's
        for a in features:
            rows = a.reshape(-1, a.shape[-1])
            rows = rows - rows.mean(axis=0)
            _, _, vt = np.linalg.svd(rows, full_matrices=False)
            out.append((rows @ vt[0]).reshape(a.shape[:2]))
    return np.asarray(out, dtype=features.dtype)


@cache
def _blas() -> ThreadpoolController:
    """The loaded thread pools, found once (each `threadpoolctl.threadpool_limits` call looks
    them up again: 7 ms, a tenth of an EigenCAM call)."""
    return ThreadpoolController()


def eigencam(features: Any, grads: Any) -> Any:
    """EigenCAM map (N, 1, h, w): the first principal component of the activations.

    Gradient-free and class-independent: the caller repeats the one map for the k classes.
    Runs `first_component` (NumPy's SVD, like the reference) inside the graph.
    """
    projection = tf.numpy_function(first_component, [features], features.dtype, stateful=False)
    return tf.ensure_shape(projection, features.shape[:3])[:, None]


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("gradcam", "Grad-CAM", "weights", True, gradcam, "GradCAM", "Selvaraju 2017"),
        Method(
            "gradcam++",
            "Grad-CAM++",
            "weights",
            True,
            gradcam_plus_plus,
            "GradCAMPlusPlus",
            "Chattopadhay 2018",
        ),
        Method("xgradcam", "XGrad-CAM", "weights", True, xgradcam, "XGradCAM", "Fu 2020"),
        Method("hirescam", "HiResCAM", "map", True, hirescam, "HiResCAM", "Draelos 2020"),
        Method("layercam", "LayerCAM", "map", True, layercam, "LayerCAM", "Jiang 2021"),
        Method("eigencam", "EigenCAM", "map", False, eigencam, "EigenCAM", "Muhammad 2020"),
        Method("scorecam", "Score-CAM", "weights", False, None, "ScoreCAM", "Wang 2020"),
        Method(
            "counterfactual",
            "Counterfactual",
            "weights",
            True,
            counterfactual,
            None,
            "Selvaraju 2017",
        ),
    )
}

#: The methods compared in the evaluation table and the methods figure (not the counterfactual,
#: which explains the evidence against a class).
CAM_METHODS: tuple[str, ...] = (
    "gradcam",
    "gradcam++",
    "xgradcam",
    "hirescam",
    "layercam",
    "eigencam",
    "scorecam",
)


def method(name: str) -> Method:
    """The `Method` called ``name``; a `DeepvisError` listing the choices otherwise."""
    if name not in METHODS:
        raise DeepvisError(f"unknown CAM method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]
