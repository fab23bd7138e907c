"""``make lab``: JupyterLab starts (as root too), lists the project's kernel (quiet: C++ output
stays out of the cells) and loads jupyterlab-myst."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from deepvis.config import log_file
from deepvis.report.lab import (
    KERNEL_ARGUMENTS,
    KERNEL_DISPLAY_NAME,
    install_kernel,
    kernel_spec_file,
    lab_command,
    missing_kernel_arguments,
    with_kernel_arguments,
)


def test_command_allows_root_only_as_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert "--allow-root" in lab_command()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    command = lab_command(["--no-browser"])
    assert "--allow-root" not in command and command[-1] == "--no-browser"
    assert command[1] == "lab" and command[2].endswith("notebooks")


def test_kernel_arguments_are_added_once():
    spec = {"argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], "x": 1}
    once = with_kernel_arguments(spec)
    assert once["argv"] == [*spec["argv"], *KERNEL_ARGUMENTS] and once["x"] == 1
    assert with_kernel_arguments(once) == once
    assert "--IPKernelApp.capture_fd_output=False" in KERNEL_ARGUMENTS


def test_install_kernel_writes_a_quiet_spec(tmp_path):
    path = install_kernel(tmp_path)
    assert path == kernel_spec_file(tmp_path)
    spec = json.loads(path.read_text())
    assert spec["display_name"] == KERNEL_DISPLAY_NAME
    assert spec["argv"][0] == sys.executable and spec["argv"][-1] == KERNEL_ARGUMENTS[-1]


def _server_port(runtime_dir, server, log_path) -> int:
    """The port the server bound, from the ``jpserver-<pid>.json`` file it writes once it
    listens (``--port=0`` lets the operating system choose: no race for a free port)."""
    info = runtime_dir / f"jpserver-{server.pid}.json"  # deepvis.report.lab execs: the same pid
    deadline = time.monotonic() + 90
    while not info.is_file():
        if server.poll() is not None or time.monotonic() > deadline:
            errors = log_file().read_text() if log_file().is_file() else ""  # descriptor 2
            pytest.fail(f"JupyterLab did not start:\n{log_path.read_text()}{errors}")
        time.sleep(0.5)
    for _ in range(20):  # the file may be seen before its content is complete
        try:
            return int(json.loads(info.read_text())["port"])
        except (ValueError, KeyError):
            time.sleep(0.25)
    pytest.fail(f"unreadable {info}: {info.read_text()!r}")


def test_server_starts_and_lists_the_project_kernel(tmp_path, project_home):
    token = "deepvis-test"
    (project_home / "notebooks").mkdir()  # the temporary project's: the server serves it
    runtime = tmp_path / "runtime"
    # Jupyter's per-user folders (runtime files, config, settings) in the temporary folder; the
    # project's kernel is found in the environment's own share/jupyter.
    env = os.environ | {
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
    }
    options = ["--no-browser", "--port=0", "--ip=127.0.0.1", f"--IdentityProvider.token={token}"]
    log_path = tmp_path / "lab.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "deepvis.report.lab", *options],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            port = _server_port(runtime, server, log_path)
            url = f"http://127.0.0.1:{port}/api/kernelspecs?token={token}"
            with urllib.request.urlopen(url, timeout=30) as reply:
                specs = json.load(reply)
            displayed = {s["spec"]["display_name"] for s in specs["kernelspecs"].values()}
            assert "Python 3 (deepvis)" in displayed, displayed
            # The project's kernel keeps descriptor 2 (TensorFlow's C++ logging) out of cells.
            argv = specs["kernelspecs"]["python3"]["spec"]["argv"]
            assert set(KERNEL_ARGUMENTS) <= set(argv), argv
            # jupyterlab-myst is among the extensions the page loads, and not disabled.
            url = f"http://127.0.0.1:{port}/lab?token={token}"
            with urllib.request.urlopen(url, timeout=30) as reply:
                page = reply.read().decode()
            found = re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S)
            assert found, page[:500]
            config = json.loads(html.unescape(found.group(1)))
            names = {e["name"] for e in config["federated_extensions"]}
            assert "jupyterlab-myst" in names, names
            assert not any("jupyterlab-myst" in d for d in config.get("disabledExtensions", []))
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_missing_kernel_arguments_are_those_the_installed_spec_lacks(tmp_path):
    assert missing_kernel_arguments(tmp_path) == list(KERNEL_ARGUMENTS)
    spec = kernel_spec_file(tmp_path)
    spec.parent.mkdir(parents=True)
    spec.write_text(json.dumps({"argv": ["python", "-m", "ipykernel_launcher"]}))
    assert missing_kernel_arguments(tmp_path) == list(KERNEL_ARGUMENTS)
    spec.write_text(json.dumps({"argv": ["python", *KERNEL_ARGUMENTS]}))
    assert missing_kernel_arguments(tmp_path) == []
