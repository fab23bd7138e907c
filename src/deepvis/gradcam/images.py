"""Images in and out of Grad-CAM: reading any image file, resizing maps, overlays."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageOps

from deepvis.errors import DeepvisError


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB, EXIF orientation applied.

    Grayscale, palette, CMYK, 16-bit and images with alpha (composited over white) are
    converted. An unreadable, truncated, empty or non-image file, or one with more pixels than
    Pillow's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``, never raised here), raises a
    one-line `DeepvisError` naming the file.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():  # over the limit is refused below, not just warned about
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            limit = Image.MAX_IMAGE_PIXELS
            if limit and im.width * im.height > limit:
                raise DeepvisError(
                    f"{path}: {im.width}x{im.height} pixels exceeds Pillow's decompression-bomb "
                    f"limit of {limit}; downscale the image first"
                )
            im.load()
            return _to_rgb(ImageOps.exif_transpose(im))
    except DeepvisError:
        raise
    except Image.DecompressionBombError:
        raise DeepvisError(
            f"{path}: more pixels than twice Pillow's decompression-bomb limit of "
            f"{Image.MAX_IMAGE_PIXELS}; downscale the image first"
        ) from None
    except FileNotFoundError:
        raise DeepvisError(f"{path}: no such file") from None
    except Exception as err:  # Pillow signals bad files with many exception types
        reason = " ".join(str(err).split()) or type(err).__name__
        raise DeepvisError(f"{path}: not a readable image ({reason})") from None


def _to_rgb(im: Any) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8 RGB."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(im, dtype=np.float64)
        if im.mode.startswith("I;16") or values.max(initial=0) > 255:
            values = values / 257.0  # 16-bit range -> 8 bits (convert("RGB") would clip)
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


#: The standard ImageNet evaluation crop: the shorter side resized to 256 for a 224 crop.
CROP_RATIO = 256 / 224


def squash(image: np.ndarray, size: int) -> np.ndarray:
    """`image` (H, W, 3) uint8 resized whole to (size, size, 3) uint8 with PIL's bilinear
    filter: the aspect ratio changes unless H = W."""
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def centre_crop(image: np.ndarray, size: int, ratio: float = CROP_RATIO) -> np.ndarray:
    """`image` (H, W, 3) uint8 resized (bilinear) so that its shorter side is
    ``round(size * ratio)`` pixels, aspect ratio kept, then its central (size, size) square:
    (size, size, 3) uint8, the standard ImageNet evaluation preprocessing (``ratio`` 256/224)."""
    if ratio < 1:
        raise DeepvisError(f"ratio must be at least 1 (the crop lies in the image), not {ratio}")
    h, w = image.shape[:2]
    short = round(size * ratio)
    new = (max(short, round(w * short / h)), max(short, round(h * short / w)))  # (width, height)
    resized = np.asarray(Image.fromarray(image).resize(new, Image.BILINEAR))
    top, left = (new[1] - size) // 2, (new[0] - size) // 2
    return resized[top : top + size, left : left + size]


def resize_map(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinearly resize a scalar map (h, w) to ``size`` = (height, width); float32 in [0, 1]."""
    height, width = size
    image = Image.fromarray(np.asarray(cam, dtype=np.float32), mode="F")
    return np.clip(np.asarray(image.resize((width, height), Image.BILINEAR)), 0.0, 1.0)


def overlay(
    image: np.ndarray, heat: np.ndarray, alpha: float = 0.45, cmap: str = "jet"
) -> np.ndarray:
    """Blend a colour-mapped heat map (H, W) in [0, 1] over an RGB image (H, W, 3) uint8."""
    colours = colormaps[cmap](np.clip(heat, 0.0, 1.0))[..., :3] * 255.0
    blended = (1.0 - alpha) * image.astype(np.float32) + alpha * colours
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
