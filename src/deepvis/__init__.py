"""deepvis: convolutional autoencoders on Fashion-MNIST and Grad-CAM saliency, as a report."""

from deepvis.errors import DeepvisError

__all__ = ["DeepvisError"]
__version__ = "0.1.0"
