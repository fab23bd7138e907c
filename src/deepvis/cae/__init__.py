"""Exercise 1: a convolutional autoencoder on Fashion-MNIST with a 2-neuron bottleneck.

- `config`: `CAEConfig`, the one description of a model and its training;
- `model`: the symmetric CAE (`build_cae`); `train`: training with a weight cache;
- `noise`: the Gaussian noise of the denoising CAE; `quality`: PSNR, SSIM, BCE;
- `latent`: the 2-D codes against PCA (one `Embedding` protocol for both);
- `plots`: the figures; `variants`: the screening of CAE variants.
"""
