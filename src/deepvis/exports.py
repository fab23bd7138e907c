"""Public names of a subpackage, imported on first use (PEP 562).

``from deepvis.gradcam import GradCAM`` should work without ``import deepvis.gradcam`` loading
TensorFlow: a package's ``__init__`` lists its public names and the modules that define them,
and `lazy` gives it the module-level ``__getattr__`` and ``__dir__`` that import them on demand.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """PEP 562 ``__getattr__`` and ``__dir__`` for `package`: a name of `exports` (name ->
    defining module) or a submodule is imported on its first access, then kept in the package."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
        else:
            try:
                value = importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as err:
                if err.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
