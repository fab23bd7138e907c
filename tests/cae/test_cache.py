"""The model cache: every entry carries the SHA-256 of its files and is checked before use."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from deepvis.cae import train as train_mod
from deepvis.cae.config import CAEConfig
from deepvis.cae.model import build_cae

TINY = CAEConfig(name="tiny", filters=(4, 8, 8), epochs=1, train_subset=8, test_subset=8)
IMAGES = np.zeros((8, 28, 28, 1), dtype="float32")


@pytest.fixture
def trainings(project_home, monkeypatch):
    """Replace training by building a fresh CAE; the list of the configurations trained."""
    done = []

    def fake_train(config, x_train, x_test, verbose=2, callbacks=()):
        done.append(config.name)
        return build_cae(config), {"loss": [0.5], "val_loss": [0.25], "seconds": [1.0]}

    monkeypatch.setattr(train_mod, "train", fake_train)
    return done


def _fit(capsys):
    """`fit_or_load` of `TINY`; the result and the lines it printed."""
    trained = train_mod.fit_or_load(TINY, IMAGES, IMAGES)
    return trained, capsys.readouterr().out.splitlines()


def test_a_new_entry_records_the_sha256_of_each_file(trainings, capsys):
    trained, _ = _fit(capsys)
    folder = trained.cache_dir
    manifest = json.loads((folder / train_mod.MANIFEST).read_text())
    expected = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in ("model.weights.h5", "history.json", "config.json")
    }
    assert manifest == {"sha256": expected}
    assert train_mod.is_cached(TINY)


def test_an_intact_entry_is_loaded_without_training(trainings, capsys):
    first, _ = _fit(capsys)
    second, lines = _fit(capsys)
    assert trainings == ["tiny"] and second.loaded
    assert second.history == {"loss": [0.5], "val_loss": [0.25], "seconds": [1.0]}
    x = np.random.default_rng(0).uniform(size=(2, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(second.autoencoder(x), first.autoencoder(x))
    assert not any("not used" in line for line in lines)


def _truncate_weights(folder):
    path = folder / "model.weights.h5"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _no_manifest(folder):
    (folder / "manifest.json").unlink()


def _edit_history(folder):
    path = folder / "history.json"
    path.write_text(path.read_text().replace("0.25", "0.125"))  # still valid JSON


def _no_config(folder):
    (folder / "config.json").unlink()


def _garbled_manifest(folder):
    (folder / "manifest.json").write_text('{"sha256": ')


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (_truncate_weights, "model.weights.h5 does not match"),
        (_no_manifest, "no manifest.json"),
        (_edit_history, "history.json does not match"),
        (_no_config, "config.json is missing"),
        (_garbled_manifest, "manifest.json is unreadable"),
    ],
)
def test_a_damaged_entry_is_reported_in_one_line_and_trained_again(
    trainings, capsys, damage, named
):
    first, _ = _fit(capsys)
    damage(first.cache_dir)
    assert not train_mod.is_cached(TINY)  # so `make train` trains it again too
    again, lines = _fit(capsys)
    assert trainings == ["tiny", "tiny"] and not again.loaded
    reported = [line for line in lines if "not used" in line]
    assert len(reported) == 1 and named in reported[0], lines
    assert reported[0].startswith(f"tiny: cached entry data/models/{TINY.key()} not used")
    # The new entry is whole again: the next call loads it.
    assert train_mod.is_cached(TINY)
    third, lines = _fit(capsys)
    assert third.loaded and trainings == ["tiny", "tiny"]


def test_retrain_ignores_an_intact_entry_without_a_complaint(trainings, capsys):
    _fit(capsys)
    train_mod.fit_or_load(TINY, IMAGES, IMAGES, retrain=True)
    assert trainings == ["tiny", "tiny"]
    assert "not used" not in capsys.readouterr().out
