import numpy as np
import pytest

from deepvis.cae import train as train_mod
from deepvis.cae.config import CAEConfig
from deepvis.cae.model import build_cae
from deepvis.config import cpu_description
from deepvis.data import candidate_sources

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


@pytest.fixture
def fashion_mnist(project_home, tmp_path, monkeypatch):
    """Fashion-MNIST read through a temporary Keras home (never ``~/.keras``), for this process
    and the training processes it starts; skipped where no local copy is installed."""
    from keras.src.backend import config as keras_config

    if not candidate_sources():
        pytest.skip("Fashion-MNIST not installed (make setup installs dataset-fashion-mnist)")
    home = tmp_path / "keras"
    monkeypatch.setenv("KERAS_HOME", str(home))  # read by spawned processes when Keras loads
    monkeypatch.setattr(keras_config, "keras_home", lambda: str(home))  # this process: loaded
    return home


def test_training_lowers_the_loss(images):
    _, history = train_mod.train(TINY, *images, verbose=0)
    assert history["loss"][-1] < history["loss"][0]
    assert len(history["val_loss"]) == len(history["seconds"]) == TINY.epochs


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_same_configuration_same_weights(images, precision):
    from dataclasses import replace

    config = replace(TINY, precision=precision)
    (cae1, h1), (cae2, h2) = (train_mod.train(config, *images, verbose=0) for _ in range(2))
    assert h1["loss"] == h2["loss"] and h1["val_loss"] == h2["val_loss"]
    for w1, w2 in zip(cae1.autoencoder.get_weights(), cae2.autoencoder.get_weights(), strict=True):
        np.testing.assert_array_equal(w1, w2)


def test_steps_per_execution_changes_nothing_but_speed(images, monkeypatch):
    from dataclasses import replace

    config = replace(TINY, train_subset=500)  # 8 steps an epoch: 3 + 3 + 2 at 3 per execution
    runs = []
    for steps in (1, 3):
        monkeypatch.setattr(train_mod, "STEPS_PER_EXECUTION", steps)
        runs.append(train_mod.train(config, *images, verbose=0))
    (cae1, h1), (cae3, h3) = runs
    np.testing.assert_allclose(h3["loss"], h1["loss"], rtol=1e-6)
    np.testing.assert_allclose(h3["val_loss"], h1["val_loss"], rtol=1e-6)
    for w1, w3 in zip(cae1.autoencoder.get_weights(), cae3.autoencoder.get_weights(), strict=True):
        np.testing.assert_allclose(w3, w1, rtol=1e-5, atol=1e-6)


