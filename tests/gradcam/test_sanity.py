"""The randomisation sanity check down to the input (Adebayo et al. 2018), against answers known
without the code: a tiny network named like EfficientNet-Lite0 (stem, block0, top, logits),
weights compared one by one, a model re-initialised to its own weights, an explainer that
ignores the weights, and SSIM of constant maps worked out by hand."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from deepvis.errors import DeepvisError
from deepvis.gradcam import checks
from deepvis.gradcam.core import GradCAM
from deepvis.gradcam.guided import GuidedBackprop, GuidedGradCAM
from deepvis.gradcam.plots import sanity_curves, sanity_figure

GROUPS = ["logits", "top", "block0", "stem"]


def block_model(seed: int = 0, trained: bool = True) -> keras.Model:
    """stem (conv, BN, ReLU6) -> block0 (depthwise conv, BN, ReLU, 1x1 conv) -> top (conv, BN,
    ReLU: ``top_activation``, 12 x 12 x 8) -> GAP -> logits (5). ``trained``: every weight,
    batch-norm statistics included, replaced by a random value no initialiser gives."""
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    inputs = keras.Input((12, 12, 3))
    x = layers.Conv2D(4, 3, padding="same", name="stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_activation")(x)
    x = layers.DepthwiseConv2D(3, padding="same", name="block0_dwconv")(x)
    x = layers.BatchNormalization(name="block0_bn")(x)
    x = layers.ReLU(name="block0_activation")(x)
    x = layers.Conv2D(6, 1, name="block0_project_conv")(x)
    x = layers.Conv2D(8, 3, padding="same", name="top_conv")(x)
    x = layers.BatchNormalization(name="top_bn")(x)
    x = layers.ReLU(name="top_activation")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    model = keras.Model(inputs, layers.Dense(5, name="logits")(x))
    if trained:
        rng = np.random.default_rng(seed + 100)
        model.set_weights(
            [0.5 + np.abs(rng.normal(size=w.shape)) for w in model.get_weights()]  # > 0: variances
        )
    return model


@pytest.fixture(scope="module")
def net():
    return block_model()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).normal(size=(2, 12, 12, 3)).astype(np.float32)


def _weight_layers(model) -> list[str]:
    return [layer.name for layer in model.layers if layer.weights]


def _same(a, b) -> bool:
    return all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True))


def test_groups_go_from_the_logits_to_the_stem_and_cover_every_weight_layer_once(net):
    groups = checks.weight_groups(net)
    assert [name for name, _ in groups] == GROUPS
    names = [layer for _, layers in groups for layer in layers]
    assert sorted(names) == sorted(_weight_layers(net))  # each weight layer exactly once
    position = {layer.name: i for i, layer in enumerate(net.layers)}
    lowest = [min(position[n] for n in layers) for _, layers in groups]
    highest = [max(position[n] for n in layers) for _, layers in groups]
    assert all(low > high for low, high in zip(lowest, highest[1:], strict=False))  # top first


def test_after_the_stem_no_trained_weight_is_left_and_the_model_is_untouched(net):
    before = [w.copy() for w in net.get_weights()]
    states = list(checks.randomisation_cascade(net, seed=4))
    assert [name for _, name, _ in states] == ["trained", *GROUPS]
    work, _, done = states[-1]
    assert sorted(done) == sorted(_weight_layers(net))
    for layer in _weight_layers(net):
        for trained, now in zip(
            net.get_layer(layer).get_weights(), work.get_layer(layer).get_weights(), strict=True
        ):
            assert np.all(trained != now), layer  # every single value re-initialised
    for a, b in zip(before, net.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("variant", checks.VARIANTS)
def test_each_step_re_initialises_exactly_its_layers(net, variant):
    """Cascade: step i has groups 1..i random and the rest trained; independent: group i only.
    Compared weight by weight against the trained model."""
    groups = dict(checks.weight_groups(net))
    fresh = {}
    cascade = checks.randomisation_cascade(net, seed=4, variant=variant)
    for i, (work, name, done) in enumerate(cascade):
        chosen = GROUPS[:i] if variant == "cascade" else GROUPS[i - 1 : i]
        expected = {layer for group in chosen for layer in groups[group]}
        assert set(done) == expected
        for layer in _weight_layers(net):
            trained = net.get_layer(layer).get_weights()
            now = work.get_layer(layer).get_weights()
            changed = [not np.array_equal(a, b) for a, b in zip(trained, now, strict=True)]
            assert all(changed) if layer in expected else not any(changed), (name, layer)
        if i:
            fresh[name] = [w.copy() for n in groups[name] for w in work.get_layer(n).get_weights()]
    # Both variants draw the same new weights for a group.
    other = "independent" if variant == "cascade" else "cascade"
    for work, name, _ in checks.randomisation_cascade(net, seed=4, variant=other):  # in place
        now = [w for n in groups.get(name, ()) for w in work.get_layer(n).get_weights()]
        assert all(np.array_equal(a, b) for a, b in zip(fresh.get(name, ()), now, strict=True))
    assert set(fresh) == set(GROUPS)


def test_the_same_seed_gives_the_same_numbers_and_another_seed_others(net, images):
    maps = checks.CamMaps(GradCAM(net, "top_activation"), ["gradcam", "guided_backprop"])
    first = checks.sanity_cascade(maps, images, seed=5)
    again = checks.sanity_cascade(maps, images, seed=5)
    other = checks.sanity_cascade(maps, images, seed=6)
    for name in first.methods:
        np.testing.assert_array_equal(first.maps[name], again.maps[name])
        np.testing.assert_array_equal(first.spearman[name], again.spearman[name])
        np.testing.assert_array_equal(first.ssim[name], again.ssim[name])
        assert not np.array_equal(first.maps[name][1:], other.maps[name][1:])
    assert first.record() == {**again.record(), "seconds": first.seconds}


def test_a_model_re_initialised_to_its_own_weights_keeps_every_map(images):
    """A model built right after ``set_random_seed(3)`` has the weights the cascade with seed 3
    draws: nothing changes, so every rho and SSIM is 1 at every step."""
    own = block_model(seed=3, trained=False)
    for work, _, _ in checks.randomisation_cascade(own, seed=3):
        assert _same(work, own)
    result = checks.sanity_cascade(checks.CamMaps(GradCAM(own, "top_activation")), images, seed=3)
    for name in result.methods:
        np.testing.assert_allclose(result.spearman[name], 1.0, atol=1e-12)
        np.testing.assert_allclose(result.ssim[name], 1.0, atol=1e-12)


class _WeightBlind:
    """An explainer whose map ignores the model: each image's brightness, divided by its max."""

    def __init__(self, model):
        self.model = model

    def rebuild(self, model):
        return _WeightBlind(model)

    def compute(self, x, classes=None, top=3):
        brightness = np.abs(np.asarray(x)).sum(axis=-1)
        maps = brightness / brightness.max(axis=(1, 2), keepdims=True)
        return type("Result", (), {"maps": maps[:, None]})()


