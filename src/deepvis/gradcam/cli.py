"""Command line: Grad-CAM (or another CAM method) figures and JSON for image files.

python -m deepvis.gradcam IMG [IMG ...] [--model auto] [--method gradcam] [--guided] [--top 3]
                          [--layer NAME] [--out DIR]
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
from deepvis.gradcam.methods import METHODS


def explain(net: Any, cam: GradCAM, image: np.ndarray, top: int) -> tuple[CAMResult, np.ndarray]:
    """Top-``top`` maps of ``cam``'s method for one RGB image: the result and its maps (k, H, W)
    at image size."""
    result = cam.compute(net.prepare([image]), top=top)
    size = image.shape[:2]
    return result, np.stack([resize_map(m, size) for m in result.maps[0]])


def _parser() -> argparse.ArgumentParser:
    from deepvis.gradcam.imagenet import MODEL_NAMES
    from deepvis.gradcam.imagenet.lite0 import LITE0_LAYER
    from deepvis.gradcam.imagenet.models import VGG16_LAYER

    parser = argparse.ArgumentParser(
        prog="python -m deepvis.gradcam",
        description="Grad-CAM saliency maps of the top-k ImageNet classes for each image. Writes "
        "DIR/<stem>_<method>.png (input | heat map | overlay per rank), DIR/<stem>.json and, "
        "with --guided, DIR/<stem>_guided.png.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="methods:\n"
        + "\n".join(
            f"  {m.name:<15} {m.title} ({m.paper})"
            + ("" if m.reference else "; evidence against the class")
            for m in METHODS.values()
        ),
    )
    parser.add_argument("images", nargs="+", metavar="IMG", help="image files (any Pillow format)")
    parser.add_argument(
        "--model",
        choices=MODEL_NAMES,
        default="auto",
        help="auto: VGG-16 if its ImageNet weights are on disk, else EfficientNet-Lite0",
    )
    parser.add_argument(
        "--method",
        choices=list(METHODS),
        default="gradcam",
        metavar="NAME",
        help="CAM method (default gradcam): " + ", ".join(METHODS),
    )
    parser.add_argument(
        "--guided",
        action="store_true",
        help="also write Guided Grad-CAM (Guided Backprop x the method's map, input resolution)",
    )
    parser.add_argument("--top", type=int, default=3, help="classes per image (default 3)")
    parser.add_argument(
        "--layer",
        help=f"conv layer to explain (default: the model's final conv layer, {VGG16_LAYER} for "
        f"VGG-16, {LITE0_LAYER} for EfficientNet-Lite0)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("gradcam"), help="output folder (default ./gradcam)"
    )
    return parser


def _guided_figure(
    net: Any, guided: Any, image: np.ndarray, result: CAMResult, labels: list[str], title: str
) -> Any:
    """Guided Grad-CAM of one image for its ranked classes, one panel per rank at image size."""
    from PIL import Image

    from deepvis.gradcam.guided import to_image
    from deepvis.gradcam.plots import methods_figure

    out = guided.compute(net.prepare([image]), classes=result.classes)
    size = (image.shape[1], image.shape[0])
    pictures = {
        f"#{r + 1} {label}": np.asarray(Image.fromarray(to_image(g)).resize(size, Image.BILINEAR))
        for r, (g, label) in enumerate(zip(out.gradients[0], labels, strict=True))
    }
    return methods_figure(image, pictures, title=f"{title}: Guided Grad-CAM")


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns 0 when every image succeeded, 2 otherwise."""
    args = _parser().parse_args(argv)
    from deepvis.files import atomic_write_json, save_figure
    from deepvis.gradcam.imagenet import class_names, load_model
    from deepvis.gradcam.plots import gradcam_figure

    names = class_names()
    net = load_model(args.model)
    cam = GradCAM(net.model, args.layer or net.layer, args.method)
    if not 1 <= args.top <= cam.num_classes:
        raise DeepvisError(f"--top must be between 1 and {cam.num_classes}, not {args.top}")
    title_of = METHODS[args.method].title
    print(
        f"model: {net.description}; layer {cam.layer_name} {cam.grid}; method {title_of}",
        flush=True,
    )
    guided = None
    if args.guided:
        from deepvis.gradcam.guided import GuidedGradCAM

        guided = GuidedGradCAM(net.model, cam.layer_name, args.method)
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
        if args.method != "gradcam":
            title += f", {title_of}"
        fig = gradcam_figure(image, heat, labels, title=title, method=title_of)
        written = [args.out / f"{path.stem}_{args.method.replace('++', 'pp')}.png"]
        save_figure(fig, written[0])
        if guided is not None:
            written.append(args.out / f"{path.stem}_guided.png")
            save_figure(_guided_figure(net, guided, image, result, labels, title), written[1])
        record = {
            "image": str(path),
            "size": [image.shape[1], image.shape[0]],
            "model": net.name,
            "layer": cam.layer_name,
            "method": args.method,
            "top": ranked,
        }
        written.append(atomic_write_json(args.out / f"{path.stem}.json", record))
        summary = ", ".join(labels)
        files = ", ".join(str(p) for p in written)
        print(f"[{i}/{len(args.images)}] {path}: {summary} -> {files}", flush=True)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
