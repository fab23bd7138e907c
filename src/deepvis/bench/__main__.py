"""Benchmarks (scripts that print figures, not timed tests).

``python -m deepvis.bench train``   training speed of the project's CAE, float32 and bfloat16:
                                    s per epoch, images/s, GFLOP/s and the share of the peak.
``python -m deepvis.bench gradcam`` top-3 Grad-CAM, batched vs the per-class Keras-example way.
"""

from __future__ import annotations

import argparse
import sys
import time

from deepvis.errors import cli_errors
from deepvis.quiet import quiet_terminal


@cli_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deepvis.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="what", required=True)
    p_train = sub.add_parser("train", help="CAE training speed")
    p_train.add_argument("--images", type=int, default=10000, help="training images per epoch")
    p_train.add_argument("--epochs", type=int, default=2, help="epochs (the first is warm-up)")
    sub.add_parser("gradcam", help="batched top-3 Grad-CAM vs the per-class way")
    args = parser.parse_args(argv)
    quiet_terminal()  # TensorFlow's C++ logging to the log file, the figures on the terminal
    start = time.perf_counter()
    if args.what == "train":
        from deepvis.bench.train import bench_train

        bench_train(args.images, args.epochs)
    else:
        from deepvis.bench.gradcam import run

        run()
    print(f"(benchmark took {time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
