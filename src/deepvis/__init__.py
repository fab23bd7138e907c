"""deepvis: convolutional autoencoders on Fashion-MNIST and Grad-CAM saliency, as a report."""

import os

# oneDNN trains the CAE about twice as fast on these CPUs, and TensorFlow leaves it off here by
# default. TensorFlow reads the variable when it loads, so this default only takes effect where
# deepvis is imported first (every deepvis command and script); a value already set always wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from deepvis.errors import DeepvisError  # noqa: E402

__all__ = ["DeepvisError"]
__version__ = "0.1.0"
