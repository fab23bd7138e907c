"""Where things live, the one switch for quick mode, and the environment defaults.

Quick mode (env ``DEEPVIS_QUICK=1``, or ``make report QUICK=1``) trains tiny models on small
subsets and writes its figures, metrics and rendered report under ``build/quick/`` so that a
quick check can never overwrite the committed full-run outputs. It is read here and nowhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def keras_home() -> Path:
    """Keras' cache folder, resolved the way Keras resolves it (``keras.src.backend.config``)
    but without importing Keras and TensorFlow (seconds): ``$KERAS_HOME``, else ``~/.keras``,
    or ``/tmp/.keras`` when the home folder is not writable."""
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"])
    base = os.path.expanduser("~")
    return Path(base if os.access(base, os.W_OK) else "/tmp") / ".keras"


def project_root() -> Path:
    """The project folder: env ``DEEPVIS_HOME`` if set, else the checkout holding this package.

    ``DEEPVIS_HOME`` moves every input cache and output (``data/``, ``figures/``, ``report/``,
    ``build/quick/``) to another folder; the tests use it to write into a temporary one.
    """
    env = os.environ.get("DEEPVIS_HOME")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[2]


def shown(path: Path) -> str:
    """`path` relative to the project root where it lies inside it (printed outputs then do not
    depend on where the project is checked out), else the absolute path."""
    path, root = Path(path).resolve(), project_root()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


#: The values of env ``DEEPVIS_QUICK`` that turn quick mode on, and those that leave it off
#: (case-insensitive); the pre-flight (`deepvis.report.settings`) rejects any other.
QUICK_ON = ("1", "true", "yes")
QUICK_OFF = ("", "0", "false", "no")


def quick_mode() -> bool:
    """True when env ``DEEPVIS_QUICK`` is set to a value of `QUICK_ON`."""
    return os.environ.get("DEEPVIS_QUICK", "").strip().lower() in QUICK_ON


#: The log file of every deepvis command, under the project root: TensorFlow's C++ logging,
#: Python warnings and the tracebacks of failures (`deepvis.quiet`), appended.
LOG_FILE = Path("build") / "logs" / "deepvis.log"


def log_file() -> Path:
    """`LOG_FILE` in the project folder (`project_root`), the same in quick mode."""
    return project_root() / LOG_FILE


@dataclass(frozen=True)
class Paths:
    """Output locations. Inputs and caches (``data/``) are shared; outputs move in quick mode."""

    root: Path
    out: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def models(self) -> Path:
        return self.data / "models"

    @property
    def figures(self) -> Path:
        return self.out / "figures"

    @property
    def report(self) -> Path:
        return self.out / "report"

    @property
    def notebooks_out(self) -> Path:
        """Where executed notebooks are saved: in place for a full run, a copy in quick mode."""
        return self.out / "notebooks"

    @property
    def metrics(self) -> Path:
        return self.report / "metrics.json"


def paths() -> Paths:
    """The locations for the current mode."""
    root = project_root()
    return Paths(root=root, out=root / "build" / "quick" if quick_mode() else root)


#: Environment defaults of every deepvis process, notebook kernel and ``make lab`` server: oneDNN
#: on (it trains the CAE about twice as fast on these CPUs, and TensorFlow leaves it off here)
#: and TensorFlow's C++ info and warning lines off. A value already set always wins.
ENV_DEFAULTS = {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def environment() -> dict[str, str]:
    """``os.environ`` with `ENV_DEFAULTS` filled in where unset (a new dict)."""
    return {**ENV_DEFAULTS, **os.environ}


#: The Debian packages the project needs, by purpose; the Makefile installs all of them.
APT_PACKAGES: dict[str, tuple[str, ...]] = {
    "data": ("dataset-fashion-mnist",),
    "pdf": (
        "pandoc",
        "texlive-xetex",
        "texlive-fonts-recommended",
        "texlive-plain-generic",
        "fonts-dejavu-core",
    ),
    "checks": ("poppler-utils", "chromium"),
}


def all_apt_packages() -> str:
    """Every package of `APT_PACKAGES`, space-separated (what the Makefile installs)."""
    return " ".join(p for group in APT_PACKAGES.values() for p in group)


def apt_command(purpose: str) -> str:
    """The ``apt-get install`` command for the packages of `purpose` (a key of `APT_PACKAGES`)."""
    return "sudo apt-get install -y --no-install-recommends " + " ".join(APT_PACKAGES[purpose])


def cpu_description(cpuinfo: str | None = None) -> str:
    """The CPU in words, from ``/proc/cpuinfo`` (or `cpuinfo`, its text): model name, the
    widest vector extension (AVX-512 or AVX2) and the number of cores this process may use,
    e.g. ``"AMD EPYC, AVX2, 2 cores"``; ``"unknown CPU, N cores"`` where it cannot be read."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.is_file() else ""
    fields = dict(
        line.split(":", 1) for line in cpuinfo.splitlines() if ":" in line and line.strip()
    )
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = fields.get("flags", "").split()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [fields.get("model name", "unknown CPU")]
    if "avx512f" in flags:
        parts.append("AVX-512")
    elif "avx2" in flags:
        parts.append("AVX2")
    return ", ".join([*parts, f"{cores} cores"])
