"""Exercise 1: a convolutional autoencoder on Fashion-MNIST with a 2-neuron bottleneck.

- `config`: `CAEConfig`, the one description of a model and its training;
- `model`: the symmetric CAE (`build_cae`); `train`: training with a weight cache;
- `noise`: the Gaussian noise of the denoising CAE; `quality`: PSNR, SSIM, BCE;
- `latent`: the 2-D codes against PCA (one `Embedding` protocol for both);
- `plots`: the figures; `variants`: the screening of CAE variants;
- `explorer`: the interactive map of the code planes in the HTML write-ups.

The main names are importable from here (``from deepvis.cae import build_cae, cae_config``).
They, and the modules above, load on first use (PEP 562), so ``import deepvis.cae.config``
stays free of TensorFlow.
"""

from __future__ import annotations

from deepvis.exports import lazy

#: Public name -> the module that defines it.
_EXPORTS = {
    "CAEConfig": "deepvis.cae.config",
    "cae_config": "deepvis.cae.config",
    "denoising_config": "deepvis.cae.config",
    "CAE": "deepvis.cae.model",
    "build_cae": "deepvis.cae.model",
    "TrainedCAE": "deepvis.cae.train",
    "fit_or_load": "deepvis.cae.train",
    "fit_all": "deepvis.cae.train",
    "add_gaussian": "deepvis.cae.noise",
    "noisy_test_set": "deepvis.cae.noise",
    "psnr": "deepvis.cae.quality",
    "mean_ssim": "deepvis.cae.quality",
    "ssim": "deepvis.cae.quality",
    "image_bce": "deepvis.cae.quality",
    "bce": "deepvis.cae.quality",
    "denoising_table": "deepvis.cae.quality",
    "Embedding": "deepvis.cae.latent",
    "CAEEmbedding": "deepvis.cae.latent",
    "fit_pca": "deepvis.cae.latent",
    "embedding_scores": "deepvis.cae.latent",
    "comparison_table": "deepvis.cae.latent",
    "decoder_manifold": "deepvis.cae.latent",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy(__name__, _EXPORTS)
