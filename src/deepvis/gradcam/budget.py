"""How much of each expensive step notebook 07 runs: the full report, or quick mode.

Quick mode (`deepvis.config.quick_mode`, the one switch) scales every step whose cost grows
with images, perturbation steps, random draws or randomisation steps, and leaves Score-CAM
out (it needs one masked forward pass per channel and image: 512 per image on VGG-16).
"""

from __future__ import annotations

from dataclasses import dataclass

from deepvis.config import quick_mode


@dataclass(frozen=True)
class Budget:
    """The sizes of notebook 07's expensive steps.

    ``layer_images``: images of the layer comparison; ``deletion_steps``: fractions of each
    deletion/insertion curve (``steps`` of `deepvis.gradcam.evaluation.deletion_insertion`);
    ``region_draws``: random regions per image in the deletion test; ``sanity_images`` and
    ``sanity_steps``: the images and weight groups of the randomisation check;
    ``eval_images``: images of the evaluation table; ``random_maps``: its random baselines;
    ``scorecam``: whether Score-CAM is computed.
    """

    layer_images: int
    deletion_steps: int
    region_draws: int
    sanity_images: int
    sanity_steps: int
    eval_images: int
    random_maps: int
    scorecam: bool


FULL = Budget(
    layer_images=5,
    deletion_steps=8,
    region_draws=10,
    sanity_images=2,
    sanity_steps=5,
    eval_images=5,
    random_maps=3,
    scorecam=True,
)
QUICK = Budget(
    layer_images=1,
    deletion_steps=3,
    region_draws=3,
    sanity_images=1,
    sanity_steps=2,
    eval_images=1,
    random_maps=2,
    scorecam=False,
)


def budget() -> Budget:
    """`QUICK` in quick mode, else `FULL`."""
    return QUICK if quick_mode() else FULL
