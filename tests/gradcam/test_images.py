"""Reading image files, resizing maps and overlays."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from deepvis.errors import DeepvisError
from deepvis.gradcam import images


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("L", 128, (128, 128, 128)),
        ("RGBA", (10, 20, 30, 255), (10, 20, 30)),
        ("P", 0, None),
        ("CMYK", (0, 0, 0, 0), (255, 255, 255)),
        ("I;16", 32896, (128, 128, 128)),
    ],
)
def test_modes_become_rgb(tmp_path, mode, value, expected):
    path = tmp_path / f"img_{mode.replace(';', '')}.{'tif' if mode == 'CMYK' else 'png'}"
    Image.new(mode, (5, 4), value).save(path)
    image = images.load_image(path)
    assert image.shape == (4, 5, 3) and image.dtype == np.uint8
    if expected is not None:
        assert tuple(image[0, 0]) == expected


def test_transparent_pixels_become_white(tmp_path):
    path = tmp_path / "clear.png"
    Image.new("RGBA", (3, 3), (0, 0, 0, 0)).save(path)
    assert np.all(images.load_image(path) == 255)


def _jpeg(path):
    Image.new("RGB", (64, 64), (200, 10, 10)).save(path, format="JPEG")
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "not a readable image"),
        (lambda p: p.write_text("hello"), "not a readable image"),
        (lambda p: p.write_bytes(_jpeg(p).read_bytes()[:300]), "not a readable image"),
        (lambda p: p.mkdir(), "not a readable image"),
        (lambda p: None, "no such file"),
    ],
    ids=["empty", "text", "truncated", "directory", "missing"],
)
def test_bad_files_give_one_line_naming_the_file(tmp_path, make, message):
    path = tmp_path / "bad.jpg"
    make(path)
    with pytest.raises(DeepvisError, match=message) as err:
        images.load_image(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("limit", [3000, 1000])  # 4096 pixels: over the limit, over twice it
def test_decompression_bomb_is_refused_not_loaded(tmp_path, monkeypatch, limit):
    path = _jpeg(tmp_path / "big.jpg")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(DeepvisError, match=f"decompression-bomb limit of {limit}") as err:
        images.load_image(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert Image.MAX_IMAGE_PIXELS == limit


def test_resize_map_is_bilinear_to_the_original_size():
    cam = np.array([[0.0, 1.0]], dtype=np.float32)
    resized = images.resize_map(cam, (3, 8))
    assert resized.shape == (3, 8) and resized.dtype == np.float32
    row = resized[0]
    assert row[0] == 0.0 and row[-1] == 1.0 and np.all(np.diff(row) >= 0)
    assert 0.0 < row[3] < 1.0  # interpolated, not nearest


def test_overlay_blends_colours():
    image = np.zeros((2, 2, 3), np.uint8)
    out = images.overlay(image, np.ones((2, 2)), alpha=0.5)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert tuple(out[0, 0]) == (64, 0, 0)  # half of jet's dark red (0.5, 0, 0)


def test_gradcam_images_from_a_folder(tmp_path, monkeypatch):
    from deepvis.gradcam import testimages

    for name in testimages.COURSE_FILES:
        Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / name)
    monkeypatch.setenv("DEEPVIS_GRADCAM_IMAGES", str(tmp_path))
    paths = testimages.image_paths()
    assert paths == [tmp_path / f"gc{i}.jpg" for i in range(1, 6)]
    assert not (tmp_path / "SOURCES.md").exists()  # nothing written there


def test_gradcam_images_folder_missing_a_file(tmp_path, monkeypatch):
    from deepvis.gradcam import testimages

    Image.new("RGB", (8, 8)).save(tmp_path / "gc1.jpg")
    monkeypatch.setenv("DEEPVIS_GRADCAM_IMAGES", str(tmp_path))
    with pytest.raises(DeepvisError, match="lacks gc2.jpg, gc3.jpg, gc4.jpg, gc5.jpg"):
        testimages.image_paths()
    monkeypatch.setenv("DEEPVIS_GRADCAM_IMAGES", str(tmp_path / "nope"))
    with pytest.raises(DeepvisError, match="is not a folder"):
        testimages.image_paths()


def _four_colours() -> np.ndarray:
    """A 16x32 RGB picture in four solid quadrants: red, green / blue, yellow (top / bottom)."""
    image = np.zeros((16, 32, 3), dtype=np.uint8)
    image[:8, :16], image[:8, 16:] = (255, 0, 0), (0, 255, 0)
    image[8:, :16], image[8:, 16:] = (0, 0, 255), (255, 255, 0)
    return image


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_colour_pixels_keep_rgb_order(tmp_path, fmt):
    """Each channel where it belongs (a grey image could not show an RGB/BGR swap)."""
    path = tmp_path / f"colours.{fmt.lower()}"
    Image.fromarray(_four_colours()).save(path, format=fmt, quality=95)
    image = images.load_image(path)
    assert image.shape == (16, 32, 3)
    tolerance = 0 if fmt == "PNG" else 12  # JPEG's colour subsampling blurs the edges only
    for (row, col), colour in {
        (2, 4): (255, 0, 0),
        (2, 28): (0, 255, 0),
        (13, 4): (0, 0, 255),
        (13, 28): (255, 255, 0),
    }.items():
        assert np.abs(image[row, col].astype(int) - colour).max() <= tolerance, (row, col)


@pytest.mark.parametrize(
    ("orientation", "upright"),
    [
        (1, lambda a: a),
        (3, lambda a: np.rot90(a, 2)),  # stored upside down
        (6, lambda a: np.rot90(a, -1)),  # stored turned left: shown turned 90 degrees clockwise
        (8, lambda a: np.rot90(a, 1)),  # stored turned right
        (2, lambda a: a[:, ::-1]),  # mirrored
    ],
)
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_exif_orientation_is_applied(tmp_path, orientation, upright, fmt):
    stored = _four_colours()
    exif = Image.Exif()
    exif[0x0112] = orientation  # the EXIF Orientation tag
    path = tmp_path / f"photo.{fmt.lower()}"
    Image.fromarray(stored).save(path, format=fmt, exif=exif, quality=95)
    expected = upright(stored)
    image = images.load_image(path)
    assert image.shape == expected.shape
    # Compare the quadrants' centres (JPEG blurs the colour edges).
    rows = [expected.shape[0] // 4, 3 * expected.shape[0] // 4]
    cols = [expected.shape[1] // 4, 3 * expected.shape[1] // 4]
    for r in rows:
        for c in cols:
            assert np.abs(image[r, c].astype(int) - expected[r, c]).max() <= 12, (r, c)


def test_centre_crop_keeps_the_middle_of_a_wide_image():
    """A 100x300 image whose columns are numbered: the shorter side becomes 32 (16 x 2), the
    width 96, and the crop keeps the 16 middle columns, so the left and right thirds are gone."""
    columns = np.tile(np.linspace(0, 255, 300).astype(np.uint8), (100, 1))
    image = np.repeat(columns[..., None], 3, axis=2)
    crop = images.centre_crop(image, 16, ratio=2.0)
    assert crop.shape == (16, 16, 3) and crop.dtype == np.uint8
    # the crop's columns lie in the middle third (values ~85..170), the squash spans them all
    assert 85 < crop[..., 0].min() and crop[..., 0].max() < 170
    whole = images.squash(image, 16)
    assert whole.shape == (16, 16, 3) and whole[..., 0].min() < 20 and whole[..., 0].max() > 235


def test_centre_crop_of_a_square_image_at_ratio_one_is_the_squash():
    image = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    crop = images.centre_crop(image, 20, ratio=1.0)
    np.testing.assert_array_equal(crop, images.squash(image, 20))


def test_centre_crop_refuses_a_ratio_below_one():
    with pytest.raises(DeepvisError, match="ratio must be at least 1"):
        images.centre_crop(np.zeros((8, 8, 3), np.uint8), 4, ratio=0.5)
