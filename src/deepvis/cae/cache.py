"""The cache of Exercise 1's expensive analyses (the denoising scores, the noise sweep, the
embeddings' scores, t-SNE).

A `deepvis.cache.ResultCache` in ``data/cache/cae/``, keyed with the source of `CODE_MODULES`:
notebooks 02, 03 and 05 key each result by the trained models' weights (`model_digest`), the data
(`array_digest`) and the settings, so a rerun after a prose edit loads the numbers instead of
recomputing them, and retrained weights or edited analysis code recompute them.
"""

from __future__ import annotations

from deepvis.cache import ResultCache, array_digest, model_digest

__all__ = ["CACHE", "CODE_MODULES", "array_digest", "cached", "model_digest"]

#: The modules whose source is part of every key: a change to them invalidates the cache.
CODE_MODULES = ("deepvis.cae.latent", "deepvis.cae.quality", "deepvis.cae.noise")
CACHE = ResultCache("cae", CODE_MODULES)
cached = CACHE.cached
