"""Where Exercise 2's notebooks start: the network, the test images and their top-3 maps.

Notebook 04 takes the assignment's Steps 1-5 one at a time; notebook 07's analyses start from
`start`, which does the same in one call (the network of ``DEEPVIS_GRADCAM_MODEL``, the images
of `deepvis.gradcam.testimages`, each image's top-3 classes and Grad-CAM maps), so that it needs
nothing from notebook 04. `Experiment.remember` caches an analysis (`deepvis.gradcam.cache`)
keyed by the network's weights, the layer, the images and the analysis' settings.
`top_class_spreads` measures how much the gradient of equation (1) varies over positions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass(frozen=True)
class Experiment:
    """The configured network and test images, with each image's top-3 Grad-CAM maps.

    ``net`` the `deepvis.gradcam.imagenet.ImageNetModel`; ``files`` the image files;
    ``images`` their uint8 RGB arrays; ``x`` the preprocessed batch; ``cam`` Grad-CAM at
    ``net.layer``; ``result`` the top-3 classes and maps (`deepvis.gradcam.core.CAMResult`);
    ``heat`` per image the three maps resized to it, (3, H_i, W_i), as Step 5 shows them.
    """

    net: Any
    files: list[Path]
    images: list[np.ndarray]
    x: np.ndarray
    cam: Any
    result: Any
    heat: list[np.ndarray]

    @property
    def stems(self) -> list[str]:
        """The images' file names without ``.jpg``: ``["cat", ...]`` or ``["gc1", ...]``."""
        return [path.stem for path in self.files]

    @property
    def top3(self) -> dict[str, list[tuple[str, float]]]:
        """Per image (by stem) its top classes' ImageNet names and softmax probabilities."""
        from deepvis.gradcam.imagenet.classes import class_names

        names = class_names()
        return {
            stem: [(names[c][1], float(p)) for c, p in zip(classes, probs, strict=True)]
            for stem, classes, probs in zip(
                self.stems, self.result.classes, self.result.probabilities, strict=True
            )
        }

    @property
    def labels(self) -> list[list[str]]:
        """Per image a label per rank: ``"cat.jpg, #1 Egyptian_cat"``."""
        return [
            [f"{stem}.jpg, #{r + 1} {name}" for r, (name, _) in enumerate(ranked)]
            for stem, ranked in self.top3.items()
        ]

    def remember(self, name: str, settings: Mapping[str, Any], compute: Callable[[], T]) -> T:
        """``compute()`` through the cache, keyed by the network's weights, its Grad-CAM layer,
        the images and `settings` (everything else the result depends on)."""
        from deepvis.gradcam.cache import cached, model_digest

        key = {
            "model": model_digest(self.net.model),
            "layer": self.net.layer,
            "images": self.images,
            "settings": dict(settings),
        }
        return cached(name, key, compute)


def start(top: int = 3) -> Experiment:
    """Notebook 04's Steps 1-5 in one call: check the settings, load the network and the test
    images (`deepvis.gradcam.settings`, `deepvis.gradcam.imagenet.load_model`,
    `deepvis.gradcam.testimages.image_paths`), preprocess them, and compute each image's
    top-`top` Grad-CAM maps, resized to the image."""
    from deepvis.gradcam import testimages
    from deepvis.gradcam.core import GradCAM
    from deepvis.gradcam.imagenet import ensure_class_index, load_model, requested_model
    from deepvis.gradcam.images import load_image, resize_map
    from deepvis.gradcam.settings import validate_settings

    validate_settings()
    net = load_model(requested_model())
    ensure_class_index()
    files = testimages.image_paths()
    images = [load_image(path) for path in files]
    x = net.prepare(images)
    cam = GradCAM(net.model, net.layer)
    result = cam.compute(x, top=top)
    heat = [
        np.stack([resize_map(m, image.shape[:2]) for m in maps])
        for image, maps in zip(images, result.maps, strict=True)
    ]
    return Experiment(net, files, images, x, cam, result, heat)


def top_class_spreads(cam: Any, x: np.ndarray, top: int = 3) -> np.ndarray:
    """How much the gradient of each image's top-`top` class scores varies over the positions
    of ``cam``'s layer: `deepvis.gradcam.layers.gradient_spread` (0 when every feature map's
    gradient is the same at every position), (N, top) with rank 1 first.

    ``cam`` a `deepvis.gradcam.core.GradCAM`; ``x`` a preprocessed batch (N, H, W, 3).
    """
    from deepvis.gradcam.layers import class_gradients, gradient_spread

    classes = np.argsort(-cam.logits(x), axis=1, kind="stable")[:, :top]
    return gradient_spread(class_gradients(cam, x, classes))


def crop_comparison(net: Any, images: list[np.ndarray], stems: list[str], top: int = 3) -> Any:
    """Whether the top-`top` classes change when each image is resized and centre-cropped
    (`deepvis.gradcam.images.centre_crop`, the standard ImageNet evaluation) instead of squashed
    whole to the input (`ImageNetModel.prepare`'s default).

    One row per image (index: ``stems`` + ``.jpg``): ``aspect`` width / height; ``squashed``
    and ``cropped`` the top classes' names joined by ", "; ``same_top1`` bool; ``shared`` how
    many of the `top` classes both keep (int); ``p_squashed`` and ``p_cropped`` the rank-1
    class's softmax probability under each. Two forward passes over the images.
    """
    import pandas as pd
    from scipy.special import softmax

    from deepvis.gradcam.imagenet.classes import class_names

    names = class_names()
    ranked = {}
    for crop in (False, True):
        probs = softmax(np.asarray(net.model(net.prepare(images, crop=crop), training=False)), 1)
        ranked[crop] = (np.argsort(-probs, axis=1, kind="stable")[:, :top], probs)
    (squashed, p_sq), (cropped, p_cr) = ranked[False], ranked[True]
    rows = [
        {
            "aspect": image.shape[1] / image.shape[0],
            "squashed": ", ".join(names[c][1] for c in squashed[i]),
            "cropped": ", ".join(names[c][1] for c in cropped[i]),
            "same_top1": bool(squashed[i, 0] == cropped[i, 0]),
            "shared": len(set(squashed[i]) & set(cropped[i])),
            "p_squashed": float(p_sq[i, squashed[i, 0]]),
            "p_cropped": float(p_cr[i, cropped[i, 0]]),
        }
        for i, image in enumerate(images)
    ]
    return pd.DataFrame(rows, index=pd.Index([f"{s}.jpg" for s in stems], name="image"))
