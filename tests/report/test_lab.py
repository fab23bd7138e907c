"""``make lab``: JupyterLab starts (as root too) and lists the project's kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from deepvis.report.lab import lab_command


def test_command_allows_root_only_as_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert "--allow-root" in lab_command()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    command = lab_command(["--no-browser"])
    assert "--allow-root" not in command and command[-1] == "--no-browser"
    assert command[1] == "lab" and command[2].endswith("notebooks")


def _server_port(runtime_dir, server, log_path) -> int:
    """The port the server bound, from the ``jpserver-<pid>.json`` file it writes once it
    listens (``--port=0`` lets the operating system choose: no race for a free port)."""
    info = runtime_dir / f"jpserver-{server.pid}.json"  # deepvis.report.lab execs: the same pid
    deadline = time.monotonic() + 90
    while not info.is_file():
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"JupyterLab did not start:\n{log_path.read_text()}")
        time.sleep(0.5)
    for _ in range(20):  # the file may be seen before its content is complete
        try:
            return int(json.loads(info.read_text())["port"])
        except (ValueError, KeyError):
            time.sleep(0.25)
    pytest.fail(f"unreadable {info}: {info.read_text()!r}")


def test_server_starts_and_lists_the_project_kernel(tmp_path):
    token = "deepvis-test"
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
        finally:
            server.terminate()
            server.wait(timeout=30)
