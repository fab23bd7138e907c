"""PSNR, SSIM and BCE helpers and the denoising table, on images with known answers."""

import keras
import numpy as np
import pytest
from skimage.metrics import structural_similarity
from sklearn.decomposition import PCA

from deepvis.cae import quality
from deepvis.cae.config import CAEConfig, denoising_config
from deepvis.cae.noise import noisy_test_set


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 1, size=(20, 28, 28, 1)).astype(np.float32)


def test_psnr_known_value_per_image():
    clean = np.zeros((3, 28, 28, 1), dtype=np.float32)
    restored = clean + np.array([0.1, 0.01, 1.0], dtype=np.float32)[:, None, None, None]
    # MSE 1e-2, 1e-4, 1 with a data range of 1 -> 20, 40, 0 dB.
    np.testing.assert_allclose(quality.psnr(clean, restored), [20.0, 40.0, 0.0], atol=1e-4)


def test_psnr_accepts_flat_rows(images):
    noisy = images + 0.05
    np.testing.assert_allclose(
        quality.psnr(images.reshape(20, -1), noisy.reshape(20, -1)), quality.psnr(images, noisy)
    )


def test_mean_ssim_is_the_mean_of_per_image_ssim(images):
    noisy = np.clip(images + np.random.default_rng(1).normal(0, 0.2, images.shape), 0, 1)
    per_image = [
        structural_similarity(a[..., 0], b[..., 0], data_range=1.0)
        for a, b in zip(images, noisy.astype(np.float32), strict=True)
    ]
    np.testing.assert_allclose(quality.ssim(images, noisy), per_image, atol=1e-5)
    assert quality.mean_ssim(images, noisy) == pytest.approx(np.mean(per_image), abs=1e-5)
    assert quality.mean_ssim(images, images) == pytest.approx(1.0)


def test_bce_known_values():
    assert quality.bce(np.ones((2, 4)), np.full((2, 4), 0.5)) == pytest.approx(np.log(2), rel=1e-5)
    # Predictions of exactly 0 or 1 are clipped, not infinite.
    assert np.isfinite(quality.bce(np.ones((1, 4)), np.zeros((1, 4))))
    assert quality.bce(np.zeros((1, 4)), np.zeros((1, 4))) == pytest.approx(0.0, abs=1e-6)


def test_image_bce_scores_each_image_alone():
    target = np.stack([np.ones((2, 2)), np.zeros((2, 2))])
    predicted = np.stack([np.full((2, 2), 0.5), np.full((2, 2), 0.5)])
    predicted[1, 0, 0] = 0.0  # one pixel of the second image exactly right, the rest at 0.5
    expected = [np.log(2), 3 / 4 * np.log(2)]  # the clipped 0 costs ~1e-7
    np.testing.assert_allclose(quality.image_bce(target, predicted), expected, rtol=1e-5)
    assert quality.bce(target, predicted) == pytest.approx(np.mean(expected), rel=1e-5)


def test_bce_matches_keras_loss(images):
    pred = np.random.default_rng(2).uniform(0.01, 0.99, images.shape).astype(np.float32)
    expected = float(keras.losses.BinaryCrossentropy()(images, pred))
    assert quality.bce(images, pred) == pytest.approx(expected, rel=1e-5)


def test_pca_denoiser_and_reconstruction(images):
    config = CAEConfig(noise_std=1.0, seed=0)
    pca = quality.pca_denoiser(images, config)
    assert pca.n_components_ == 2 and pca.components_.shape == (2, 784)
    again = quality.pca_denoiser(images, config)
    np.testing.assert_allclose(pca.components_, again.components_)
    out = quality.reconstruct(pca, images)
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


def _identity_model() -> keras.Model:
    inputs = keras.Input((28, 28, 1))
    return keras.Model(inputs, keras.layers.Identity()(inputs))


def test_denoising_table(images):
    noisy = images + 0.1
    close = np.clip(images + 0.01, 0, 1)
    table = quality.denoising_table(images, noisy, {"close": close, "noisy": noisy})
    assert list(table.index) == ["noisy input", "close", "noisy"]
    assert list(table.columns) == ["psnr_db", "ssim", "bce"]
    assert table.loc["noisy input", "psnr_db"] == pytest.approx(20.0, abs=1e-3)
    assert table.loc["close", "psnr_db"] > 40.0
    assert table.loc["close", "ssim"] > table.loc["noisy", "ssim"]
    assert np.isnan(table.loc["noisy input", "bce"])


def test_psnr_vs_std_with_an_identity_model(images):
    table = quality.psnr_vs_std(
        {"identity": _identity_model()}, images, [0.1, 1.0], CAEConfig(noise_std=1.0)
    )
    assert list(table.index) == [0.1, 1.0]
    assert list(table.columns) == ["noisy input", "identity"]
    np.testing.assert_allclose(table["identity"], table["noisy input"], atol=1e-4)
    assert table.loc[0.1, "noisy input"] == pytest.approx(20.0, abs=0.2)


