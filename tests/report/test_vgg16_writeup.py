"""Exercise 2's write-up with VGG-16 and the course's images: no deviations, the assignment's
layer, grid and preprocessing named, and a prompt for the student's own words wherever the
notebooks describe the figures of the committed run (EfficientNet-Lite0, the stand-in images).

Notebooks 04 and 07 are executed in quick mode with a randomly initialised VGG-16 saved to disk
(``DEEPVIS_VGG16_WEIGHTS``; the full architecture, 138 M parameters: a 528 MB file in the
test's temporary folder) and five synthetic images named gc1.jpg ... gc5.jpg
(``DEEPVIS_GRADCAM_IMAGES``). Nothing is downloaded: the weights are on disk. VGG-16 on CPU
makes this minutes on 2 cores, so it runs with ``DEEPVIS_SLOW_TESTS=1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from deepvis.report.execute import execute_notebook
from deepvis.report.writeup import TitleBlock, writeup

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ("04_gradcam.ipynb", "07_gradcam_analyses.ipynb")

pytestmark = pytest.mark.skipif(
    os.environ.get("DEEPVIS_SLOW_TESTS") != "1", reason="minutes of VGG-16: DEEPVIS_SLOW_TESTS=1"
)


def _shown_text(nb) -> str:
    """The markdown a write-up shows: markdown cells and markdown outputs, without the cells
    tagged ``remove-cell`` (the PDF and HTML leave them out)."""
    parts = []
    for cell in nb.cells:
        if "remove-cell" in cell.metadata.get("tags", []):
            continue
        if cell.cell_type == "markdown":
            parts.append(cell.source)
        for out in cell.get("outputs", []):
            parts.append(out.get("data", {}).get("text/markdown", ""))
            parts.append(out.get("data", {}).get("text/html", ""))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    from keras.applications import VGG16

    home = tmp_path_factory.mktemp("home")
    weights = home / "vgg16_random.weights.h5"
    VGG16(weights=None, classifier_activation=None).save_weights(weights)
    course = home / "course"
    course.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)).save(
            course / f"gc{i}.jpg"
        )
    env = {
        "DEEPVIS_HOME": str(home),
        "DEEPVIS_QUICK": "1",
        "DEEPVIS_GRADCAM_MODEL": "vgg16",
        "DEEPVIS_GRADCAM_IMAGES": str(course),
        "DEEPVIS_VGG16_WEIGHTS": str(weights),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        executed = [(name, execute_notebook(NOTEBOOKS / name, cwd=NOTEBOOKS)) for name in NAMES]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return executed


@pytest.mark.parametrize("key", ["exercise2", "report"])
def test_vgg16_write_up_has_no_deviations_and_names_the_assignments_layer(executed, key):
    doc = writeup(key, executed, TitleBlock())
    text = _shown_text(doc)
    assert "Deviations from the assignment" not in text
    assert "EfficientNet" not in text and "stand in" not in text
    assert "block5_conv3" in text and "14×14×512" in text
    assert "preprocess_input" in text and "keras.applications.vgg16" in text
    assert "gc1.jpg" in text and "[[" not in text
    assert "](#fig-" not in text and "](#tab-" not in text and "Figure 1" in text
    assert nbformat.validate(doc) is None


def test_descriptions_of_the_lite0_figures_become_prompts(executed):
    """The deviations, what the maps show, the layer choice, the agreement with
    pytorch-grad-cam and the EfficientNet-Lite0 conclusions: one prompt each."""
    text = _shown_text(writeup("report", executed, TitleBlock()))
    assert text.count("Your insights here") == 5
    assert "Egyptian_cat" not in text and "pytorch-grad-cam 1.5.7" not in text
    assert "Checks of the maps" in text and "Conclusions" in text  # the rest is this run's
