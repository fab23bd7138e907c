"""CAEConfig: its cache key, and quick mode applied before a caller's overrides."""

from deepvis.cae.config import QUICK_TRAINING, CAEConfig, cae_config, denoising_config

TINY = CAEConfig(
    name="tiny",
    filters=(4, 8, 8),
    epochs=2,
    batch_size=64,
    learning_rate=3e-3,
    lr_schedule="constant",
    train_subset=512,
    test_subset=128,
)


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
