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

    monkeypatch.setattr(config, "keras_home", lambda: str(tmp_path))
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

    monkeypatch.setattr(config, "keras_home", lambda: str(tmp_path))
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

    monkeypatch.setattr(config, "keras_home", lambda: str(tmp_path))
    monkeypatch.delenv("DEEPVIS_VGG16_WEIGHTS", raising=False)
    monkeypatch.setattr(models, "_load_lite0", lambda: lite0)
    assert models.load_model("auto") is lite0
    assert "Using EfficientNet-Lite0 instead" in capsys.readouterr().err


# Reference: offline-facts (independent implementation; PIL bilinear to 224, (x - 127) / 128).
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


def test_lite0_layer_and_preprocessing(lite0):
    assert lite0.model.get_layer(lite0.layer).output.shape[1:] == (7, 7, 1280)
    assert GradCAM(lite0.model, lite0.layer).grid == (7, 7)
    images = np.full((1, 224, 224, 3), 255, dtype=np.uint8)
    np.testing.assert_allclose(lite0.preprocess(images), 1.0)
    assert images[0, 0, 0, 0] == 255  # untouched


def test_vgg16_preprocessing_leaves_its_input_alone():
    images = np.full((1, 224, 224, 3), 200.0, dtype=np.float32)
    out = models.preprocess_vgg16(images)
    assert np.all(images == 200.0)
    np.testing.assert_allclose(
        out[0, 0, 0], [200 - 103.939, 200 - 116.779, 200 - 123.68], atol=1e-4
    )


def test_vgg16_offline_download_fails_fast_in_one_line(tmp_path, monkeypatch):
    """Asked for by name with no weights on disk, VGG-16 is fetched; offline that fails at once."""
    import time

    from keras.src.backend import config

    monkeypatch.setattr(config, "keras_home", lambda: str(tmp_path))
    monkeypatch.delenv("DEEPVIS_VGG16_WEIGHTS", raising=False)
    monkeypatch.setattr(models.socket, "create_connection", _offline)
    start = time.perf_counter()
    with pytest.raises(DeepvisError) as err:
        models.load_model("vgg16")
    assert time.perf_counter() - start < 10
    message = str(err.value)
    assert "\n" not in message and "Network is unreachable" in message
    assert f"put {models.VGG16_WEIGHTS_FILE} in {tmp_path / 'models'}" in message


def test_vgg16_download_is_what_keras_fetches(tmp_path, monkeypatch):
    """The fetch is keras.applications.VGG16(weights="imagenet"), with sockets bounded in time."""
    import socket

    import keras.applications
    from keras.src.backend import config

    monkeypatch.setattr(config, "keras_home", lambda: str(tmp_path))
    monkeypatch.delenv("DEEPVIS_VGG16_WEIGHTS", raising=False)
    monkeypatch.setattr(models.socket, "create_connection", lambda *a, **k: _Closable())
    calls = []

    def fake_vgg16(**kwargs):
        calls.append((kwargs, socket.getdefaulttimeout()))
        return "the model"

    monkeypatch.setattr(keras.applications, "VGG16", fake_vgg16)
    net = models.load_model("vgg16")
    assert net.model == "the model" and net.layer == "block5_conv3"
    assert calls == [
        ({"weights": "imagenet", "classifier_activation": None}, models.DOWNLOAD_TIMEOUT)
    ]
    assert socket.getdefaulttimeout() is None  # restored


class _Closable:
    def close(self):
        pass


def test_auto_never_downloads(tmp_path, monkeypatch, capsys):
    from keras.src.backend import config

    monkeypatch.setattr(config, "keras_home", lambda: str(tmp_path))
    monkeypatch.delenv("DEEPVIS_VGG16_WEIGHTS", raising=False)
    monkeypatch.setattr(models, "download_vgg16", lambda: pytest.fail("auto tried to download"))
    monkeypatch.setattr(models, "_load_lite0", lambda: "lite0")
    assert models.load_model("auto") == "lite0"


def test_vgg16_from_a_weights_file(tmp_path, monkeypatch):
    """DEEPVIS_VGG16_WEIGHTS: a VGG-16 with random weights saved to a file loads bit for bit."""
    from keras.applications import VGG16

    random_vgg = VGG16(weights=None, classifier_activation=None)
    path = tmp_path / "vgg16_random.weights.h5"
    random_vgg.save_weights(path)
    monkeypatch.setenv("DEEPVIS_VGG16_WEIGHTS", str(path))
    net = models.load_model("auto")
    assert net.name == "vgg16" and net.layer == "block5_conv3"
    for a, b in zip(random_vgg.get_weights()[-2:], net.model.get_weights()[-2:], strict=True):
        np.testing.assert_array_equal(a, b)
    result = GradCAM(net.model, net.layer).compute(np.zeros((1, 224, 224, 3), np.float32), top=1)
    assert result.maps.shape == (1, 1, 14, 14)


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
