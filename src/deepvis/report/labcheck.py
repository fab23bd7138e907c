"""A real-browser check of ``make lab``: the notebooks run in JupyterLab as a student sees them.

``.venv/bin/python -m deepvis.report.labcheck [--quick] [NOTEBOOK ...]`` (default: every
notebook of ``notebooks/``) starts ``make lab``'s server (`deepvis.report.lab`, on a free port,
with a token and without a browser of its own), opens each notebook in headless Chromium
(Debian's, ``/usr/bin/chromium``, driven by Playwright), runs Run → Run All Cells, waits until
the kernel is idle and checks the page:

(a) no cell output shows TensorFlow's C++ logging (`cpp_log_lines`; ``make lab``'s kernels send
    it to the log file);
(b) no rendered markdown shows MyST markup that was not rendered: a raw ``{eval}`` role or a
    ``[[fig:``/``[[tab:`` marker (`raw_markup`);
(c) where the notebook writes a value as ``{eval}`expr```, jupyterlab-myst shows its value
    (`eval_problems`), at least one;
(d) no cell raised an error.

It saves a screenshot of each notebook, all its cells, under ``build/labcheck/`` (with the
server's log, ``server.log``), prints one line per notebook (``pass`` or what failed), and exits
with 0 where every notebook passed, 2 otherwise. It is not part of the unit suite: a notebook
takes as long as its cells (``--quick`` sets ``DEEPVIS_QUICK=1`` in the server's environment:
tiny models).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepvis.config import apt_command, project_root, shown
from deepvis.errors import DeepvisError, cli_errors, one_line
from deepvis.page import myst

#: Debian's Chromium (Playwright's own browser download is not reachable from here).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
#: Where the screenshots and the server's log go, under the project root.
OUT_DIR = Path("build") / "labcheck"
#: Options of the server, on top of `deepvis.report.lab`'s: its app object reachable from the
#: page (``window.jupyterapp``). Its workspaces and user settings are its own (`start_server`):
#: the user's are neither read nor changed.
SERVER_OPTIONS = ("--no-browser", "--port=0", "--ip=127.0.0.1", "--expose-app-in-browser")
#: User settings of the server: no "Would you like to get notified about official Jupyter
#: news?" toast over the screenshots, no update checks; every cell in the page (no windowing:
#: the checks read them all) and no empty space after the last (the screenshot's height); no
#: autosave, so that the check leaves the notebooks on disk as they were.
USER_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "scrollPastEnd": False,
    },
}
VIEWPORT = {"width": 1400, "height": 900}
#: Chromium's largest screenshot is 16384 pixels high.
MAX_HEIGHT = 16000

#: TensorFlow's C++ logging: absl/glog line prefixes (``E0000 00:00:1733...``, ``I tensorflow/
#: core/...cc:123]``) and its well-known messages. Every alternative takes linear time: an
#: output may hold one line of megabytes (the data of an HTML output such as
#: `deepvis.cae.explorer`'s), which ``\S+\.cc`` would scan in quadratic time.
CPP_LOG = re.compile(
    r"absl::|cuInit|oneDNN custom operations|Could not find cuda drivers"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered"
    r"|\b[EWIF]\d{4} \d\d:\d\d:\d\d\.\d+"
    r"|\b[EWI]0000\b"
    r"|\w\.(cc|h):\d+\]"
)
#: MyST markup that a rendered markdown cell never shows: an unparsed inline role or a
#: cross-reference marker of the earlier syntax.
RAW_MARKUP = ("{eval}", "[[fig:", "[[tab:")
#: How jupyterlab-myst shows a ``text/plain`` result: the quotes of a string literal removed
#: (its ``inlineExpression`` renderer: ``content.replace(/^(["'])(.*)\\1$/, "$2")``).
QUOTED = re.compile(r"^([\"'])(.*)\1$")


def cpp_log_lines(text: str) -> list[str]:
    """The lines of `text` that are TensorFlow C++ logging."""
    return [line.strip() for line in text.splitlines() if CPP_LOG.search(line)]


def raw_markup(text: str) -> list[str]:
    """The markers of `RAW_MARKUP` that `text` (a rendered markdown cell's text) shows."""
    return [marker for marker in RAW_MARKUP if marker in text]


def shown_text(result: Mapping[str, Any]) -> str | None:
    """The text jupyterlab-myst shows for an ``{eval}`` result that has only ``text/plain``
    (quotes of a string literal removed), else None (it renders the richer type)."""
    data = result.get("data", {})
    if set(data) != {"text/plain"}:
        return None
    return QUOTED.sub(r"\2", str(data["text/plain"]))


@dataclass
class Cell:
    """What the page shows of one cell (`PAGE_STATE` collects it)."""

    index: int  #: 0-based
    kind: str  #: "code", "markdown" or "raw"
    source: str
    #: Code cells: the text of the output area; markdown cells: the rendered text.
    text: str = ""
    #: Markdown cells: the text of each inline ``<code>`` (an expression that was not evaluated
    #: shows as one), and the number of richer rendered results (``.myst-RenderedExpression``).
    codes: list[str] = field(default_factory=list)
    rendered_expressions: int = 0
    #: Markdown cells: the cell's ``user_expressions`` metadata (jupyterlab-myst's results).
    expressions: list[dict] = field(default_factory=list)
    #: Code cells: ``ename: evalue`` of each error output.
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"cell {self.index + 1}"


def eval_problems(cells: Sequence[Cell]) -> list[str]:
    """Check (c): every ``{eval}`` of the markdown cells shows its value (at least one does)."""
    problems, shown_values, any_eval = [], 0, False
    for cell in cells:
        if cell.kind != "markdown":
            continue
        results = {e.get("expression", "").strip(): e.get("result", {}) for e in cell.expressions}
        for expr in myst.expressions(cell.source):
            any_eval = True
            result = results.get(expr)
            if result is None or expr in cell.codes:
                problems.append(f"{cell.name}: {{eval}}`{expr}` not evaluated")
            elif result.get("status") != "ok":
                error = f"{result.get('ename', 'error')}: {result.get('evalue', '')}"
                problems.append(f"{cell.name}: {{eval}}`{expr}` failed: {one_line(error)}")
            elif (text := shown_text(result)) is not None and text not in cell.text:
                problems.append(f"{cell.name}: {{eval}}`{expr}`'s value {text!r} not shown")
            elif text is None and not cell.rendered_expressions:
                problems.append(f"{cell.name}: {{eval}}`{expr}`'s value not rendered")
            else:
                shown_values += 1
    if any_eval and not shown_values:
        problems.append("no {eval} value shown")
    return problems


def problems(cells: Sequence[Cell]) -> list[str]:
    """Every failed check (a)-(d) of the module's docstring, one line each."""
    found = []
    for cell in cells:
        if cell.kind == "code":
            lines = cpp_log_lines(cell.text)
            if lines:
                found.append(f"{cell.name}: TensorFlow C++ logging in the output: {lines[0]!r}")
            found += [f"{cell.name}: {error}" for error in cell.errors]
        elif cell.kind == "markdown":
            raw = raw_markup(cell.text)
            if raw:
                found.append(f"{cell.name}: raw MyST markup shown: {', '.join(raw)}")
    return found + eval_problems(cells)


# ---- the page -------------------------------------------------------------------------------

#: JavaScript: the state of the kernel and of the cells of the notebook in view.
KERNEL_STATE = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.sessionContext || !panel.content) return {ready: false};
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const code = panel.content.widgets.filter(c => c.model.type === 'code');
  const prompt = c => (c.node.querySelector('.jp-InputPrompt') || {}).textContent || '';
  const dialog = document.querySelector('.jp-Dialog');
  return {
    ready: panel.sessionContext.isReady,
    status: kernel ? kernel.status : 'none',
    code: code.length,
    executed: code.filter(c => c.model.executionCount !== null).length,
    running: code.filter(c => prompt(c).includes('*')).length,
    dialog: dialog ? dialog.textContent : null,
  };
}"""

#: JavaScript: what the page shows of each cell (the fields of `Cell`).
PAGE_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  return panel.content.widgets.map((cell, index) => {
    const model = cell.model;
    const out = {index, kind: model.type, source: model.sharedModel.getSource(), text: '',
                 codes: [], rendered_expressions: 0, expressions: [], errors: []};
    if (model.type === 'code') {
      const area = cell.node.querySelector('.jp-Cell-outputArea');
      const outputs = model.outputs.toJSON();
      const streams = outputs.map(o => [].concat(o.text || '').join('')).join('\\n');
      out.text = ((area && area.textContent) || '') + '\\n' + streams;
      out.errors = outputs.filter(o => o.output_type === 'error')
                          .map(o => o.ename + ': ' + o.evalue);
    } else if (model.type === 'markdown') {
      // jupyterlab-myst renders into '.myst'; JupyterLab's own renderer into the other.
      const shown = cell.node.querySelector('.myst') ||
                    cell.node.querySelector('.jp-RenderedMarkdown');
      out.text = shown ? shown.textContent : '';
      out.codes = shown ? [...shown.querySelectorAll('code')].map(c => c.textContent.trim()) : [];
      out.rendered_expressions = shown ?
          shown.querySelectorAll('.myst-RenderedExpression').length : 0;
      out.expressions = model.getMetadata('user_expressions') || [];
    }
    return out;
  });
}"""