def test_denoising_metrics_of_images_with_known_psnr_and_ssim():
    """Black test images and outputs that are uniformly off by 1, 0.5, 0.1, 0.05, 0.01 and 0.001:
    PSNR 0, 6.02, 20, 26.02, 40 and 60 dB. For a constant error c on a black image the SSIM is
    C1 / (c^2 + C1) with C1 = (0.01 * data range)^2: 0.5 at c = 0.01, the denoising CAE's row."""
    clean = np.zeros((4, 28, 28, 1), dtype=np.float32)
    offsets = {
        "mean": 0.5,
        "pca_noisy": 0.1,
        "linear": 0.2,
        "linear_full": 0.1,
        "cae_on_noisy": 0.05,
        "dcae": 0.01,
        "cae_clean": 0.001,
        "pca_clean": 0.25,
    }
    outputs = {quality.DENOISING_ROWS[key]: clean + c for key, c in offsets.items()}
    table = quality.denoising_table(clean, clean + 1.0, outputs)
    values = quality.denoising_metrics(table)
    expected = {
        "noisy.psnr": 0.0,
        "mean.psnr": 20 * np.log10(1 / 0.5),
        "pca_noisy.psnr": 20.0,
        "linear.psnr": 20 * np.log10(1 / 0.2),
        "linear_full.psnr": 20.0,
        "cae_on_noisy.psnr": 20 * np.log10(1 / 0.05),
        "dcae.psnr": 40.0,
        "cae_clean.psnr": 60.0,
        "pca_clean.psnr": 20 * np.log10(1 / 0.25),
        "dcae.ssim": 0.5,
    }
    assert set(values) == set(expected)
    for key, value in expected.items():
        assert values[key] == pytest.approx(value, abs=1e-3), key
    assert all(type(v) is float for v in values.values())


def test_examples_take_the_first_image_of_seeded_random_classes():
    labels = np.array([3, 1, 0, 1, 2, 3, 0, 2, 4, 4])
    idx = quality.examples(labels, n=3, seed=0)
    classes = labels[idx]
    assert len(set(classes)) == 3 and list(classes) == sorted(classes)  # distinct, in order
    for i, c in zip(idx, classes, strict=True):
        assert i == np.flatnonzero(labels == c)[0]  # the first image of its class
    np.testing.assert_array_equal(idx, quality.examples(labels, n=3, seed=0))
    drawn = {tuple(labels[quality.examples(labels, n=3, seed=s)]) for s in range(10)}
    assert len(drawn) > 1  # the seed chooses the classes


def test_rank_regression_of_images_onto_themselves_is_pca():
    """With the targets equal to the inputs the best rank-2 linear map is PCA's projection onto
    its two components (Eckart-Young), so the two reconstruct alike."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 20)) @ rng.normal(size=(20, 20)) + 3.0  # correlated, off-centre
    fitted = quality.RankRegression(2).fit(x, x)
    pca = PCA(n_components=2).fit(x)
    np.testing.assert_allclose(
        fitted.inverse_transform(fitted.transform(x)),
        pca.inverse_transform(pca.transform(x)),
        atol=1e-9,
    )
    assert fitted.transform(x).shape == (300, 2)


def test_rank_regression_recovers_an_exact_rank_two_map_with_offsets():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 12))
    w = rng.normal(size=(12, 2)) @ rng.normal(size=(2, 9))  # rank 2, 12 inputs to 9 outputs
    y = x @ w + np.arange(9.0)  # with an intercept per output
    fitted = quality.RankRegression(2).fit(x, y)
    np.testing.assert_allclose(fitted.inverse_transform(fitted.transform(x)), y, atol=1e-9)
    # rank 1 cannot: its error is what the second direction carried
    one = quality.RankRegression(1).fit(x, y)
    assert np.abs(one.inverse_transform(one.transform(x)) - y).max() > 0.1


def test_linear_denoiser_maps_noisy_images_to_clean_ones():
    # smooth blobs at random places: a low-dimensional family a linear map can denoise
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:28, :28]
    centres = rng.uniform(8, 20, size=(1200, 2))
    blobs = np.exp(-((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2) / 30.0)
    x_train, x_test = np.split(blobs.astype(np.float32)[..., None], [1000])
    config = denoising_config()
    linear = quality.linear_denoiser(x_train, config)
    noisy = noisy_test_set(x_test, config)
    restored = quality.reconstruct(linear, noisy)
    assert restored.shape == x_test.shape and restored.dtype == np.float32
    # trained on (noisy, clean) pairs it denoises: far above the noisy input's own PSNR
    assert quality.psnr(x_test, restored).mean() > quality.psnr(x_test, noisy).mean() + 10


def test_paired_se_is_the_standard_error_of_the_mean_difference():
    a, b = np.array([3.0, 5.0, 4.0, 6.0]), np.array([1.0, 2.0, 3.0, 4.0])
    # differences 2, 3, 1, 2: mean 2, sample variance 2/3, so sqrt(2/3 / 4)
    assert quality.paired_se(a, b) == pytest.approx(np.sqrt(2 / 3 / 4))
    assert quality.paired_se(a + 7.0, a) == 0.0  # a constant shift has no spread
