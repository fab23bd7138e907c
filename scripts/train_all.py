"""Train (or load) the full-run CAE and denoising CAE into the cache, logging progress.

``make report`` trains on demand inside the notebooks; this script does the same training ahead
of time (for example in the background while working): ``make train`` or
``python scripts/train_all.py``.
"""

from deepvis.cae.config import cae_config, denoising_config
from deepvis.cae.train import fit_or_load
from deepvis.data import load_fashion_mnist

(x_train, _), (x_test, _) = load_fashion_mnist()
for config in (cae_config(), denoising_config()):
    trained = fit_or_load(config, x_train, x_test)
    print(
        f"{config.key()}: test BCE {trained.test_bce:.4f}, {trained.seconds_per_epoch:.0f} s/epoch"
    )
