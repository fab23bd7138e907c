"""``make lab``: JupyterLab starts (as root too) and lists the project's kernel."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from deepvis.lab import lab_command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_command_allows_root_only_as_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert "--allow-root" in lab_command()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    command = lab_command(["--no-browser"])
    assert "--allow-root" not in command and command[-1] == "--no-browser"
    assert command[1] == "lab" and command[2].endswith("notebooks")


def test_server_starts_and_lists_the_project_kernel(tmp_path):
    port, token = _free_port(), "deepvis-test"
    options = [
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.runtime_dir={tmp_path}",
    ]
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "deepvis.lab", *options], stderr=log)
    try:
        url = f"http://127.0.0.1:{port}/api/kernelspecs?token={token}"
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as reply:
                    specs = json.load(reply)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"JupyterLab did not start:\n{(tmp_path / 'lab.log').read_text()}")
                time.sleep(0.5)
        displayed = {s["spec"]["display_name"] for s in specs["kernelspecs"].values()}
        assert "Python 3 (deepvis)" in displayed, displayed
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
