"""Hand-made data with known latent-space answers (the latent and variants tests share it).

Images are black but for three pixels: the first encodes the class (0.05 + 0.09 c, jittered by
at most 0.004), the second is 0.5 (jittered), the third independent noise in [0, 0.3]. The
embedding `FirstPixels` keeps the first two (times 10) and loses the third.

`known_split`: ten training points per class, correctly labelled; four test points per class at
the same places, the fourth labelled as the next class. A 5-NN classifier fitted on the training
codes puts every test point in its cluster, so it is right on exactly 3 of 4 (0.75); fitted on
the test codes instead (train and test swapped) it would call every training point right (1.0).
"""

from __future__ import annotations

import numpy as np

#: The 5-NN accuracy of `FirstPixels` on `known_split`.
KNN5 = 0.75
#: Keras' clip of predicted probabilities in the binary cross-entropy.
EPS = 1e-7


def first_pixel_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, 28, 28, 1) float32 images for (N,) class labels, as the module docstring says."""
    x = np.zeros((len(labels), 28, 28, 1), dtype=np.float32)
    x[:, 0, 0, 0] = 0.05 + 0.09 * labels + rng.uniform(-0.004, 0.004, len(labels))
    x[:, 0, 1, 0] = 0.5 + rng.uniform(-0.004, 0.004, len(labels))
    x[:, 0, 2, 0] = rng.uniform(0, 0.3, len(labels))
    return x


def known_split(seed: int = 0):
    """``(x_train, y_train), (x_test, y_test)``: 100 training and 40 test images (see above)."""
    rng = np.random.default_rng(seed)
    y_train = np.repeat(np.arange(10), 10)
    place = np.repeat(np.arange(10), 4)
    y_test = np.where(np.arange(40) % 4 == 3, (place + 1) % 10, place)
    return (first_pixel_images(y_train, rng), y_train), (first_pixel_images(place, rng), y_test)


class FirstPixels:
    """An `Embedding` with known answers: the codes are 10x the first two pixels; decoding
    puts them back there and leaves every other pixel black."""

    def transform(self, X: np.ndarray) -> np.ndarray:
        return 10.0 * np.asarray(X)[:, :2]

    def inverse_transform(self, codes: np.ndarray) -> np.ndarray:
        rows = np.zeros((len(codes), 784))
        rows[:, :2] = np.asarray(codes) / 10.0
        return rows


def reconstruction_bce(x: np.ndarray) -> float:
    """Mean binary cross-entropy per pixel of `FirstPixels`' reconstruction of images `x`,
    written out: the first two pixels come back exactly (their own entropy), the third and the
    781 black ones come back as 0, clipped to `EPS`."""
    pixels = np.asarray(x, dtype=np.float64).reshape(len(x), 784)
    kept, lost = pixels[:, :2], pixels[:, 2]
    entropy = -(kept * np.log(kept) + (1 - kept) * np.log(1 - kept)).sum()
    third = -(lost * np.log(EPS) + (1 - lost) * np.log(1 - EPS)).sum()
    black = -781 * len(x) * np.log(1 - EPS)
    return float((entropy + third + black) / pixels.size)
