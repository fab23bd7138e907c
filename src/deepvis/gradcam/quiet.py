"""Keep TensorFlow's C++ start-up lines (CUDA probing, oneDNN notes) off a command's stderr.

TensorFlow writes them from C++ while it loads, some before its log level is read, so
`quiet_tensorflow` raises the level and also points file descriptor 2 at ``/dev/null`` only
while ``import tensorflow`` runs. Python's own errors after that still reach stderr.
"""

from __future__ import annotations

import os
import sys

#: TensorFlow's C++ log level for command-line use: errors too are silenced (3).
CLI_LOG_LEVEL = "3"


def quiet_tensorflow() -> None:
    """Import TensorFlow with its start-up lines silenced (no effect once it is imported).

    Sets ``TF_CPP_MIN_LOG_LEVEL=3`` unless the user chose a level other than deepvis' default.
    """
    from deepvis.config import ENV_DEFAULTS

    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    if level is None or level == ENV_DEFAULTS.get("TF_CPP_MIN_LOG_LEVEL"):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = CLI_LOG_LEVEL
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
