"""``make lab``: JupyterLab on ``notebooks/`` with the project's environment and kernel.

The server gets the environment defaults of `deepvis.config.ENV_DEFAULTS` (its kernels inherit
them), and ``--allow-root`` when run as root, without which Jupyter refuses to start there.
Extra arguments are passed on to ``jupyter lab`` (for example ``--no-browser --port 8899``).

The terminal shows the server's own log (its address among it), sent to stdout; descriptor 2
goes to the log file (`deepvis.quiet`), and with it the C++ output of the kernels, which inherit
it (TensorFlow's logging).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from deepvis.config import environment, project_root
from deepvis.errors import DeepvisError, cli_errors
from deepvis.quiet import quiet_terminal

#: traitlets' logging configuration that moves the server's log from stderr to stdout.
LOG_TO_STDOUT = {"handlers": {"console": {"stream": "ext://sys.stdout"}}}


def lab_command(extra: Sequence[str] = ()) -> list[str]:
    """The ``jupyter lab`` command line for the project's notebooks folder."""
    jupyter = Path(sys.executable).with_name("jupyter")
    if not jupyter.exists():
        found = shutil.which("jupyter")
        if found is None:
            raise DeepvisError("jupyter not found; run `make setup` to install JupyterLab")
        jupyter = Path(found)
    command = [
        str(jupyter),
        "lab",
        f"--notebook-dir={project_root() / 'notebooks'}",
        f"--Application.logging_config={json.dumps(LOG_TO_STDOUT)}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return [*command, *extra]


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """Replace this process with JupyterLab, descriptor 2 on the log (returns only on error)."""
    command = lab_command(sys.argv[1:] if argv is None else argv)
    quiet_terminal()
    os.execve(command[0], command, environment())
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
