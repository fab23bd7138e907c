"""Grad-CAM maths on tiny models, bad inputs, image loading, resizing and the check helpers."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from PIL import Image

from deepvis import gradcam
from deepvis.errors import DeepvisError
from deepvis.gradcam import GradCAM

N_CLASSES = 5


def tiny_model(activation: str | None = None, seed: int = 0) -> keras.Model:
    """conv (6x6x4, ReLU) -> global average pooling -> Dense(5)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(N_CLASSES, activation=activation, name="dense")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(1).normal(size=(3, 6, 6, 3)).astype(np.float32)


def test_cam_identity_on_conv_gap_dense(model, x):
    """With GAP then Dense, alpha_k^c = w_kc / (h w), so the map is ReLU(sum_k w_kc A^k) / (h w)."""
    result = GradCAM(model, "conv").compute(x, top=3)
    features = np.asarray(keras.Model(model.input, model.get_layer("conv").output)(x))
    weights = model.get_layer("dense").kernel.numpy()  # (C, classes)
    for n in range(len(x)):
        for j, c in enumerate(result.classes[n]):
            expected = np.maximum(features[n] @ weights[:, c], 0) / 36
            np.testing.assert_allclose(result.raw[n, j], expected, atol=1e-5)
            np.testing.assert_allclose(result.alphas[n, j], weights[:, c] / 36, atol=1e-7)
    logits = np.asarray(model(x))
    np.testing.assert_array_equal(result.classes, np.argsort(-logits, axis=1)[:, :3])
    np.testing.assert_allclose(result.scores, np.take_along_axis(logits, result.classes, 1), 1e-5)


