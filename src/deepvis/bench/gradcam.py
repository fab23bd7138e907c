"""Benchmark: top-3 CAM maps of the five test images, per method, against two other ways.

The Keras Grad-CAM example (keras.io/examples/vision/grad_cam) calls the whole model eagerly
under a tape once per image and class. pytorch-grad-cam 1.5.7, run on the same
EfficientNet-Lite0 weights in PyTorch when it is installed (``requirements-reference.txt``),
takes one call per rank (all images at once; Score-CAM runs C masked images per image and
rank). `deepvis.gradcam.core.GradCAM` runs one compiled forward pass over the batch (batch-norm
folded into the convolutions, `deepvis.gradcam.folding`) and one backward pass per rank, or
for Score-CAM one set of masked passes for all ranks, skipping the all-zero channels. `run`
(``python -m deepvis.bench gradcam``) times each way on the same inputs, checks that the maps
agree, prints one table of times and ratios, and (with the peer) writes the agreement per
method to ``report/gradcam_reference.json`` (`AGREEMENT_FILE`), which Exercise 2's appendix
shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from deepvis.config import paths, shown
from deepvis.files import atomic_write_json
from deepvis.gradcam import reference
from deepvis.gradcam.core import EPS, GradCAM
from deepvis.gradcam.imagenet import load_model
from deepvis.gradcam.images import load_image
from deepvis.gradcam.methods import CAM_METHODS, METHODS
from deepvis.gradcam.testimages import image_paths

#: Where `run` records the agreement with pytorch-grad-cam (under the report folder).
AGREEMENT_FILE = "gradcam_reference.json"


def keras_example_maps(grad_model: keras.Model, x: np.ndarray, top: int) -> np.ndarray:
    """The example's loop: per image and rank, one taped model call -> (N, k, h, w) in [0, 1]."""
    maps = []
    for image in x:
        batch = image[None]
        for rank in range(top):
            with tf.GradientTape() as tape:
                features, preds = grad_model(batch)
                pred_index = tf.math.top_k(preds[0], top).indices[rank]
                class_channel = preds[:, pred_index]
            grads = tape.gradient(class_channel, features)
            pooled = tf.reduce_mean(grads, axis=(0, 1, 2))
            heatmap = tf.squeeze(features[0] @ pooled[..., tf.newaxis])
            heatmap = tf.maximum(heatmap, 0) / (tf.reduce_max(heatmap) + EPS)
            maps.append(heatmap.numpy())
    return np.stack(maps).reshape(len(x), top, *maps[0].shape)


def _best_time(fn: Callable[[], object], repeats: int, warm_up: bool = True) -> float:
    """Shortest wall time of ``repeats`` calls, in seconds (after one untimed warm-up call,
    unless the caller made it)."""
    if warm_up:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _torch_threads() -> int:
    """Set PyTorch to 1 or its default thread count, whichever runs a forward pass faster.

    On a busy 2-core machine one thread can be several times faster than two (spinning
    OpenMP workers); the peer gets its best setting.
    """
    import torch

    model = reference.torch_lite0()
    batch = torch.zeros(4, 3, 224, 224)
    best, best_time = 1, float("inf")
    for threads in sorted({1, torch.get_num_threads()}):
        torch.set_num_threads(threads)
        with torch.no_grad():
            elapsed = _best_time(lambda: model(batch), 2)
        if elapsed < best_time:
            best, best_time = threads, elapsed
    torch.set_num_threads(best)
    return best