def test_a_map_that_ignores_the_weights_keeps_rho_and_ssim_1(net, images):
    steps = checks.sanity_check(_WeightBlind(net), images[:1], seed=2)
    assert [s.name for s in steps] == ["trained", *GROUPS]
    for step in steps:
        assert step.spearman == pytest.approx(1.0) and step.ssim == pytest.approx(1.0)


def test_grad_cam_at_the_last_layer_still_changes_below_it(net, images):
    """Re-initialising block0 and the stem, under ``top_activation``, changes its features and
    so the map: the cascade reaches below the explained layer."""
    result = checks.sanity_cascade(
        checks.CamMaps(GradCAM(net, "top_activation"), ["gradcam"]), images, seed=4
    )
    maps = dict(zip(result.steps, result.maps["gradcam"], strict=True))
    assert not np.allclose(maps["block0"], maps["top"], atol=1e-3)
    assert not np.allclose(maps["stem"], maps["block0"], atol=1e-3)


def test_cam_maps_equal_the_explainers_they_stand_for(net, images):
    methods = ["gradcam++", "layercam", "guided_backprop", "guided_gradcam"]
    found = checks.CamMaps(GradCAM(net, "top_activation"), methods).maps(images, np.array([1, 3]))
    classes = np.array([[1], [3]])
    for name in ("gradcam++", "layercam"):
        expected = GradCAM(net, "top_activation", name).compute(images, classes=classes).maps
        np.testing.assert_allclose(found[name], expected[:, 0], atol=1e-6)
    backprop = GuidedBackprop(net).compute(images, classes=classes).maps[:, 0]
    np.testing.assert_allclose(found["guided_backprop"], backprop, atol=1e-6)
    guided = GuidedGradCAM(net, "top_activation").compute(images, classes=classes).maps[:, 0]
    np.testing.assert_allclose(found["guided_gradcam"], guided, atol=1e-6)
    assert list(found) == methods
    alone = checks.CamMaps(GradCAM(net, "top_activation"), ["guided_backprop"])
    only = alone.maps(images, np.array([1, 3]))
    assert list(only) == ["guided_backprop"]
    np.testing.assert_allclose(only["guided_backprop"], backprop, atol=1e-6)


