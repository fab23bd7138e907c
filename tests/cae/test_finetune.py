"""The denoising CAE fine-tuned from the plain CAE, and the screen of its fine-tuning epochs."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from deepvis.cae import finetune, quality
from deepvis.cae import train as train_mod
from deepvis.cae.config import denoising_config
from deepvis.cae.noise import noisy_test_set
from deepvis.errors import DeepvisError

from .test_train import TINY as BASE

DENOISE = replace(BASE, name="tiny-denoising", noise_std=1.0, init_from=BASE, learning_rate=1e-3)


def test_fine_tuning_starts_from_the_cached_base_weights(project_home, images):
    base = train_mod.fit_or_load(BASE, *images, verbose=0)
    x_test = images[1]
    x_noisy = noisy_test_set(x_test, DENOISE)
    before = quality.bce(x_test, quality.predict(base.autoencoder, x_noisy))
    curve = finetune.screen(replace(DENOISE, epochs=1), *images)
    # Epoch 0 scores the plain CAE itself on the noisy test set.
    assert curve.loc[0, "test_bce"] == pytest.approx(before, rel=1e-6)
    assert curve.loc[1, "test_bce"] < before  # one epoch on noisy inputs already helps


def test_the_screened_run_is_the_cached_model(project_home, images):
    config = replace(DENOISE, epochs=2)
    curve = finetune.screen(config, *images)
    assert list(curve.index) == [0, 1, 2]
    cached = train_mod.fit_or_load(config, *images, verbose=0)
    assert cached.loaded  # the screen trained it into the cache: nothing trains again
    out = quality.predict(cached.autoencoder, noisy_test_set(images[1], config))
    assert curve.loc[2, "psnr"] == pytest.approx(quality.scores(images[1], out)["psnr"], abs=1e-9)
    with pytest.raises(DeepvisError, match="cached already"):
        finetune.screen(config, *images)


def test_same_fine_tuning_same_weights(project_home, images):
    (a, ha), (b, hb) = (train_mod.train(DENOISE, *images, verbose=0) for _ in range(2))
    assert ha["loss"] == hb["loss"]
    for wa, wb in zip(a.autoencoder.get_weights(), b.autoencoder.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_screen_refuses_a_configuration_without_a_start(images):
    with pytest.raises(DeepvisError, match="init_from"):
        finetune.screen(replace(DENOISE, init_from=None), *images)


def test_init_from_must_share_the_architecture():
    with pytest.raises(DeepvisError, match="same architecture"):
        replace(DENOISE, filters=(4, 8, 16))


def test_the_report_denoising_cae_fine_tunes_the_report_cae(monkeypatch):
    monkeypatch.delenv("DEEPVIS_QUICK", raising=False)
    from deepvis.cae.config import FINETUNE, cae_config

    config = denoising_config()
    assert config.init_from == cae_config() and config.noise_std == 1.0
    assert config.epochs == FINETUNE["epochs"] < cae_config().epochs
    plain = cae_config()
    assert (config.learning_rate, config.lr_schedule) == (plain.learning_rate, plain.lr_schedule)


def _run(psnrs):
    """A screened run as `finetune.load_runs` gives it: one row per epoch from 0."""
    rows = [
        {"epoch": e, "psnr": p, "ssim": p / 30, "test_bce": 0.5 - p / 100}
        for e, p in enumerate(psnrs)
    ]
    return pd.DataFrame(rows).set_index("epoch")


def test_final_scores_are_each_budgets_last_epoch_in_budget_order():
    runs = {6: _run([10.0, 15.0, 15.5, 15.6, 15.6, 15.65, 15.7]), 2: _run([10.0, 15.0, 15.2])}
    ends = finetune.final_scores(runs)
    assert list(ends.index) == [2, 6] and ends.index.name == "epochs"
    assert list(ends.columns) == ["psnr", "ssim", "test_bce"]
    assert ends.loc[2, "psnr"] == 15.2 and ends.loc[6, "psnr"] == 15.7
    assert ends.loc[6, "test_bce"] == pytest.approx(0.5 - 0.157)


def test_the_from_scratch_scores_say_how_to_make_them_when_missing(tmp_path):
    from deepvis.cae import finetune
    from deepvis.errors import DeepvisError

    with pytest.raises(DeepvisError, match="--from-scratch"):
        finetune.from_scratch(tmp_path / "dcae_from_scratch.json")
    (tmp_path / "s.json").write_text('{"epochs": 16, "psnr": 15.7}')
    assert finetune.from_scratch(tmp_path / "s.json") == {"epochs": 16, "psnr": 15.7}


def test_the_from_scratch_run_saves_its_scores_and_loss_curves(project_home, images, monkeypatch):
    import json

    from deepvis import data

    x_train, x_test = images
    labels = np.zeros(len(x_train)), np.zeros(len(x_test))
    monkeypatch.setattr(
        data, "load_fashion_mnist", lambda: ((x_train, labels[0]), (x_test, labels[1]))
    )
    tiny = replace(DENOISE, init_from=None, epochs=2)  # stands in for the 16-epoch network
    fit = train_mod.fit_or_load
    monkeypatch.setattr(train_mod, "fit_or_load", lambda c, a, b: fit(tiny, a, b, verbose=0))
    scores = finetune.score_from_scratch(project_home / "s.json")
    trained = fit(tiny, x_train, x_test, verbose=0)  # the cached run
    saved = json.loads((project_home / "s.json").read_text())
    assert saved == scores and saved["epochs"] == 16  # the configuration's, as the write-up says
    assert saved["loss"] == trained.history["loss"] and len(saved["val_loss"]) == 2
    assert saved["val_loss"] == trained.history["val_loss"]
    restored = quality.predict(trained.autoencoder, noisy_test_set(x_test, denoising_config()))
    assert saved["psnr"] == pytest.approx(quality.scores(x_test, restored)["psnr"], abs=1e-9)
