"""A cache for Exercise 2's expensive results (CAM maps, the evaluation, the sanity checks).

`cached` keys a result by a SHA-256 of everything that produced it: the model's weights, the
layer, the images' bytes, the method and settings (whatever the caller passes in ``key``), plus
the source of the modules that compute it and the TensorFlow and Keras versions. A rerun of
notebook 04 after a prose edit then loads the results instead of recomputing them; a change
of any input, or of the code, misses the cache and recomputes.

Entries live in ``data/cache/gradcam/<name>-<key>.pkl`` (shared by quick and full runs: their
settings differ, so their keys do). Each file starts with the SHA-256 of its payload, which is
checked before the payload is unpickled: a damaged or truncated entry is reported in one line
and recomputed, never loaded.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import pickle
import sys
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from deepvis.config import paths, shown
from deepvis.files import atomic_write_bytes

T = TypeVar("T")
_MAGIC = b"deepvis-gradcam-cache 1\n"
#: The modules whose source is part of every key: a change to them invalidates the cache.
CODE_MODULES = (
    "deepvis.gradcam.core",
    "deepvis.gradcam.methods",
    "deepvis.gradcam.guided",
    "deepvis.gradcam.checks",
    "deepvis.gradcam.evaluation",
    "deepvis.gradcam.layers",
)
_model_digests: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def cache_dir() -> Path:
    """``data/cache/gradcam`` under the project folder."""
    return paths().data / "cache" / "gradcam"


def model_digest(model: Any) -> str:
    """SHA-256 of a Keras model's weights (names, shapes, dtypes and bytes), computed once per
    model object."""
    if model not in _model_digests:
        digest = hashlib.sha256(model.name.encode())
        for weight in model.weights:
            value = np.ascontiguousarray(weight.numpy())
            digest.update(f"{weight.path}:{value.dtype}:{value.shape};".encode())
            digest.update(value.tobytes())
        _model_digests[model] = digest.hexdigest()
    return _model_digests[model]


@functools.cache
def _code_digest() -> str:
    """SHA-256 of the source of `CODE_MODULES` and of the TensorFlow and Keras versions, read
    once per process (the source the running code was loaded from)."""
    import keras
    import tensorflow as tf

    digest = hashlib.sha256(f"tf {tf.__version__} keras {keras.__version__};".encode())
    for name in CODE_MODULES:
        __import__(name)
        digest.update(inspect.getsource(sys.modules[name]).encode())
    return digest.hexdigest()


def _update(digest: Any, value: Any) -> None:
    """Feed `value` into `digest` unambiguously (type tags and lengths)."""
    if isinstance(value, np.ndarray):
        value = np.ascontiguousarray(value)
        digest.update(f"array:{value.dtype}:{value.shape};".encode())
        digest.update(value.tobytes())
    elif isinstance(value, Mapping):
        digest.update(f"map:{len(value)};".encode())
        for key in sorted(value, key=str):
            _update(digest, str(key))
            _update(digest, value[key])
    elif isinstance(value, list | tuple):
        digest.update(f"seq:{len(value)};".encode())
        for item in value:
            _update(digest, item)
    elif isinstance(value, bytes):
        digest.update(f"bytes:{len(value)};".encode() + value)
    elif value is None or isinstance(value, bool | int | float | str):
        text = repr(value).encode()
        digest.update(f"{type(value).__name__}:{len(text)};".encode() + text)
    else:
        raise TypeError(f"cannot key a cache entry on {type(value).__name__}")


def key_of(key: Mapping[str, Any]) -> str:
    """The hex SHA-256 of `key` (arrays, mappings, sequences, bytes and scalars) and the code."""
    digest = hashlib.sha256(_code_digest().encode())
    _update(digest, key)
    return digest.hexdigest()


def cached(name: str, key: Mapping[str, Any], compute: Callable[[], T]) -> T:
    """``compute()``'s result, from the cache when an intact entry for (`name`, `key`) exists.

    `name` is a short label for the file (e.g. ``"maps"``); `key` holds everything the result
    depends on besides the code (use `model_digest` for a model). A damaged entry is reported
    on stderr in one line and recomputed.
    """
    path = cache_dir() / f"{name}-{key_of(key)[:24]}.pkl"
    if path.is_file():
        data = path.read_bytes()
        head, _, payload = data[len(_MAGIC) :].partition(b"\n")
        if data.startswith(_MAGIC) and head.decode(errors="replace") == _sha256(payload):
            return pickle.loads(payload)
        print(f"note: cache entry {shown(path)} is damaged; recomputing it", file=sys.stderr)
    result = compute()
    payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    atomic_write_bytes(path, _MAGIC + _sha256(payload).encode() + b"\n" + payload)
    return result


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