def run(
    model: str = "auto",
    repeats: int = 3,
    top: int = 3,
    peer: bool | None = None,
    methods: Sequence[str] = CAM_METHODS,
) -> float:
    """Time every method on gc1..gc5 and print one table; return Grad-CAM's speed-up over the
    Keras example's loop.

    ``peer``: also time pytorch-grad-cam (None: when PyTorch and it are installed and the model
    is EfficientNet-Lite0, the only one it has). The notebook passes ``peer=False``, so that
    ``make report`` never imports PyTorch. Each time is the best of ``repeats`` calls after an
    untimed warm-up call (Score-CAM: the best of two each way), and pytorch-grad-cam's
    Score-CAM is measured on one image and one rank and multiplied by N x k (its calls are
    alike: C masked passes each). With the peer, every method's maps are also compared with
    both networks in float64 (Score-CAM's on that one image and rank).
    """
    net = load_model(model)
    x = net.prepare([load_image(p) for p in image_paths()])
    n = len(x)
    if peer is None:
        peer = reference.available() and net.name == "efficientnet-lite0"
    torch_model = None
    if peer:
        threads = _torch_threads()
        torch_model = reference.torch_lite0()
    print(f"model {net.name}, layer {net.layer}, {n} images, top-{top}")
    rows = []
    speedup = float("nan")
    for name in methods:
        cam = GradCAM(net.model, net.layer, name)
        scorecam = name == "scorecam"
        result = cam.compute(x, top=top)  # the warm-up call (traces the passes)
        times = min(2, repeats) if scorecam else repeats
        t_ours = _best_time(lambda cam=cam: cam.compute(x, top=top), times, warm_up=False)
        row = {"method": METHODS[name].title, "project ms": t_ours * 1000}
        if name == "gradcam":
            theirs = keras_example_maps(cam.grad_model, x, top)
            row["keras-io diff"] = float(np.abs(result.maps - theirs).max())
            t_keras = _best_time(
                lambda g=cam.grad_model: keras_example_maps(g, x, top), repeats, warm_up=False
            )
            row["keras-io ms"] = t_keras * 1000
            speedup = t_keras / t_ours
        if torch_model is not None:
            classes = result.classes
            if scorecam:
                ref = reference.reference_maps(
                    torch_model, name, x[:1], classes[:1, :1], True, layer=net.layer
                )
                t_peer = n * top * _best_time(
                    lambda m=name, c=classes: reference.reference_maps(
                        torch_model, m, x[:1], c[:1, :1], True, layer=net.layer
                    ),
                    min(2, repeats),
                    warm_up=False,
                )
                diff = np.abs(reference.minmax(result.raw[:1, :1]) - reference.minmax(ref)).max()
            else:
                ref = reference.reference_maps(torch_model, name, x, classes, layer=net.layer)
                t_peer = _best_time(
                    lambda m=name, c=classes: reference.reference_maps(
                        torch_model, m, x, c, layer=net.layer
                    ),
                    repeats,
                    warm_up=False,
                )
                diff = np.abs(reference.minmax(result.raw) - reference.minmax(ref)).max()
            row.update({"peer ms": t_peer * 1000, "peer diff": float(diff)})
        rows.append(row)
    _print_table(rows, peer)
    if peer:
        compared = [m for m in methods if METHODS[m].reference and m != "scorecam"]
        classes = GradCAM(net.model, net.layer).compute(x, top=top).classes  # every method's
        float64 = reference.float64_agreement(x, classes, compared, layer=net.layer)
        if "scorecam" in methods:  # as in float32: one image, one rank
            float64 |= reference.float64_agreement(
                x[:1], classes[:1, :1], ["scorecam"], layer=net.layer
            )
        print("both networks in float64: max diff " + ", ".join(
            f"{METHODS[m].title} {d:.1e}" for m, d in float64.items()))
        record = {
            "model": net.name,
            "layer": net.layer,
            "images": [p.name for p in image_paths()],
            "top": top,
            "max_diff": {row["method"]: row["peer diff"] for row in rows},
            "max_diff_float64": {METHODS[m].title: d for m, d in float64.items()},
            "scorecam_maps": "one image, rank 1",
        }
        path = atomic_write_json(paths().report / AGREEMENT_FILE, record)
        print(f"agreement with pytorch-grad-cam written to {shown(path)}")
        print(
            f"peer: pytorch-grad-cam 1.5.7, PyTorch on {threads} thread(s); its Score-CAM time "
            f"is one image x one rank x {n * top}; diff: max |difference| of min-max normalised "
            "maps"
        )
    print(f"Grad-CAM speed-up over the Keras example: {speedup:.1f}x")
    return speedup


def _print_table(rows: list[dict[str, float | str]], peer: bool) -> None:
    """Print the rows as an aligned text table with ratios (other way's time / project's)."""

    def cell(row: dict[str, float | str], key: str, fmt: str) -> str:
        return format(row[key], fmt) if key in row else "-"

    header = f"{'method':<12} {'project':>10} {'keras-io':>10} {'ratio':>7}"
    if peer:
        header += f" {'pytorch-grad-cam':>17} {'ratio':>7} {'max diff':>9}"
    print(header)
    for row in rows:
        line = f"{row['method']:<12} {cell(row, 'project ms', '8.0f')} ms"
        if "keras-io ms" in row:
            ratio = float(row["keras-io ms"]) / float(row["project ms"])
            line += f" {cell(row, 'keras-io ms', '8.0f')} ms {ratio:6.1f}x"
        else:
            line += f" {'-':>11} {'-':>7}"
        if peer:
            ratio = float(row["peer ms"]) / float(row["project ms"])
            line += f" {cell(row, 'peer ms', '14.0f')} ms {ratio:6.1f}x"
            line += f" {cell(row, 'peer diff', '9.1e')}"
        print(line)
