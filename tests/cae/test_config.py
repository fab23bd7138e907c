"""CAEConfig: its cache key, and quick mode applied before a caller's overrides."""

import numpy as np
import pytest

from deepvis.cae.config import (
    QUICK_ANALYSIS,
    QUICK_TRAINING,
    CAEConfig,
    analysis_data,
    cae_config,
    denoising_config,
    split_training_set,
    validation_split,
)
from deepvis.errors import DeepvisError

from .test_train import TINY


def test_config_key_depends_on_every_field():
    assert TINY.key() != CAEConfig(**{**TINY.__dict__, "seed": 1}).key()
    assert TINY.key() == CAEConfig(**TINY.__dict__).key()
    assert TINY.key().startswith("tiny-")


def test_quick_mode_shrinks_training(monkeypatch):
    monkeypatch.setenv("DEEPVIS_QUICK", "1")
    quick = cae_config()
    assert quick.epochs <= 2 and quick.train_subset <= 5000
    assert denoising_config().noise_std == 1.0 and denoising_config().filters == quick.filters
    monkeypatch.delenv("DEEPVIS_QUICK")
    assert cae_config().train_subset is None


def test_explicit_overrides_win_over_quick_mode(monkeypatch):
    monkeypatch.setenv("DEEPVIS_QUICK", "1")
    assert cae_config(epochs=30).epochs == 30
    assert cae_config(epochs=30).train_subset == QUICK_TRAINING["train_subset"]
    assert denoising_config(test_subset=None).test_subset is None
    assert denoising_config().epochs == QUICK_TRAINING["epochs"]


def test_a_later_field_at_its_default_keeps_the_earlier_key():
    # The key of the report's CAE (Keras' batch-norm) before `precision` existed: its cached
    # weights stay valid. The fused batch-norm, now the default, trains other weights: a new key.
    assert CAEConfig(fused_batch_norm=False).key() == "cae-771d467e09e7"
    assert CAEConfig().key() != "cae-771d467e09e7"
    bf16 = CAEConfig(precision="mixed_bfloat16")
    assert bf16.key() != CAEConfig().key() and bf16.key().startswith("cae-")


def test_unknown_precision_is_refused_with_the_choices():
    with pytest.raises(DeepvisError, match="precision must be one of .*mixed_bfloat16.*'fp8'"):
        CAEConfig(precision="fp8")


def test_quick_mode_analyses_the_first_images_of_each_split(monkeypatch):
    x_train, y_train = np.arange(8000)[:, None] * 1.0, np.arange(8000) % 10
    x_test, y_test = np.arange(3000)[:, None] * 1.0, np.arange(3000) % 10
    data = ((x_train, y_train), (x_test, y_test))
    monkeypatch.delenv("DEEPVIS_QUICK", raising=False)
    assert analysis_data(data) is data
    monkeypatch.setenv("DEEPVIS_QUICK", "1")
    (a, b), (c, d) = analysis_data(data)
    assert len(a) == len(b) == QUICK_ANALYSIS["train"]
    assert len(c) == len(d) == QUICK_ANALYSIS["test"]
    np.testing.assert_array_equal(a[:, 0], np.arange(QUICK_ANALYSIS["train"]))
    np.testing.assert_array_equal(d, y_test[: QUICK_ANALYSIS["test"]])
    assert QUICK_ANALYSIS["train"] >= QUICK_TRAINING["train_subset"]  # trained images included


def test_the_validation_split_is_fixed_disjoint_and_complete():
    fit, val = validation_split(60_000)
    assert (len(fit), len(val)) == (50_000, 10_000)
    assert np.array_equal(np.sort(np.concatenate([fit, val])), np.arange(60_000))
    again = validation_split(60_000)
    assert np.array_equal(fit, again[0]) and np.array_equal(val, again[1])
    # Drawn at random, not the first or last images: every tenth of the set gives about 1/6.
    per_tenth = np.bincount(val // 6000, minlength=10)
    assert per_tenth.min() > 900 and per_tenth.max() < 1100


def test_split_training_set_keeps_images_with_their_labels():
    x, y = np.arange(50)[:, None] * 10, np.arange(50)
    (x_fit, y_fit), (x_val, y_val) = split_training_set(x, y, holdout=10)
    assert len(x_val) == 10 and len(x_fit) == 40
    assert np.array_equal(x_fit[:, 0], 10 * y_fit) and np.array_equal(x_val[:, 0], 10 * y_val)
    assert not set(y_fit) & set(y_val)


@pytest.mark.parametrize("holdout", [0, 50, -1])
def test_a_holdout_outside_the_set_is_refused(holdout):
    with pytest.raises(DeepvisError, match="holdout must be between 1 and 49 images"):
        validation_split(50, holdout)


def test_holding_out_images_changes_the_key_and_the_default_keeps_it():
    assert CAEConfig(holdout=0).key() == CAEConfig().key()
    assert CAEConfig(holdout=10_000).key() != CAEConfig().key()