def test_ssim_of_known_pairs():
    rng = np.random.default_rng(0)
    a = rng.random((7, 7))
    assert checks.map_ssim(a, a, (28, 28)) == pytest.approx(1.0)
    # Constant 0 against constant 1: luminance C1 / (1 + C1), C1 = (0.01 * 1)^2; no structure.
    c1 = 1e-4
    value = checks.map_ssim(np.zeros((7, 7)), np.ones((7, 7)), (28, 28))
    assert value == pytest.approx(c1 / (1 + c1), rel=1e-6)
    # A map already at the input's size is compared as it is; a grid map is upsampled first.
    big = np.asarray(tf.image.resize(a[..., None], (28, 28), "bilinear"))[..., 0]
    assert checks.map_ssim(a, big, (28, 28)) == pytest.approx(1.0)
    assert checks.map_ssim(a, big[::-1], (28, 28)) < 0.9
    with pytest.raises(DeepvisError, match="at least 3 x 3"):
        checks.map_ssim(a[:2, :2], a[:2, :2], (2, 2))


def test_the_result_names_its_steps_and_layers_and_goes_to_json(net, images):
    result = checks.sanity_cascade(checks.CamMaps(GradCAM(net, "top_activation")), images, seed=4)
    groups = dict(checks.weight_groups(net))
    record = json.loads(json.dumps(result.record()))
    assert record["steps"] == ["trained", *GROUPS] and record["variant"] == "cascade"
    assert record["layers"] == [[], *(groups[g] for g in GROUPS)]
    assert set(record["rho"]) == set(record["ssim"]) == set(checks.SANITY_METHODS)
    for name in checks.SANITY_METHODS:
        assert len(record["rho"][name]) == len(GROUPS) + 1
        assert record["rho"][name][0] == pytest.approx(1.0)
        np.testing.assert_allclose(record["rho"][name], np.abs(result.spearman[name]).mean(1))
    assert result.maps["gradcam"].shape == (5, 2, 12, 12)
    assert result.maps["guided_backprop"].shape == (5, 2, 12, 12)
    frame = result.frame("ssim")
    assert list(frame.index) == ["trained", *GROUPS] and "Guided Grad-CAM" in frame.columns
    steps = result.image_steps("gradcam", 1)
    assert steps[2].layers == ("logits", *groups["top"])  # cumulative
    assert steps[2].ssim == result.ssim["gradcam"][2, 1]


def test_bad_input_is_one_line_errors(net, images):
    with pytest.raises(DeepvisError, match="between 1 and 4"):
        next(checks.randomisation_cascade(net, steps=5))
    with pytest.raises(DeepvisError, match="variant"):
        next(checks.randomisation_cascade(net, variant="sideways"))
    with pytest.raises(DeepvisError, match="distinct names"):
        checks.CamMaps(GradCAM(net, "top_activation"), ["gradcam", "nonsense"])
    with pytest.raises(DeepvisError, match="one image"):
        checks.sanity_check(_WeightBlind(net), images)
    maps = checks.CamMaps(GradCAM(net, "top_activation"), ["gradcam"])
    result = checks.sanity_cascade(maps, images, steps=1)
    assert result.steps == ("trained", "logits") and result.layers == ((), ("logits",))
    with pytest.raises(DeepvisError, match="'rho' or 'ssim'"):
        result.frame("iou")


def test_the_figures_label_steps_methods_and_scores(net, images):
    result = checks.sanity_cascade(
        checks.CamMaps(GradCAM(net, "top_activation"), ["gradcam", "guided_backprop"]),
        images,
        seed=4,
        variant="independent",
    )
    fig = sanity_curves(result, title="tiny")
    rho, ssim = fig.axes[:2]
    assert [t.get_text() for t in ssim.get_xticklabels()] == ["none", *GROUPS]
    assert "rho" in rho.get_ylabel() and "SSIM" in ssim.get_ylabel()
    assert "alone" in ssim.get_xlabel()
    assert [t.get_text() for t in rho.get_legend().get_texts()] == ["Grad-CAM", "Guided Backprop"]
    np.testing.assert_allclose(rho.lines[0].get_ydata(), np.abs(result.spearman["gradcam"]).mean(1))
    np.testing.assert_allclose(ssim.lines[1].get_ydata(), result.ssim["guided_backprop"].mean(1))
    strip = sanity_figure(
        np.zeros((12, 12, 3), np.uint8), result.image_steps("gradcam"), cumulative=False
    )
    titles = [ax.get_title() for ax in strip.axes if ax.get_visible()]
    assert len(titles) == len(GROUPS) + 1 and titles[1].startswith("logits only")
