import gzip
import shutil

import numpy as np
import pytest

from deepvis import data
from deepvis.errors import DeepvisError

needs_fashion_mnist = pytest.mark.skipif(
    data._debian_dir() is None,
    reason="Fashion-MNIST Debian package not installed (make setup installs it)",
)


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras"
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("DEEPVIS_HOME", str(tmp_path / "project"))
    monkeypatch.delenv(data.ENV_DIR, raising=False)
    return home


@needs_fashion_mnist
def test_load_fashion_mnist_shapes_and_range(keras_home):
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert set(np.unique(y_test)) == set(range(10))
    assert np.bincount(y_test).tolist() == [1000] * 10
    # The verified files were placed where Keras looks, so its own call works offline.
    assert sorted(p.name for p in data.keras_dataset_dir().iterdir()) == sorted(data.FILES)


@needs_fashion_mnist
def test_checksum_mismatch_names_file_and_both_hashes(tmp_path, keras_home, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(data._debian_dir(), copy)
    bad = copy / "t10k-labels-idx1-ubyte.gz"
    bad.unlink()  # the copy may be a read-only file; replace rather than overwrite
    with gzip.open(bad, "wb") as fh:
        fh.write(b"not the labels")
    monkeypatch.setenv(data.ENV_DIR, str(copy))
    with pytest.raises(DeepvisError) as err:
        data.load_fashion_mnist()
    msg = str(err.value)
    assert str(bad) in msg and "checksum mismatch" in msg
    assert data.FILES[bad.name][0] in msg
    import hashlib

    assert hashlib.sha256(b"not the labels").hexdigest() in msg
    assert not (keras_home / "datasets").exists()  # nothing placed from a bad source


def test_source_with_missing_files_is_reported(tmp_path, keras_home, monkeypatch):
    folder = tmp_path / "partial"
    folder.mkdir()
    with gzip.open(folder / "train-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(b"x")
    monkeypatch.setenv(data.ENV_DIR, str(folder))
    with pytest.raises(DeepvisError, match="missing train-images-idx3-ubyte.gz"):
        data.load_fashion_mnist()


def test_env_dir_that_is_not_a_folder(tmp_path, keras_home, monkeypatch):
    monkeypatch.setenv(data.ENV_DIR, str(tmp_path / "nope"))
    with pytest.raises(DeepvisError, match="is not a folder"):
        data.load_fashion_mnist()


def test_no_source_names_apt_package_and_env_var(keras_home, monkeypatch):
    import keras

    monkeypatch.setattr(data, "_debian_dir", lambda: None)

    def failed_download():
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", failed_download)
    with pytest.raises(DeepvisError) as err:
        data.load_fashion_mnist()
    assert data.APT_PACKAGE in str(err.value) and data.ENV_DIR in str(err.value)


def test_not_gzip_is_a_clear_error(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(b"plain text")
    with pytest.raises(DeepvisError, match="not a readable gzip file"):
        data.verify_file(path)


def test_class_names():
    assert len(data.CLASS_NAMES) == 10 and data.CLASS_NAMES[9] == "Ankle boot"
