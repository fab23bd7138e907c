"""ImageNet class names for ``decode_predictions``, placed offline in Keras' cache.

``keras.applications.imagenet_utils.decode_predictions`` downloads ``imagenet_class_index.json``
into Keras' cache. `ensure_class_index` writes the identical file (checked by MD5) from constants
in the ``keras-hub`` wheel, read with `ast` (nothing imported).
"""

from __future__ import annotations

import ast
import hashlib
import json
import zipfile
from functools import cache
from pathlib import Path

from deepvis.config import keras_home
from deepvis.errors import DeepvisError
from deepvis.files import atomic_write_text
from deepvis.gradcam.imagenet.wheels import WHEELS, wheel_path

CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"
_CLASS_NAMES_MODULE = "keras_hub/src/utils/imagenet/imagenet_utils.py"


def keras_cache_models_dir() -> Path:
    """The folder where Keras' ``get_file`` caches model files (``$KERAS_HOME/models``)."""
    return keras_home() / "models"


def _class_index_json() -> str:
    """``imagenet_class_index.json`` text built from the keras-hub wheel's ``IMAGENET_NAMES``."""
    with zipfile.ZipFile(wheel_path("keras-hub")) as wheel:
        tree = ast.parse(wheel.read(_CLASS_NAMES_MODULE).decode("utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "IMAGENET_NAMES"
        ):
            names = ast.literal_eval(node.value)
            return json.dumps({str(k): list(v) for k, v in names.items()})
    raise DeepvisError(f"IMAGENET_NAMES not found in {_CLASS_NAMES_MODULE} of the keras-hub wheel")


def ensure_class_index() -> Path:
    """Place the verified ``imagenet_class_index.json`` in Keras' cache and return its path.

    After this, ``keras.applications.imagenet_utils.decode_predictions`` works offline.
    """
    target = keras_cache_models_dir() / CLASS_INDEX_FILE
    if target.is_file() and _md5(target.read_bytes()) == CLASS_INDEX_MD5:
        return target
    text = _class_index_json()
    if _md5(text.encode()) != CLASS_INDEX_MD5:
        raise DeepvisError(
            f"class index built from the keras-hub wheel has the wrong MD5; "
            f"delete data/wheels/{WHEELS['keras-hub'].filename} and run "
            f"{WHEELS['keras-hub'].pip_command}"
        )
    return atomic_write_text(target, text)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@cache
def class_names() -> tuple[tuple[str, str], ...]:
    """The 1000 ImageNet classes as ``(wordnet_id, name)``, indexed like the models' outputs."""
    index = json.loads(ensure_class_index().read_text())
    return tuple(tuple(index[str(i)]) for i in range(len(index)))
