"""The one exception type for mistakes a user can make (missing data, bad files, bad options)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any


class DeepvisError(Exception):
    """A user-fixable problem. The message says what was wrong and how to fix it, in one line."""


def one_line(text: str) -> str:
    """`text` with every run of whitespace, line breaks included, as one space."""
    return " ".join(text.split())


def cli_errors(main: Callable[..., int]) -> Callable[..., int]:
    """Decorate a CLI entry point: a `DeepvisError` becomes one stderr line and exit code 2."""

    @wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            return main(*args, **kwargs)
        except DeepvisError as err:
            print(f"error: {one_line(str(err))}", file=sys.stderr)
            return 2

    return wrapper
