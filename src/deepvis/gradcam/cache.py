"""The cache of Exercise 2's expensive results (CAM maps, the evaluation, the sanity checks).

A `deepvis.cache.ResultCache` in ``data/cache/gradcam/``, keyed with the source of
`CODE_MODULES`: notebook 07 keys each result by the model's weights (`model_digest`), the layer,
the images' bytes, the method and settings (`deepvis.gradcam.experiment.Experiment.remember`),
so a rerun after a prose edit loads the results instead of recomputing them.
"""

from __future__ import annotations

from deepvis.cache import ResultCache, model_digest

__all__ = ["CACHE", "CODE_MODULES", "cached", "model_digest"]

#: The modules whose source is part of every key: a change to them invalidates the cache.
CODE_MODULES = (
    "deepvis.gradcam.core",
    "deepvis.gradcam.folding",
    "deepvis.gradcam.methods",
    "deepvis.gradcam.guided",
    "deepvis.gradcam.checks",
    "deepvis.gradcam.evaluation",
    "deepvis.gradcam.layers",
)
CACHE = ResultCache("gradcam", CODE_MODULES)
cached = CACHE.cached
