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
    ``sanity_images`` and ``sanity_steps``: the images and weight groups of the randomisation
    check (None: every group, from the logits down to the stem;
    `deepvis.gradcam.checks.randomisation_cascade`); ``eval_images``: images of the evaluation
    table; ``random_maps``: its random baselines; ``scorecam``: whether Score-CAM is computed.
    The logit-drop faithfulness test (`deepvis.gradcam.faithfulness.run`): ``faith_held_out``
    held-out photographs (at most) to choose its setting on, with ``faith_choice_draws`` random
    maps; ``faith_draws`` random maps per map at the chosen setting; ``faith_curve_draws`` in
    the ROAD curves, at ``faith_fractions``.
    """

    layer_images: int
    deletion_steps: int
    sanity_images: int
    sanity_steps: int | None
    eval_images: int
    random_maps: int
    scorecam: bool
    faith_held_out: int
    faith_choice_draws: int
    faith_draws: int
    faith_curve_draws: int
    faith_fractions: tuple[float, ...]


FULL = Budget(
    layer_images=5,
    deletion_steps=8,
    sanity_images=5,
    sanity_steps=None,
    eval_images=5,
    random_maps=3,
    scorecam=True,
    faith_held_out=18,
    faith_choice_draws=6,
    faith_draws=50,
    faith_curve_draws=4,
    faith_fractions=(0.1, 0.3, 0.5, 0.7, 0.9),
)
QUICK = Budget(
    layer_images=1,
    deletion_steps=3,
    sanity_images=1,
    sanity_steps=2,
    eval_images=1,
    random_maps=2,
    scorecam=False,
    faith_held_out=4,
    faith_choice_draws=3,
    faith_draws=10,
    faith_curve_draws=2,
    faith_fractions=(0.2, 0.5, 0.8),
)


def budget() -> Budget:
    """`QUICK` in quick mode, else `FULL`."""
    return QUICK if quick_mode() else FULL