def test_alphas_match_finite_differences():
    """alpha from the tape vs central differences of y^c in each feature map (non-linear head)."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((4, 4, 2))
    features = keras.layers.Conv2D(3, 3, padding="same", activation="tanh", name="conv")(inputs)
    head = keras.layers.Conv2D(2, 3, padding="same", activation="tanh")(features)
    logits = keras.layers.Dense(4)(keras.layers.Flatten()(head))
    model = keras.Model(inputs, logits)
    tail = keras.Model(features, logits)  # the network above the conv layer
    x = np.random.default_rng(2).normal(size=(1, 4, 4, 2)).astype(np.float32)
    result = GradCAM(model, "conv").compute(x, classes=[[2]])
    a = np.asarray(keras.Model(inputs, features)(x), dtype=np.float64)
    h = 1e-2
    for k in range(3):
        grad = np.zeros((4, 4))
        for i in range(4):
            for j in range(4):
                up, down = a.copy(), a.copy()
                up[0, i, j, k] += h
                down[0, i, j, k] -= h
                ys = np.asarray(tail(np.concatenate([up, down]).astype(np.float32)))[:, 2]
                grad[i, j] = (ys[0] - ys[1]) / (2 * h)
        np.testing.assert_allclose(result.alphas[0, 0, k], grad.mean(), atol=2e-4)


def test_batched_top_k_equals_per_class_loop(model, x):
    cam = GradCAM(model, "conv")
    batched = cam.compute(x, top=3)
    for n in range(len(x)):
        for j, c in enumerate(batched.classes[n]):
            single = cam.compute(x[n : n + 1], classes=[[c]])
            np.testing.assert_allclose(batched.raw[n, j], single.raw[0, 0], atol=1e-5)
            np.testing.assert_allclose(batched.maps[n, j], single.maps[0, 0], atol=1e-5)


def test_softmax_ending_uses_pre_softmax_scores(model, x):
    soft = tiny_model("softmax")
    soft.set_weights(model.get_weights())
    expected = GradCAM(model, "conv").compute(x, top=2)
    result = GradCAM(soft, "conv").compute(x, top=2)
    np.testing.assert_allclose(result.raw, expected.raw, atol=1e-6)
    np.testing.assert_allclose(result.probabilities, expected.probabilities, atol=1e-6)
    assert soft.get_layer("dense").activation is keras.activations.softmax  # restored


def test_maps_are_normalised_and_zero_maps_are_reported(model, x):
    result = GradCAM(model, "conv").compute(x, top=N_CLASSES)
    assert np.all(np.isfinite(result.maps)) and result.maps.max() <= 1.0
    peaks = result.maps.max(axis=(2, 3))
    np.testing.assert_allclose(peaks[~result.zero], 1.0, atol=1e-6)
    dead = tiny_model()
    dead.get_layer("conv").set_weights([np.zeros((3, 3, 3, 4)), -np.ones(4)])  # ReLU kills all
    zero = GradCAM(dead, "conv").compute(x, top=2)
    assert zero.zero.all() and np.all(zero.maps == 0) and np.all(np.isfinite(zero.maps))


def test_vgg16_block5_conv3_map_is_14x14():
    from keras.applications import VGG16

    vgg = VGG16(weights=None, classifier_activation=None)
    result = GradCAM(vgg, "block5_conv3").compute(np.zeros((1, 224, 224, 3), np.float32), top=1)
    assert result.maps.shape == (1, 1, 14, 14)


def test_unknown_layer_lists_conv_layers(model):
    with pytest.raises(DeepvisError, match="no layer 'nope'; its conv layers are: conv") as err:
        GradCAM(model, "nope")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["gap", "dense"])
def test_non_conv_layer_is_refused(model, name):
    with pytest.raises(DeepvisError, match="not a conv feature map"):
        GradCAM(model, name)


@pytest.mark.parametrize("classes", [[[N_CLASSES]], [[-1]]])
def test_class_index_out_of_range(model, x, classes):
    with pytest.raises(DeepvisError, match="out of range"):
        GradCAM(model, "conv").compute(x[:1], classes=classes)


@pytest.mark.parametrize("top", [0, N_CLASSES + 1])
def test_top_out_of_range(model, x, top):
    with pytest.raises(DeepvisError, match="top must be between 1 and 5"):
        GradCAM(model, "conv").compute(x, top=top)


# --------------------------------------------------------------------------- images


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
    image = gradcam.load_image(path)
    assert image.shape == (4, 5, 3) and image.dtype == np.uint8
    if expected is not None:
        assert tuple(image[0, 0]) == expected


def test_transparent_pixels_become_white(tmp_path):
    path = tmp_path / "clear.png"
    Image.new("RGBA", (3, 3), (0, 0, 0, 0)).save(path)
    assert np.all(gradcam.load_image(path) == 255)


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
        gradcam.load_image(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("limit", [3000, 1000])  # 4096 pixels: over the limit, over twice it
def test_decompression_bomb_is_refused_not_loaded(tmp_path, monkeypatch, limit):
    path = _jpeg(tmp_path / "big.jpg")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(DeepvisError, match=f"decompression-bomb limit of {limit}") as err:
        gradcam.load_image(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert Image.MAX_IMAGE_PIXELS == limit


def test_resize_map_is_bilinear_to_the_original_size():
    cam = np.array([[0.0, 1.0]], dtype=np.float32)
    resized = gradcam.resize_map(cam, (3, 8))
    assert resized.shape == (3, 8) and resized.dtype == np.float32
    row = resized[0]
    assert row[0] == 0.0 and row[-1] == 1.0 and np.all(np.diff(row) >= 0)
    assert 0.0 < row[3] < 1.0  # interpolated, not nearest


def test_overlay_blends_colours():
    image = np.zeros((2, 2, 3), np.uint8)
    out = gradcam.overlay(image, np.ones((2, 2)), alpha=0.5)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert tuple(out[0, 0]) == (64, 0, 0)  # half of jet's dark red (0.5, 0, 0)


# --------------------------------------------------------------------------- checks


def test_sanity_check_degrades_and_leaves_model_alone(model, x):
    before = [w.copy() for w in model.get_weights()]
    steps = gradcam.sanity_check(model, "conv", x[:1], steps=2)
    assert [s.name for s in steps] == ["trained", "dense", "conv"]
    assert steps[0].spearman == 1.0 and all(-1 <= s.spearman <= 1 for s in steps)
    assert steps[-1].layers == ("dense", "conv")
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_spearman_of_constant_map_is_zero():
    assert gradcam.spearman(np.zeros((2, 2)), np.arange(4.0)) == 0.0
    assert gradcam.spearman(np.arange(4.0), np.arange(4.0)) == pytest.approx(1.0)


class _Net:
    """Minimal stand-in for ImageNetModel: 'prepare' is identity on a (6, 6, 3) image list."""

    def __init__(self, model):
        self.model = model

    def prepare(self, images):
        return np.stack(images).astype(np.float32) / 255.0


def test_faithfulness_shapes_and_original_probability(model):
    image = np.random.default_rng(0).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    heat = np.random.default_rng(1).random((2, 6, 6))
    result = gradcam.faithfulness(_Net(model), image, heat, [0, 3])
    logits = np.asarray(model(image[None].astype(np.float32) / 255.0))[0]
    probs = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(result.original, probs[[0, 3]], atol=1e-6)
    assert result.drop_salient.shape == result.drop_random.shape == (2,)
