"""A cache for expensive results (both exercises' analyses), keyed by everything that made them.

`ResultCache.cached` keys a result by a SHA-256 of what produced it: whatever the caller passes
in ``key`` (a model's weights via `model_digest`, the images or arrays via `array_digest`, the
method and settings), plus the source of the modules that compute it and the TensorFlow and
Keras versions. A rerun of a notebook after a prose edit then loads the results instead of
recomputing them; a change of any input, or of the code, misses the cache and recomputes.

Entries live in ``data/cache/<folder>/<name>-<key>.pkl`` (shared by quick and full runs: their
inputs differ, so their keys do). Each file starts with the SHA-256 of its payload, which is
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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from deepvis.config import paths, shown
from deepvis.files import atomic_write_bytes

T = TypeVar("T")
_model_digests: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


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


def array_digest(*arrays: np.ndarray) -> str:
    """SHA-256 of the dtypes, shapes and bytes of `arrays`: a short key for large inputs
    (Fashion-MNIST's 60,000 training images), computed once and reused in many keys."""
    digest = hashlib.sha256()
    for array in arrays:
        _update(digest, np.asarray(array))
    return digest.hexdigest()


@functools.cache
def _code_digest(modules: tuple[str, ...]) -> str:
    """SHA-256 of the source of `modules` and of the TensorFlow and Keras versions, read once
    per process (the source the running code was loaded from)."""
    import keras
    import tensorflow as tf

    digest = hashlib.sha256(f"tf {tf.__version__} keras {keras.__version__};".encode())
    for name in modules:
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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ResultCache:
    """The results of one exercise, in ``data/cache/<folder>/``, keyed with the source of
    `code_modules` (importable module names): editing any of them invalidates every entry."""

    def __init__(self, folder: str, code_modules: Sequence[str]) -> None:
        self.folder = folder
        self.code_modules = tuple(code_modules)
        self._magic = f"deepvis-{folder}-cache 1\n".encode()

    @property
    def directory(self) -> Path:
        """``data/cache/<folder>`` under the project folder."""
        return paths().data / "cache" / self.folder

    def key_of(self, key: Mapping[str, Any]) -> str:
        """The hex SHA-256 of `key` (arrays, mappings, sequences, bytes and scalars) and of the
        code."""
        digest = hashlib.sha256(_code_digest(self.code_modules).encode())
        _update(digest, key)
        return digest.hexdigest()

    def path(self, name: str, key: Mapping[str, Any]) -> Path:
        """The file of the entry (`name`, `key`): ``<directory>/<name>-<24 hex digits>.pkl``."""
        return self.directory / f"{name}-{self.key_of(key)[:24]}.pkl"

    def cached(self, name: str, key: Mapping[str, Any], compute: Callable[[], T]) -> T:
        """``compute()``'s result, from the cache when an intact entry for (`name`, `key`)
        exists.

        `name` is a short label for the file (e.g. ``"maps"``); `key` holds everything the
        result depends on besides the code. A damaged entry is reported on stderr in one line
        and recomputed.
        """
        path = self.path(name, key)
        if path.is_file():
            data = path.read_bytes()
            head, _, payload = data[len(self._magic) :].partition(b"\n")
            if data.startswith(self._magic) and head.decode(errors="replace") == _sha256(payload):
                return pickle.loads(payload)
            print(f"note: cache entry {shown(path)} is damaged; recomputing it", file=sys.stderr)
        result = compute()
        payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        atomic_write_bytes(path, self._magic + _sha256(payload).encode() + b"\n" + payload)
        return result