#: JavaScript: the page height that shows the whole notebook (the page's own less its
#: scrolling panel's, plus that panel's content), the panel scrolled to the top.
FULL_HEIGHT = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const scroller = panel.content.node.querySelector('.jp-WindowedPanel-outer') ||
                   panel.content.node;
  scroller.scrollTop = 0;
  return window.innerHeight - scroller.clientHeight + scroller.scrollHeight;
}"""


@dataclass
class Server:
    """A running ``make lab`` server."""

    process: subprocess.Popen
    url: str  #: ``http://127.0.0.1:PORT/``
    token: str

    def address(self, path: str) -> str:
        return f"{self.url}{path}?token={self.token}"

    def shutdown(self) -> None:
        """Stop the server and its kernels: its shutdown request, else SIGTERM, else SIGKILL."""
        if self.process.poll() is None:
            request = urllib.request.Request(self.address("api/shutdown"), method="POST")
            try:
                urllib.request.urlopen(request, timeout=30).close()
            except OSError:
                self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(runtime: Path, log: Path, quick: bool) -> Server:
    """Start ``make lab``'s server (`deepvis.report.lab`) with `SERVER_OPTIONS`, its runtime
    files in `runtime` and its output in `log`; returns once it listens."""
    token = os.urandom(16).hex()
    settings = runtime / "settings"
    for name, values in USER_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    env = os.environ | {"JUPYTER_RUNTIME_DIR": str(runtime)}
    if quick:
        env["DEEPVIS_QUICK"] = "1"
    command = [
        sys.executable,
        "-m",
        "deepvis.report.lab",
        *SERVER_OPTIONS,
        f"--IdentityProvider.token={token}",
        f"--LabApp.workspaces_dir={runtime / 'workspaces'}",
        f"--LabApp.user_settings_dir={settings}",
    ]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    # deepvis.report.lab replaces itself with the server: the same process id.
    info = runtime / f"jpserver-{process.pid}.json"
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
            raise DeepvisError(f"JupyterLab did not start; its output is in {shown(log)}")
        try:
            port = int(json.loads(info.read_text())["port"])
            break
        except (OSError, ValueError, KeyError):  # not written yet, or not completely
            time.sleep(0.5)
    return Server(process, f"http://127.0.0.1:{port}/", token)


def run_all(page: Any) -> None:
    """Run → Run All Cells from the main menu (the command itself where the menu fails)."""
    try:
        menu = page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$"))
        menu.click(timeout=10_000)
        item = page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$"))
        item.click(timeout=10_000)
    except Exception:  # noqa: BLE001 (Playwright's errors: fall back on the command)
        page.keyboard.press("Escape")
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def wait_until_idle(page: Any, timeout: float, started: bool) -> None:
    """Wait until the kernel is idle with no cell running or queued, three polls in a row
    (after `started`: once a code cell ran)."""
    deadline, calm = time.monotonic() + timeout, 0
    while calm < 3:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the kernel was still busy after {timeout:.0f} s")
        state = page.evaluate(KERNEL_STATE)
        if state.get("dialog"):
            raise RuntimeError(f"dialog: {one_line(state['dialog'])}")
        idle = (
            state.get("ready")
            and state.get("status") == "idle"
            and not state.get("running")
            and (not started or state.get("executed") or not state.get("code"))
        )
        calm = calm + 1 if idle else 0
        time.sleep(1)


def check_notebook(browser: Any, server: Server, notebook: Path, out: Path, timeout: float):
    """Open, run and check one notebook; returns its problems (empty: pass)."""
    rel = notebook.relative_to(project_root() / "notebooks").as_posix()
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(server.address(f"lab/tree/{urllib.parse.quote(rel)}"), timeout=120_000)
        page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell.currentWidget &&"
            " window.jupyterapp.shell.currentWidget.sessionContext",
            timeout=120_000,
        )
        wait_until_idle(page, 180, started=False)
        run_all(page)
        wait_until_idle(page, timeout, started=True)
        cells = [Cell(**c) for c in page.evaluate(PAGE_STATE)]
        height = min(MAX_HEIGHT, max(VIEWPORT["height"], page.evaluate(FULL_HEIGHT)))
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        page.wait_for_timeout(2000)  # the layout follows the new size
        page.evaluate(FULL_HEIGHT)  # back to the top, where the new layout has moved it
        page.screenshot(path=str(out / f"{notebook.stem}.png"), full_page=True)
        return problems(cells)
    finally:
        try:
            page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        except Exception:  # noqa: BLE001 (the page may be gone; the server stops its kernels)
            pass
        page.close()


def notebooks_to_check(names: Iterable[str]) -> list[Path]:
    """The notebooks named (paths), each in ``notebooks/``; default: all of them."""
    folder = project_root() / "notebooks"
    paths = [Path(n).resolve() for n in names] or sorted(folder.glob("*.ipynb"))
    for path in paths:
        if not path.is_file() or not path.is_relative_to(folder.resolve()):
            raise DeepvisError(f"{path}: not a notebook in {shown(folder)}")
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deepvis.report.labcheck",
        description="Run notebooks in JupyterLab in headless Chromium and check what shows.",
    )
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK")
    parser.add_argument("--quick", action="store_true", help="DEEPVIS_QUICK=1 for the server")
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds a notebook may run (3600)"
    )
    args = parser.parse_args(argv)
    return _check(args)


@cli_errors
def _check(args: argparse.Namespace) -> int:
    notebooks = notebooks_to_check(args.notebooks)
    if not CHROMIUM.is_file():
        raise DeepvisError(f"{CHROMIUM} not found; install it with: {apt_command('checks')}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise DeepvisError("playwright is not installed; run `make setup`") from err
    out = project_root() / OUT_DIR
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="labcheck-") as runtime:
        server = start_server(Path(runtime), out / "server.log", args.quick)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True
                )
                for notebook in notebooks:
                    try:
                        found = check_notebook(browser, server, notebook, out, args.timeout)
                    except Exception as err:  # noqa: BLE001 (one line per notebook, go on)
                        found = [f"{type(err).__name__}: {one_line(str(err))[:300]}"]
                    failed += bool(found)
                    verdict = "pass" if not found else "FAIL: " + "; ".join(found)
                    print(f"{shown(notebook)}: {verdict}", flush=True)
                browser.close()
        finally:
            server.shutdown()
    print(f"screenshots in {shown(out)}/")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
