"""Command line: Grad-CAM figures and JSON for image files.

python -m deepvis.gradcam IMG [IMG ...] [--model auto] [--top 3] [--layer NAME] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepvis.errors import DeepvisError, cli_errors
from deepvis.gradcam.core import CAMResult, GradCAM
from deepvis.gradcam.images import load_image, resize_map


def explain(net: Any, cam: GradCAM, image: np.ndarray, top: int) -> tuple[CAMResult, np.ndarray]:
    """Top-``top`` Grad-CAM of one RGB image: the result and its maps (k, H, W) at image size."""
    result = cam.compute(net.prepare([image]), top=top)
    size = image.shape[:2]
    return result, np.stack([resize_map(m, size) for m in result.maps[0]])


def _parser() -> argparse.ArgumentParser:
    from deepvis.gradcam.imagenet import MODEL_NAMES

    parser = argparse.ArgumentParser(
        prog="python -m deepvis.gradcam",
        description="Grad-CAM saliency maps of the top-k ImageNet classes for each image. Writes "
        "DIR/<stem>_gradcam.png (input | heat map | overlay per rank) and DIR/<stem>.json.",
    )
    parser.add_argument("images", nargs="+", metavar="IMG", help="image files (any Pillow format)")
    parser.add_argument(
        "--model",
        choices=MODEL_NAMES,
        default="auto",
        help="auto: VGG-16 if its ImageNet weights are on disk, else EfficientNet-Lite0",
    )
    parser.add_argument("--top", type=int, default=3, help="classes per image (default 3)")
    parser.add_argument("--layer", help="conv layer to explain (default: the model's last)")
    parser.add_argument(
        "--out", type=Path, default=Path("gradcam"), help="output folder (default ./gradcam)"
    )
    return parser


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns 0 when every image succeeded, 2 otherwise."""
    args = _parser().parse_args(argv)
    from deepvis.files import atomic_write_json, save_figure
    from deepvis.gradcam.imagenet import class_names, load_model
    from deepvis.gradcam.plots import gradcam_figure

    names = class_names()
    net = load_model(args.model)
    cam = GradCAM(net.model, args.layer or net.layer)
    if not 1 <= args.top <= cam.num_classes:
        raise DeepvisError(f"--top must be between 1 and {cam.num_classes}, not {args.top}")
    print(f"model: {net.description}; layer {cam.layer_name} {cam.grid}", flush=True)
    failed = 0
    for i, path in enumerate(map(Path, args.images), start=1):
        try:
            image = load_image(path)
        except DeepvisError as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            failed += 1
            continue
        result, heat = explain(net, cam, image, args.top)
        ranked = [
            {
                "rank": r + 1,
                "index": int(c),
                "wnid": names[c][0],
                "name": names[c][1],
                "probability": round(float(p), 6),
                "zero_map": bool(z),
            }
            for r, (c, p, z) in enumerate(
                zip(result.classes[0], result.probabilities[0], result.zero[0], strict=True)
            )
        ]
        labels = [f"{c['name']} ({c['probability']:.1%})" for c in ranked]
        title = f"{path.name}: {net.name}, layer {cam.layer_name}"
        fig = gradcam_figure(image, heat, labels, title=title)
        png = save_figure(fig, args.out / f"{path.stem}_gradcam.png")
        record = {
            "image": str(path),
            "size": [image.shape[1], image.shape[0]],
            "model": net.name,
            "layer": cam.layer_name,
            "top": ranked,
        }
        atomic_write_json(args.out / f"{path.stem}.json", record)
        summary = ", ".join(labels)
        print(f"[{i}/{len(args.images)}] {path}: {summary} -> {png}", flush=True)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