def test_validation_batch_changes_nothing_but_the_test_loss_rounding(images, monkeypatch):
    runs = []
    for batch in (7, 1000):  # 7 does not divide the 128 test images: a short last batch
        monkeypatch.setattr(train_mod, "VALIDATION_BATCH", batch)
        runs.append(train_mod.train(TINY, *images, verbose=0))
    (cae_a, h_a), (cae_b, h_b) = runs
    assert h_a["loss"] == h_b["loss"]
    np.testing.assert_allclose(h_a["val_loss"], h_b["val_loss"], rtol=1e-6)
    weights = (cae.autoencoder.get_weights() for cae in (cae_a, cae_b))
    for wa, wb in zip(*weights, strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_denoising_test_loss_is_on_the_fixed_noisy_test_set(images):
    from dataclasses import replace

    from deepvis.cae.noise import noisy_test_set
    from deepvis.cae.quality import bce

    config = replace(TINY, epochs=1, noise_std=1.0)
    cae, history = train_mod.train(config, *images, verbose=0)
    x_test = images[1][: config.test_subset]
    noisy = noisy_test_set(x_test, config)
    on_noisy = bce(x_test, cae.autoencoder.predict(noisy, verbose=0))
    on_clean = bce(x_test, cae.autoencoder.predict(x_test, verbose=0))
    assert history["val_loss"][0] == pytest.approx(on_noisy, rel=1e-4)
    assert on_noisy != pytest.approx(on_clean, rel=1e-4)


def test_training_model_adds_fresh_noise_only_while_training():
    from dataclasses import replace

    import keras

    config = replace(TINY, noise_std=1.0)
    cae = build_cae(config)
    assert train_mod.training_model(cae, TINY) is cae.autoencoder  # no noise: the plain model
    model = train_mod.training_model(cae, config)
    x = np.full((64, 28, 28, 1), 0.5, dtype="float32")
    np.testing.assert_allclose(model(x), cae.autoencoder(x), atol=1e-6)  # inference: no noise
    noise = model.get_layer("noise")
    first = np.asarray(noise(x, training=True)) - x
    second = np.asarray(noise(x, training=True)) - x
    assert abs(first.mean()) < 0.01 and first.std() == pytest.approx(1.0, abs=0.01)
    assert not np.allclose(first, second)  # drawn afresh for every batch
    clipped = train_mod.training_model(cae, replace(config, noise_clip=True))
    fed = keras.Model(clipped.input, clipped.get_layer("clip").output)  # the autoencoder's input
    assert float(np.min(fed(x, training=True))) == 0.0


def test_cache_reuse_skips_training(images, project_home, monkeypatch):
    first = train_mod.fit_or_load(TINY, *images, verbose=0)
    assert not first.loaded and (first.cache_dir / train_mod.WEIGHTS).is_file()
    assert first.cache_dir.parent == project_home / "data" / "models"

    def no_training(*args, **kwargs):
        raise AssertionError("trained again although the cache exists")

    monkeypatch.setattr(train_mod, "train", no_training)
    second = train_mod.fit_or_load(TINY, *images, verbose=0)
    assert second.loaded and second.history == first.history
    x = images[1][:4]
    np.testing.assert_allclose(second.cae.autoencoder(x), first.cae.autoencoder(x), atol=1e-6)


def test_interrupted_save_leaves_no_cache(images, project_home, monkeypatch):
    import keras

    def broken_save(self, path):
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save_weights", broken_save)
    with pytest.raises(KeyboardInterrupt):
        train_mod.fit_or_load(TINY, *images, verbose=0)
    models = project_home / "data" / "models"
    assert list(models.iterdir()) == []


def test_fit_all_trains_on_fashion_mnist_and_caches_the_weights_of_training_alone(
    fashion_mnist, capsys
):
    from dataclasses import replace

    from deepvis.data import keras_dataset_dir, load_fashion_mnist

    small = replace(TINY, epochs=1, train_subset=256, test_subset=64)
    configs = [small, replace(small, name="tiny-denoising", noise_std=1.0)]
    first = train_mod.fit_all(configs)
    out = capsys.readouterr().out
    assert "tiny: trained 1 epochs, test BCE" in out and "tiny-denoising: trained" in out
    assert keras_dataset_dir().is_relative_to(fashion_mnist)  # the files were placed there
    (x_train, _), (x_test, _) = load_fashion_mnist()
    for config, trained in zip(configs, first, strict=True):
        alone, _ = train_mod.train(config, x_train, x_test, verbose=0)
        cached = build_cae(config)
        cached.autoencoder.load_weights(train_mod.cache_dir(config) / train_mod.WEIGHTS)
        for w1, w2, w3 in zip(
            alone.autoencoder.get_weights(),
            cached.autoencoder.get_weights(),
            trained.autoencoder.get_weights(),
            strict=True,
        ):
            np.testing.assert_array_equal(w1, w2)
            np.testing.assert_array_equal(w1, w3)
    again = train_mod.fit_all(configs)  # everything cached: nothing trains again
    assert all(t.loaded for t in again) and ": trained" not in capsys.readouterr().out


def test_the_command_trains_the_models_it_names(monkeypatch, capsys):
    from deepvis.cae.config import cae_config, denoising_config

    asked = []
    monkeypatch.setattr(train_mod, "fit_all", lambda configs: asked.append(list(configs)))
    assert train_mod.main([]) == 0 and train_mod.main(["dcae"]) == 0
    assert train_mod.main(["dcae", "cae"]) == 0  # in training order whatever the order asked
    both = [cae_config(), denoising_config()]
    assert asked == [both, [denoising_config()], both]
    with pytest.raises(SystemExit) as stop:
        train_mod.main(["cae", "vae"])
    assert stop.value.code == 2
    assert "unknown model vae: choose from cae, dcae" in capsys.readouterr().err


def test_epoch_lines_name_the_model_and_the_losses(images, capsys):
    train_mod.train(TINY, *images, verbose=0, callbacks=[train_mod.EpochLines(TINY)])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == TINY.epochs
    assert lines[0].startswith("tiny  epoch 1/2  loss 0.") and "  test 0." in lines[0]


def _trained(config: CAEConfig, history: dict) -> train_mod.TrainedCAE:
    return train_mod.TrainedCAE(config, build_cae(config), history, cache_dir=None, loaded=True)


def test_summary_reads_the_last_test_loss_and_counts_parameters_by_hand():
    config = CAEConfig(filters=(2, 2, 2), batch_norm=False)
    history = {"loss": [0.5, 0.4, 0.3], "val_loss": [0.45, 0.41, 0.35], "seconds": [2, 4, 6.0]}
    trained = _trained(config, history)
    # 28 -> 14 -> 7 -> 4: encoder convs (9*1+1)*2 + 2 * (9*2+1)*2, code Dense 4*4*2 -> 2;
    # decoder Dense 2 -> 32, three convs (9*2+1)*2, output conv 9*2+1.
    encoder = 20 + 2 * 38 + (32 * 2 + 2)
    decoder = (2 * 32 + 32) + 3 * 38 + 19
    assert trained.summary() == {
        "test_bce": 0.35,
        "params": encoder + decoder,
        "epochs": 3,
        "seconds_per_epoch": 4.0,
        "cpu": train_mod.UNRECORDED_CPU,  # this history names no CPU
    }
    assert trained.test_bce == 0.35 and isinstance(trained.summary()["params"], int)
    recorded = _trained(config, history | {"cpu": "AMD EPYC, AVX2, 2 cores"})
    assert recorded.summary()["cpu"] == "AMD EPYC, AVX2, 2 cores"


def test_test_bce_is_the_loss_of_the_reconstructed_test_images(images):
    """The history's last test loss, recomputed by hand: mean binary cross-entropy per pixel
    of the trained autoencoder's output on the test subset (Keras' epsilon clip)."""
    from dataclasses import replace

    config = replace(TINY, epochs=1)
    cae, history = train_mod.train(config, *images, verbose=0)
    trained = train_mod.TrainedCAE(config, cae, history, cache_dir=None, loaded=False)
    target = images[1][: config.test_subset].astype(np.float64)
    p = np.clip(cae.autoencoder.predict(images[1][: config.test_subset], verbose=0), 1e-7, 1 - 1e-7)
    expected = -np.mean(target * np.log(p) + (1 - target) * np.log(1 - p))
    assert trained.test_bce == pytest.approx(expected, rel=1e-4)
    assert trained.summary()["test_bce"] == trained.test_bce
    # The CPU is the one that trained, recorded with the history (and so in the cache entry).
    assert history["cpu"] == trained.summary()["cpu"] == cpu_description()


def test_held_out_images_are_never_trained_on(images, monkeypatch):
    from dataclasses import replace

    from deepvis.cae.config import validation_split

    seen, build = [], train_mod.training_model

    def spied(cae, config):  # the training model, with its `fit` inputs recorded
        model = build(cae, config)
        fit = model.fit

        def recording_fit(x, *args, **kwargs):
            seen.append(np.asarray(x))
            return fit(x, *args, **kwargs)

        model.fit = recording_fit
        return model

    monkeypatch.setattr(train_mod, "training_model", spied)
    x_train, x_test = images
    train_mod.train(replace(TINY, holdout=112, train_subset=None, epochs=1), x_train, x_test, 0)
    np.testing.assert_array_equal(seen[0], x_train[validation_split(512, 112)[0]])
