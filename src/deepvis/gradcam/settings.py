"""Exercise 2's settings, checked in one go before anything runs.

`validate_settings` reads the environment variables that change what notebooks 04 and 07 do and
raises a one-line `DeepvisError` for the first bad one, without loading a model or an image:

* ``DEEPVIS_GRADCAM_MODEL``: one of `deepvis.gradcam.imagenet.MODEL_NAMES`;
* ``DEEPVIS_GRADCAM_IMAGES``: when set, a folder holding the course's gc1.jpg ... gc5.jpg;
* ``DEEPVIS_VGG16_WEIGHTS``: when set, an existing file.
"""

from __future__ import annotations

from deepvis.gradcam.imagenet.models import env_vgg16_weights, requested_model
from deepvis.gradcam.testimages import course_folder


def validate_settings() -> None:
    """Raise `DeepvisError` (one line: the variable, what is wrong, the fix) for a bad Grad-CAM
    setting; return None when all are usable. Reads only the environment and the file system."""
    requested_model()
    course_folder()
    env_vgg16_weights()
