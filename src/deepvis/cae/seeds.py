"""``make seeds``: the report's CAE and denoising CAE trained with several seeds, and the spread.

``python -m deepvis.cae.seeds [SEED ...]`` trains (or loads from the cache) the report's CAE
(`cae_config`) and its denoising CAE (`denoising_config`, fine-tuned from the CAE of the same
seed) for each seed (`SEEDS` by default), scores each pair on the test set the way the write-ups
score the report's models, and writes ``report/seeds.json`` (atomically, after every seed):

- ``cae.test_bce``: reconstruction binary cross-entropy per pixel;
- ``latent.cae.knn5``, ``latent.cae.trustworthiness``, ``latent.cae.trustworthiness_all``:
  the 2-D codes (`latent.embedding_scores`: 5-NN fitted on the training codes, trustworthiness
  on the seeded sample and on all test images);
- ``dcae.psnr`` (dB) and ``dcae.ssim``: the denoising CAE on the seeded noisy test set.

The seed sets the initial weights, the order of the batches and the training noise; the noisy
*test* set is the same for every seed, the report's (`noise.noisy_test_set` of seed 0). Seed 0
is the report's own pair. `spread` summarises the seeds per metric (mean, sample standard
deviation, min, max), so that the write-ups can tell an effect from seed-to-seed noise.
Training is long (about 15 minutes a seed on 2 cores), hence outside ``make report``, like the
screens.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from deepvis.cae.config import cae_config, denoising_config
from deepvis.config import paths, quick_mode
from deepvis.errors import DeepvisError, cli_errors
from deepvis.files import atomic_write_json

#: The seeds of ``make seeds``: the report's own (0) and two more.
SEEDS = (0, 1, 2)
#: The scores of each seed, in the order the write-ups quote them.
METRICS = (
    "cae.test_bce",
    "latent.cae.knn5",
    "latent.cae.trustworthiness",
    "latent.cae.trustworthiness_all",
    "dcae.psnr",
    "dcae.ssim",
)


def results_path() -> Path:
    """``report/seeds.json`` of the full run (the seeds have no quick mode: a quick run's
    write-ups show the committed spread, like the screens)."""
    return paths().root / "report" / "seeds.json"


def score_seed(seed: int, data) -> dict[str, float | str]:  # noqa: ANN001 (load_fashion_mnist's)
    """Train or load the CAE and the denoising CAE of `seed`, and score them (`METRICS`, plus
    the ``cpu`` that trained the CAE). `data`: ``load_fashion_mnist()``'s two splits."""
    from deepvis.cae import latent, quality
    from deepvis.cae.noise import noisy_test_set
    from deepvis.cae.train import fit_all

    (x_train, y_train), (x_test, y_test) = data
    dconfig = denoising_config(seed=seed, init_from=cae_config(seed=seed))
    cae, dcae = fit_all([cae_config(seed=seed), dconfig])
    codes = latent.embedding_scores(
        latent.CAEEmbedding.of(cae), x_train, y_train, x_test, y_test
    )
    fixed = noisy_test_set(x_test, denoising_config())  # seed 0's noisy test set, for every seed
    denoised = quality.predict(dcae.autoencoder, fixed)
    restored = quality.scores(x_test, denoised)
    return {
        "cae.test_bce": cae.test_bce,
        "latent.cae.knn5": codes["knn5"],
        "latent.cae.trustworthiness": codes["trustworthiness"],
        "latent.cae.trustworthiness_all": codes["trustworthiness_all"],
        "dcae.psnr": restored["psnr"],
        "dcae.ssim": restored["ssim"],
        "cpu": cae.cpu,
    }


def spread(per_seed: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Per metric of `METRICS`: ``mean``, ``std`` (sample standard deviation, ddof=1; 0 for one
    seed), ``min`` and ``max`` over the seeds of `per_seed` (seed -> scores)."""
    out = {}
    for metric in METRICS:
        values = np.array([float(scores[metric]) for scores in per_seed.values()])
        out[metric] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "min": float(values.min()),
            "max": float(values.max()),
        }
    return out


def load(path: Path | None = None) -> dict:
    """The content of ``report/seeds.json``: ``split``, ``seeds`` (seed -> scores) and
    ``spread``. Raises `DeepvisError` when it is missing (run ``make seeds``)."""
    path = path or results_path()
    if not path.is_file():
        raise DeepvisError(f"{path} not found; run `make seeds` to train the seeds")
    return json.loads(path.read_text())


def run(seeds: Sequence[int], path: Path | None = None) -> dict:
    """Score every seed of `seeds` (`score_seed`), merging each into `path` as it finishes."""
    from deepvis.data import load_fashion_mnist

    path = path or results_path()
    data = load_fashion_mnist()
    per_seed = load(path)["seeds"] if path.is_file() else {}
    for seed in seeds:
        per_seed[str(seed)] = score_seed(seed, data)
        content = {
            "split": "test",
            "about": "the report's CAE and denoising CAE trained with each seed, scored on the "
            "test set (python -m deepvis.cae.seeds)",
            "seeds": dict(sorted(per_seed.items(), key=lambda item: int(item[0]))),
            "spread": spread(per_seed),
        }
        atomic_write_json(path, content)
        print(f"seed {seed}: " + ", ".join(f"{m} {per_seed[str(seed)][m]:.4f}" for m in METRICS))
    return content


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deepvis.cae.seeds", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("seeds", nargs="*", type=int, default=list(SEEDS), help="seeds to run")
    args = parser.parse_args(argv)
    if quick_mode():
        raise DeepvisError("make seeds trains the full models and has no quick mode; unset "
                           "DEEPVIS_QUICK (or QUICK)")
    content = run(args.seeds)
    for metric, s in content["spread"].items():
        print(f"{metric}: {s['mean']:.4f} ± {s['std']:.4f} ({s['min']:.4f} to {s['max']:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())


#: The rows of the seeds' table: metric -> how the write-ups name it, with its format. They read
#: trustworthiness on all test images; ``seeds.json`` also keeps it on the 2,000-image sample.
LABELS = {
    "cae.test_bce": ("CAE test BCE per pixel", ".4f"),
    "latent.cae.knn5": ("5-NN accuracy of the codes", ".3f"),
    "latent.cae.trustworthiness_all": ("trustworthiness, all test images", ".4f"),
    "dcae.psnr": ("denoising CAE PSNR (dB)", ".2f"),
    "dcae.ssim": ("denoising CAE SSIM", ".3f"),
}


def significant(value: float, digits: int = 2) -> str:
    """``value`` in fixed point with `digits` significant digits: 0.00937 -> "0.0094",
    1.234 -> "1.2", 0 -> "0"."""
    if value == 0 or not np.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - int(np.floor(np.log10(abs(value)))))
    return f"{value:.{decimals}f}"


def table(content: Mapping) -> pd.DataFrame:
    """One row per metric (`LABELS`'s names): the report's models (seed 0), then the mean,
    standard deviation, min and max over the seeds of `content` (``report/seeds.json``), each
    as text in the metric's format; the standard deviation with two significant digits
    (`significant`), so that a multiple of it can be recomputed from the table."""
    rows = {}
    for metric, (label, fmt) in LABELS.items():
        s = content["spread"][metric]
        rows[label] = {
            "seed 0": format(content["seeds"]["0"][metric], fmt),
            "mean": format(s["mean"], fmt),
            "std": significant(s["std"]),
            "range": f"{s['min']:{fmt}} to {s['max']:{fmt}}",
        }
    return pd.DataFrame.from_dict(rows, orient="index")
