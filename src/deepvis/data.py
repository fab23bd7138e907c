"""Fashion-MNIST, loaded the assignment's way (``keras.datasets.fashion_mnist.load_data()``).

Offline, the four original files are first placed, verified, where Keras looks for them, so the
assignment's exact call reads them instead of downloading. Sources, first found wins:

1. env ``DEEPVIS_FASHION_MNIST_DIR``
2. ``data/fashion-mnist/`` in the project
3. the Debian package ``dataset-fashion-mnist`` (``apt-get install dataset-fashion-mnist``)
4. Keras' own cache, or its download when the network allows

Every file is checked by the SHA-256 of its *decompressed* content (Debian re-compressed the
``.gz`` files, so their own hashes differ from upstream's while the content is identical).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from deepvis.config import APT_PACKAGES, keras_home, paths
from deepvis.errors import DeepvisError

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: SHA-256 and size in bytes of each file's decompressed content.
FILES: dict[str, tuple[str, int]] = {
    "train-labels-idx1-ubyte.gz": (
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        60008,
    ),
    "train-images-idx3-ubyte.gz": (
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        47040016,
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        10008,
    ),
    "t10k-images-idx3-ubyte.gz": (
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        7840016,
    ),
}
#: Shape of one image as the models take it: height, width, channels.
IMAGE_SHAPE = (28, 28, 1)

(APT_PACKAGE,) = APT_PACKAGES["data"]
ENV_DIR = "DEEPVIS_FASHION_MNIST_DIR"


def content_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a gzip file's decompressed content, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except (OSError, EOFError) as err:
        raise DeepvisError(f"{path}: not a readable gzip file ({err}); replace it") from err
    return digest.hexdigest()


def verify_file(path: str | os.PathLike) -> None:
    """Raise `DeepvisError` naming the file and both hashes unless its content is the known one."""
    path = Path(path)
    expected, _ = FILES[path.name]
    actual = content_sha256(path)
    if actual != expected:
        raise DeepvisError(
            f"{path}: checksum mismatch, decompressed SHA-256 is {actual}, expected {expected}; "
            "the file is corrupt or not Fashion-MNIST, delete it and provide the original"
        )


def _debian_dir() -> Path | None:
    """The folder where the Debian package put the files, from ``dpkg -L``."""
    if shutil.which("dpkg") is None:
        return None
    try:
        out = subprocess.run(
            ["dpkg", "-L", APT_PACKAGE], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return None
    for line in out.splitlines():
        if line.endswith("/train-images-idx3-ubyte.gz"):
            return Path(line).parent
    return None


def candidate_sources() -> list[tuple[str, Path]]:
    """The (label, folder) sources in the order they are tried; only those that exist."""
    found: list[tuple[str, Path]] = []
    env = os.environ.get(ENV_DIR)
    if env:
        if not Path(env).is_dir():
            raise DeepvisError(f"{ENV_DIR}={env} is not a folder; point it at the four .gz files")
        found.append((f"env {ENV_DIR}", Path(env)))
    local = paths().data / "fashion-mnist"
    if local.is_dir():
        found.append(("data/fashion-mnist", local))
    deb = _debian_dir()
    if deb is not None and deb.is_dir():
        found.append((f"Debian package {APT_PACKAGE}", deb))
    return found


def keras_dataset_dir() -> Path:
    """Where ``keras.datasets.fashion_mnist.load_data()`` reads its files."""
    return keras_home() / "datasets" / "fashion-mnist"


def place_files(source: Path, target: Path) -> None:
    """Verify the four files in `source` and copy them into `target` (atomically, one by one)."""
    missing = [name for name in FILES if not (source / name).is_file()]
    if missing:
        raise DeepvisError(f"{source}: missing {', '.join(missing)}; provide all four .gz files")
    for name in FILES:
        verify_file(source / name)
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        dest = target / name
        if dest.is_file() and content_sha256(dest) == FILES[name][0]:
            continue
        tmp = dest.with_name(f".{name}.tmp")
        shutil.copyfile(source / name, tmp)
        os.replace(tmp, dest)


def prepare_keras_cache() -> str:
    """Make Keras' cache hold verified files; return a description of where they came from."""
    target = keras_dataset_dir()
    sources = candidate_sources()
    if sources:
        label, folder = sources[0]
        place_files(folder, target)
        return label
    if all((target / name).is_file() for name in FILES):
        for name in FILES:
            verify_file(target / name)
        return "Keras cache"
    return "download"


def load_fashion_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)``.

    Images are float32 in [0, 1] (divided by 255, as the assignment asks), shape (N, 28, 28, 1)
    with N = 60,000 and 10,000; labels are int64 in 0..9 (see `CLASS_NAMES`).
    """
    source = prepare_keras_cache()
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    except Exception as err:  # Keras raises several types for a failed download
        if source != "download":
            raise
        raise DeepvisError(
            "Fashion-MNIST not found and could not be downloaded; install it with "
            f"`apt-get install {APT_PACKAGE}` or set {ENV_DIR} to a folder holding "
            f"{', '.join(FILES)}"
        ) from err
    if source == "download":
        # Downloaded files are verified too, after the fact.
        for name in FILES:
            verify_file(keras_dataset_dir() / name)

    def prep(x: np.ndarray) -> np.ndarray:
        return (x.astype("float32") / 255.0)[..., None]

    return (prep(x_train), y_train.astype("int64")), (prep(x_test), y_test.astype("int64"))


def flatten(x: np.ndarray) -> np.ndarray:
    """Images (N, 28, 28[, 1]) or rows (N, 784) -> float32 matrix (N, 784), one row per image."""
    return np.asarray(x, dtype=np.float32).reshape(len(x), -1)


def unflatten(x: np.ndarray) -> np.ndarray:
    """Rows (N, 784) or images (N, 28, 28[, 1]) -> float32 images (N, 28, 28, 1)."""
    return np.asarray(x, dtype=np.float32).reshape(len(x), *IMAGE_SHAPE)
