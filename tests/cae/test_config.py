"""CAEConfig: its cache key, and quick mode applied before a caller's overrides."""

from deepvis.cae.config import QUICK_TRAINING, CAEConfig, cae_config, denoising_config

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
