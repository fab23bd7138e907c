"""Benchmark: training speed of the project's CAE (``python -m deepvis.bench train``).

Seconds per epoch, images per second, FLOPs per image and GFLOP/s reached.
"""

from __future__ import annotations

from dataclasses import replace

import keras


def forward_flops(model: keras.Model) -> int:
    """Multiply-adds x 2 of one forward pass for one image, over Conv2D and Dense layers.

    Conv2D: 2 * kh * kw * C_in * C_out * H_out * W_out; Dense: 2 * n_in * n_out. Pooling,
    upsampling, activations and biases are ignored (a few percent at most).
    """
    total = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, c_in, c_out = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            total += 2 * kh * kw * c_in * c_out * h * w
        elif isinstance(layer, keras.layers.Dense):
            n_in, n_out = layer.kernel.shape
            total += 2 * n_in * n_out
    return int(total)


def bench_train(images: int, epochs: int) -> None:
    """Train the project's CAE configuration on `images` training images and print its speed.

    A training step costs about 3 forward passes (forward, and two products in the backward).
    """
    from deepvis.cae.config import cae_config
    from deepvis.cae.model import build_cae
    from deepvis.cae.train import train
    from deepvis.data import load_fashion_mnist

    (x_train, _), (x_test, _) = load_fashion_mnist()
    config = replace(cae_config(), epochs=epochs, train_subset=images, test_subset=1000)
    flops = forward_flops(build_cae(config).autoencoder)
    print(f"config {config.key()}: filters {config.filters}, batch {config.batch_size}")
    _, history = train(config, x_train, x_test, verbose=0)
    # The first epoch includes tracing; report the later ones when there are any.
    seconds = history["seconds"][1:] or history["seconds"]
    per_epoch = sum(seconds) / len(seconds)
    rate = (images + 1000 / 3) / per_epoch  # test images cost a forward pass only
    full_epoch = per_epoch * (60000 + 10000 / 3) / (images + 1000 / 3)
    print(f"seconds per epoch ({images} images): {per_epoch:.2f}")
    print(f"estimated seconds per full epoch (60,000 + 10,000 test): {full_epoch:.1f}")
    print(f"training images per second: {rate:.0f}")
    print(f"forward FLOPs per image: {flops / 1e6:.1f} MFLOP (training step about 3x)")
    print(f"reached: {rate * 3 * flops / 1e9:.1f} GFLOP/s")
