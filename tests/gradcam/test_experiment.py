"""Where Exercise 2's notebooks start: the gradient spread of the top classes, the experiment's
views of its results, its cache, and `start` against the steps of notebook 04."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from deepvis.gradcam import experiment, layers
from deepvis.gradcam.core import GradCAM
from deepvis.gradcam.images import resize_map
from tests.gradcam.conftest import N_CLASSES


def _two_convs() -> keras.Model:
    """conv -> conv -> GAP -> dense: the first conv's gradient varies over positions."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="first")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="second")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(N_CLASSES)(x))


def test_spread_is_zero_before_global_average_pooling_and_not_one_layer_earlier(x):
    model = _two_convs()
    before_pooling = experiment.top_class_spreads(GradCAM(model, "second"), x, top=2)
    assert before_pooling.shape == (3, 2)
    np.testing.assert_allclose(before_pooling, 0.0, atol=1e-6)
    earlier = experiment.top_class_spreads(GradCAM(model, "first"), x)
    assert earlier.shape == (3, 3) and np.all(earlier > 0.05)


def test_spread_follows_the_rank_of_each_images_classes(x):
    """Rank 1 first: the same as `class_gradients` of the classes sorted by score."""
    cam = GradCAM(_two_convs(), "first")
    classes = np.argsort(-cam.logits(x), axis=1)[:, :3]
    expected = layers.gradient_spread(layers.class_gradients(cam, x, classes))
    np.testing.assert_allclose(experiment.top_class_spreads(cam, x), expected, rtol=1e-6)


class _Tiny:
    """An `ImageNetModel` stand-in at 6x6 for the tiny conftest model."""

    name, layer, input_size = "tiny", "conv", 6

    def __init__(self, model):
        self.model = model


def _tiny_experiment(model, names=("cat", "gc2")) -> experiment.Experiment:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (6, 6, 3), dtype=np.uint8) for _ in names]
    x = np.stack(images).astype(np.float32) / 255.0
    cam = GradCAM(model, "conv")
    result = cam.compute(x, top=3)
    heat = [np.stack([resize_map(m, (6, 6)) for m in maps]) for maps in result.maps]
    files = [Path(f"/images/{name}.jpg") for name in names]
    return experiment.Experiment(_Tiny(model), files, images, x, cam, result, heat)


def test_experiment_names_each_images_classes_in_rank_order(model):
    from deepvis.gradcam.imagenet.classes import class_names

    run = _tiny_experiment(model)
    assert run.stems == ["cat", "gc2"]
    names = class_names()
    for stem, classes, probs in zip(
        run.stems, run.result.classes, run.result.probabilities, strict=True
    ):
        assert [n for n, _ in run.top3[stem]] == [names[c][1] for c in classes]
        assert [p for _, p in run.top3[stem]] == pytest.approx(probs.tolist())
        assert probs[0] >= probs[1] >= probs[2]
    first = run.top3["cat"][0][0]
    assert run.labels[0][0] == f"cat.jpg, #1 {first}" and run.labels[1][2].startswith("gc2.jpg, #3")


def test_remember_computes_once_per_network_images_and_settings(model, project_home):
    run = _tiny_experiment(model)
    calls = []

    def compute():
        calls.append(1)
        return {"value": len(calls)}

    assert run.remember("probe", {"n": 1}, compute) == {"value": 1}
    assert run.remember("probe", {"n": 1}, compute) == {"value": 1}  # from the cache
    assert run.remember("probe", {"n": 2}, compute) == {"value": 2}  # other settings
    other = _tiny_experiment(model, names=("cat", "gc2", "gc3"))  # other images
    assert other.remember("probe", {"n": 1}, compute) == {"value": 3}
    assert len(list((project_home / "data" / "cache" / "gradcam").glob("probe-*.pkl"))) == 3


def test_start_is_notebook_04s_steps_in_one_call(lite0_net, monkeypatch):
    """EfficientNet-Lite0 and the stand-in images: the maps of the batched Grad-CAM, resized to
    each image, and the top-3 of the network's own scores."""
    monkeypatch.setenv("DEEPVIS_GRADCAM_MODEL", "efficientnet-lite0")
    monkeypatch.delenv("DEEPVIS_GRADCAM_IMAGES", raising=False)
    run = experiment.start()
    assert run.net.name == "efficientnet-lite0" and run.stems[0] == "cat"
    assert run.x.shape == (len(run.images), 224, 224, 3)
    logits = run.cam.logits(run.x)
    np.testing.assert_array_equal(run.result.classes, np.argsort(-logits, axis=1)[:, :3])
    for i, (image, heat) in enumerate(zip(run.images, run.heat, strict=True)):
        assert heat.shape == (3, *image.shape[:2])  # each rank's map at the image's own size
        np.testing.assert_array_equal(heat[2], resize_map(run.result.maps[i, 2], image.shape[:2]))
    # the last convolutional activation feeds global average pooling: a constant gradient
    last = experiment.top_class_spreads(GradCAM(run.net.model, run.net.last_conv), run.x[:2])
    np.testing.assert_allclose(last, 0.0, atol=1e-6)


def test_crop_comparison_on_lite0_reads_both_preprocessings(lite0_net, test_images):
    """Each row's top-3 names are the network's own ranking of the squashed and of the
    centre-cropped image; a square image's crop at ratio 256/224 still differs from the squash,
    so only the counts are checked against an independent ranking."""
    from scipy.special import softmax

    from deepvis.gradcam.imagenet.classes import class_names

    images, stems = test_images[:2], ["a", "b"]
    table = experiment.crop_comparison(lite0_net, images, stems)
    assert list(table.index) == ["a.jpg", "b.jpg"]
    names = class_names()
    for crop, column in ((False, "squashed"), (True, "cropped")):
        probs = softmax(np.asarray(lite0_net.model(lite0_net.prepare(images, crop=crop))), 1)
        expected = [", ".join(names[c][1] for c in np.argsort(-p)[:3]) for p in probs]
        assert list(table[column]) == expected
    top1 = [row.squashed.split(", ")[0] == row.cropped.split(", ")[0] for row in table.itertuples()]
    assert list(table.same_top1) == top1
    assert table.shared.between(0, 3).all()
    assert table.aspect.tolist() == [im.shape[1] / im.shape[0] for im in images]
