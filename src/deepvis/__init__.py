"""deepvis: convolutional autoencoders on Fashion-MNIST and Grad-CAM saliency, as a report."""

import os

from deepvis.config import ENV_DEFAULTS
from deepvis.errors import DeepvisError

# TensorFlow reads these when it loads, so they take effect where deepvis is imported first
# (every deepvis command and script); a value already set always wins.
for _name, _value in ENV_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

__all__ = ["DeepvisError"]
__version__ = "0.1.0"
