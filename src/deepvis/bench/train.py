"""Benchmark: training speed of the project's CAE (``python -m deepvis.bench train``).

Seconds per epoch, images per second, FLOPs per image and GFLOP/s reached, in float32 and with
Keras' ``mixed_bfloat16`` policy (bfloat16 compute, float32 weights, float32 output layer), and
as a fraction of the CPU's peak (`peak_gflops`).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import keras

from deepvis.cae.config import PRECISIONS


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


def peak_gflops(policy: str, cpuinfo: str | None = None) -> float | None:
    """An estimate of the CPU's peak GFLOP/s for a Keras dtype `policy`, or None if unknown.

    cores x clock (the highest ``cpu MHz`` of ``/proc/cpuinfo``) x FLOPs per cycle and core:
    64 in float32 with AVX-512 (two FMA units x 16 lanes x 2), 32 with AVX2 only; twice that
    for bfloat16 where the CPU has AVX512_BF16 (its dot products do two multiply-adds per lane).
    An estimate: the real clock under load and the number of FMA units vary by model.
    """
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.is_file() else ""
    clocks = [float(line.split(":")[1]) for line in cpuinfo.splitlines() if "cpu MHz" in line]
    flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    if not clocks or not flags:
        return None
    per_cycle = 64 if "avx512f" in flags.split() else 32
    if policy == "mixed_bfloat16" and "avx512_bf16" in flags.split():
        per_cycle *= 2
    return (os.cpu_count() or 1) * max(clocks) / 1000 * per_cycle


def bench_train(images: int, epochs: int, policies: tuple[str, ...] = PRECISIONS) -> None:
    """Train the project's CAE configuration on `images` training images under each dtype
    policy and print its speed, one line per policy.

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
    print(f"forward FLOPs per image: {flops / 1e6:.1f} MFLOP (training step about 3x)")
    print(
        f"{'policy':<16}{'s/epoch':>9}{'s/full epoch':>14}{'images/s':>10}{'GFLOP/s':>9}"
        f"{'of peak':>9}{'test BCE':>10}"
    )
    for policy in policies:
        _, history = train(replace(config, precision=policy), x_train, x_test, verbose=0)
        # The first epoch includes tracing; report the later ones when there are any.
        seconds = history["seconds"][1:] or history["seconds"]
        per_epoch = sum(seconds) / len(seconds)
        rate = (images + 1000 / 3) / per_epoch  # test images cost a forward pass only
        full_epoch = per_epoch * (60000 + 10000 / 3) / (images + 1000 / 3)
        reached = rate * 3 * flops / 1e9
        peak = peak_gflops(policy)
        share = f"{reached / peak:.1%}" if peak else "n/a"
        print(
            f"{policy:<16}{per_epoch:9.2f}{full_epoch:14.1f}{rate:10.0f}{reached:9.1f}"
            f"{share:>9}{history['val_loss'][-1]:10.4f}",
            flush=True,
        )
