"""Where things live, the one switch for quick mode, and the environment defaults.

Quick mode (env ``DEEPVIS_QUICK=1``, or ``make report QUICK=1``) trains tiny models on small
subsets and writes its figures, metrics and rendered report under ``build/quick/`` so that a
quick check can never overwrite the committed full-run outputs. It is read here and nowhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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


def quick_mode() -> bool:
    """True when env ``DEEPVIS_QUICK`` is set to a true value (1, true, yes)."""
    return os.environ.get("DEEPVIS_QUICK", "").strip().lower() in {"1", "true", "yes"}


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
