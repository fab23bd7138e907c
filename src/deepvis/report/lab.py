"""``make lab``: JupyterLab on ``notebooks/`` with the project's environment and kernel.

The server gets the environment defaults of `deepvis.config.ENV_DEFAULTS` (its kernels inherit
them), and ``--allow-root`` when run as root, without which Jupyter refuses to start there.
Extra arguments are passed on to ``jupyter lab`` (for example ``--no-browser --port 8899``).

The terminal shows the server's own log (its address among it), sent to stdout; descriptor 2
goes to the log file (`deepvis.quiet`), and with it the C++ output of the kernels, which inherit
it (TensorFlow's logging).

The kernels stay quiet in the cells too: ipykernel would otherwise copy whatever the kernel
process writes to descriptor 2 into the output of the running cell (its ``capture_fd_output``,
on by default), so that TensorFlow's C++ lines (``absl::InitializeLog``, ``cuInit``, the oneDNN
notice) showed as red blocks under the first cell. The project's kernel spec (``python3`` in the
environment, `install_kernel`: run by ``make setup`` and checked on each start) starts kernels
with `KERNEL_ARGUMENTS`, as ``make report``'s execution does (`deepvis.report.execute`). Python
warnings still show in the cells.

Markdown cells render through jupyterlab-myst (``requirements.txt``; its wheel installs the
extension enabled): ``{eval}`expr``` shows the kernel's value of ``expr`` once the cell runs (a
string without its quotes), ``[Figure](#fig-label)`` a link.
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
#: The project's kernel spec: the name the notebooks ask for, and what JupyterLab shows.
KERNEL_NAME = "python3"
KERNEL_DISPLAY_NAME = "Python 3 (deepvis)"
#: Added to the kernel's command line: descriptor 2 stays the server's (the log file), not
#: copied into cell outputs.
KERNEL_ARGUMENTS = ("--IPKernelApp.capture_fd_output=False",)


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


def kernel_spec_file(prefix: str | Path = sys.prefix) -> Path:
    """The ``kernel.json`` of the project's kernel spec in the environment at `prefix`."""
    return Path(prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME / "kernel.json"


def with_kernel_arguments(spec: dict) -> dict:
    """Kernel spec `spec` (``kernel.json``'s content) with `KERNEL_ARGUMENTS` at the end of its
    ``argv`` where missing (a new dict)."""
    argv = list(spec.get("argv", []))
    return {**spec, "argv": [*argv, *(a for a in KERNEL_ARGUMENTS if a not in argv)]}


def missing_kernel_arguments(prefix: str | Path = sys.prefix) -> list[str]:
    """The `KERNEL_ARGUMENTS` that the project's kernel spec lacks (all of them where it is not
    installed): what a client starting the kernel must add, once (a repeated argument kills the
    kernel)."""
    try:
        argv = json.loads(kernel_spec_file(prefix).read_text()).get("argv", [])
    except (OSError, ValueError):
        argv = []
    return [a for a in KERNEL_ARGUMENTS if a not in argv]


def install_kernel(prefix: str | Path = sys.prefix) -> Path:
    """Install the project's kernel spec into the environment at `prefix` (as ``ipykernel
    install --sys-prefix --name python3`` does) with `KERNEL_ARGUMENTS`; returns its
    ``kernel.json``."""
    from ipykernel.kernelspec import install

    install(kernel_name=KERNEL_NAME, display_name=KERNEL_DISPLAY_NAME, prefix=str(prefix))
    path = kernel_spec_file(prefix)
    spec = with_kernel_arguments(json.loads(path.read_text()))
    path.write_text(json.dumps(spec, indent=1) + "\n")
    return path


def ensure_kernel() -> None:
    """Install the project's kernel spec where it is missing or lacks `KERNEL_ARGUMENTS` (an
    environment set up before they were added); warn on stderr where another ``python3`` spec
    (the user's own, ``~/.local/share/jupyter/kernels``) hides it."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ours = kernel_spec_file()
    try:
        spec = json.loads(ours.read_text())
    except (OSError, ValueError):
        spec = {}
    if spec.get("argv") != with_kernel_arguments(spec)["argv"] or not spec.get("argv"):
        try:
            install_kernel()
        except OSError as err:  # a read-only environment: JupyterLab still starts
            print(
                f"warning: cannot install the kernel spec in {ours.parent}: {err}", file=sys.stderr
            )
    try:
        used = Path(KernelSpecManager().get_kernel_spec(KERNEL_NAME).resource_dir)
    except NoSuchKernel:  # not expected: just installed
        return
    if used.resolve() != ours.parent.resolve():
        print(
            f"warning: JupyterLab uses the kernel spec in {used}, not the project's in "
            f"{ours.parent}; its cells may show TensorFlow's C++ logging "
            f"(remove it, or add {' '.join(KERNEL_ARGUMENTS)} to its argv)",
            file=sys.stderr,
        )


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    """Replace this process with JupyterLab, descriptor 2 on the log (returns only on error).

    ``--install-kernel`` alone (``make setup``) installs the project's kernel spec instead.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--install-kernel"]:
        print(f"installed the {KERNEL_NAME} kernel spec: {install_kernel()}")
        return 0
    command = lab_command(args)
    ensure_kernel()
    quiet_terminal()
    os.execve(command[0], command, environment())
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
