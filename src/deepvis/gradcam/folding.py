"""Batch-norm folding: a classifier's inference graph with each batch-norm merged into its conv.

In inference a `keras.layers.BatchNormalization` is a per-channel affine map,
``gamma (z - mean) / sqrt(var + eps) + beta``, so a convolution ``z = W * x + b`` followed by it
is one convolution with kernel ``W s`` and bias ``(b - mean) s + beta``, ``s = gamma / sqrt(var
+ eps)`` per output channel. `fold_batch_norm` rebuilds a functional model that way: the same
function (up to float rounding), about 1.5x faster for EfficientNet-Lite0's forward pass (32
images: 360 to 410 ms instead of 550 to 620 ms on AMD EPYC), whose 49 batch-norms otherwise
each make two passes over their feature map. The folded model shares
every variable with the original and computes ``W s`` on each call, so it follows any change of
the original's weights (the sanity checks re-initialise layers in place).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import keras
from keras import layers, ops

#: The convolutions a batch-norm folds into (exact types: a subclass may change ``call``).
FOLDABLE = (layers.Conv2D, layers.DepthwiseConv2D)


class FoldedConv(layers.Layer):
    """A `FOLDABLE` convolution and the batch-norm after it, as one convolution.

    Shares ``conv``'s and ``bn``'s variables; (N, H, W, C) -> the batch-norm's output in
    inference, channels last.
    """

    def __init__(self, conv: Any, bn: Any, **kwargs: Any) -> None:
        super().__init__(name=conv.name, dtype=conv.dtype_policy, **kwargs)
        self.conv, self.bn = conv, bn

    def call(self, x: Any) -> Any:
        conv, bn = self.conv, self.bn
        scale = ops.rsqrt(bn.moving_variance + bn.epsilon)
        if bn.scale:
            scale = scale * bn.gamma
        bias = -bn.moving_mean * scale
        if conv.use_bias:
            bias = bias + conv.bias * scale
        if bn.center:
            bias = bias + bn.beta
        args = dict(strides=conv.strides, padding=conv.padding, dilation_rate=conv.dilation_rate)
        if isinstance(conv, layers.DepthwiseConv2D):  # kernel (kh, kw, C, M), output c * M + m
            kernel = conv.kernel * ops.reshape(scale, conv.kernel.shape[2:])
            y = ops.depthwise_conv(x, kernel, data_format="channels_last", **args)
        else:  # kernel (kh, kw, C, O)
            y = ops.conv(x, conv.kernel * scale, data_format="channels_last", **args)
        return y + bias


def foldable_pairs(model: Any, keep: Collection[str] = ()) -> dict[str, Any]:
    """``{conv name: batch-norm layer}`` for each batch-norm of ``model`` that `fold_batch_norm`
    merges: over the channel axis (last) of a `FOLDABLE` conv with no activation and one
    group, whose output feeds nothing else (no other layer, not the model's output). Convs
    named in ``keep`` stay as they are (their own output is then still in the graph, e.g. a
    Grad-CAM layer).
    """
    producer = {id(layer.output): layer for layer in model.layers}
    consumers: dict[int, int] = {}
    for layer in model.layers:
        for tensor in keras.tree.flatten(layer.input) if layer.input is not None else ():
            consumers[id(tensor)] = consumers.get(id(tensor), 0) + 1
    for tensor in model.outputs:
        consumers[id(tensor)] = consumers.get(id(tensor), 0) + 1
    pairs = {}
    for bn in model.layers:
        if type(bn) is not layers.BatchNormalization or bn.axis not in (-1, 3):
            continue
        conv = producer.get(id(bn.input))
        if (
            type(conv) in FOLDABLE
            and conv.name not in keep
            and conv.activation is keras.activations.linear
            and getattr(conv, "groups", 1) == 1
            and conv.data_format == "channels_last"
            and consumers[id(conv.output)] == 1
        ):
            pairs[conv.name] = bn
    return pairs


def fold_batch_norm(model: Any, keep: Collection[str] = ()) -> Any:
    """``model`` (a functional Keras model) with every pair of `foldable_pairs` merged into one
    `FoldedConv` named after the conv, and the batch-norm's name kept by an identity layer
    (so ``get_layer`` finds every name but the folded convs' outputs). ``model`` itself when
    nothing folds (VGG-16 has no batch-norm). For inference only: ``training=True`` would still
    use the moving statistics.
    """
    pairs = foldable_pairs(model, keep)
    if not pairs:
        return model
    folded = {bn.name for bn in pairs.values()}

    def call(layer: Any, *args: Any, **kwargs: Any) -> Any:
        if layer.name in pairs:
            return FoldedConv(layer, pairs[layer.name])(*args)
        if layer.name in folded:
            return layers.Identity(name=layer.name, dtype=layer.dtype_policy)(*args)
        return layer(*args, **kwargs)

    clone = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)
    return keras.Model(clone.input, clone.output, name=f"{model.name}_folded")
