"""Executing notebooks: the kernel's folder and environment, progress echo, errors."""

from __future__ import annotations

import io

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from deepvis.errors import DeepvisError
from deepvis.report import execute, notebooks

from .helpers import write


def test_find_notebooks_in_name_order(tmp_path):
    for name in ("02_b.ipynb", "01_a.ipynb", "scratch.ipynb", "10_c.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in notebooks.find_notebooks(tmp_path)] == [
        "01_a.ipynb",
        "02_b.ipynb",
        "10_c.ipynb",
    ]


def test_execute_runs_cells_in_the_notebook_folder_with_the_kernel_env(tmp_path):
    write(
        tmp_path,
        "01_a.ipynb",
        [
            new_code_cell("import os\nx = 20 + 22"),
            new_code_cell(
                "print(x, os.environ['PYTHONHASHSEED'], os.environ['TF_CPP_MIN_LOG_LEVEL'])\n"
                "print(os.getcwd())"
            ),
            new_code_cell(
                "import sys, time\nprint('a', flush=True)\ntime.sleep(0.3)\nprint('b')\n"
                "print('c', file=sys.stderr)\n_ = os.write(2, b'E0000 a C++ line\\n')"
            ),
        ],
    )
    echo = io.StringIO()
    nb = execute.execute_notebook(tmp_path / "01_a.ipynb", cwd=tmp_path, echo=echo)
    text = nb.cells[1].outputs[0].text.splitlines()
    assert text[0] == "42 0 2"
    assert text[1] == str(tmp_path)
    # Stream messages that arrived apart are merged, so outputs do not depend on timing.
    assert [(o.name, o.text) for o in nb.cells[2].outputs] == [
        ("stdout", "a\nb\n"),
        ("stderr", "c\n"),
    ]
    assert all("execution" not in cell.metadata for cell in nb.cells)  # record_timing off
    # Progress: every stdout line reached the terminal while running, indented; stderr did not.
    assert echo.getvalue().splitlines() == ["    42 0 2", f"    {tmp_path}", "    a", "    b"]
    # What the kernel writes to its descriptor 2 (TensorFlow's C++ logging) is in the log only.
    log = (tmp_path / "build" / "logs" / "deepvis.log").read_text()
    assert "kernel of 01_a.ipynb" in log.splitlines()[0] and "E0000 a C++ line" in log


def test_a_failing_cell_is_one_line_naming_it_and_its_traceback_goes_to_the_log(tmp_path, capsys):
    write(
        tmp_path,
        "01_a.ipynb",
        [
            new_markdown_cell("# A"),
            new_code_cell("x = 1"),
            new_code_cell("def f():\n    raise ValueError('bad\\nvalue')\nf()"),
        ],
    )
    with pytest.raises(DeepvisError) as err:
        execute.execute_notebook(tmp_path / "01_a.ipynb", cwd=tmp_path)
    assert str(err.value) == (
        "01_a.ipynb, cell 3 (In [2]): ValueError: bad value (traceback in build/logs/deepvis.log)"
    )
    assert capsys.readouterr().err == ""  # nothing else on the terminal
    log = (tmp_path / "build" / "logs" / "deepvis.log").read_text()
    assert "01_a.ipynb, cell 3:" in log and "----> 3 f()" in log and "raise ValueError" in log


def test_eval_results_are_stored_as_jupyterlab_myst_stores_them_after_the_cells_above(tmp_path):
    md = new_markdown_cell("x is {eval}`x`, later {eval}`f'{x / 4:.2f}'`; {eval}`x`.")
    md.metadata["deepvis"] = {"describes": {"x": 42, "'lite0'": "lite0"}}
    write(
        tmp_path,
        "01_a.ipynb",
        [new_code_cell("x = 42"), md, new_code_cell("x = 0"), new_markdown_cell("plain")],
    )
    nb = execute.execute_notebook(tmp_path / "01_a.ipynb", cwd=tmp_path)
    # Evaluated when execution reached the cell: x was 42, not the 0 of the cell below.
    assert nb.cells[1].metadata["user_expressions"] == [
        {
            "expression": "x",
            "result": {"status": "ok", "data": {"text/plain": "42"}, "metadata": {}},
        },
        {
            "expression": "f'{x / 4:.2f}'",
            "result": {"status": "ok", "data": {"text/plain": "'10.50'"}, "metadata": {}},
        },
    ]
    assert nb.cells[1].metadata["deepvis"]["describes_run"] == {"x": 42, "'lite0'": "lite0"}
    assert "user_expressions" not in nb.cells[3].metadata
    assert nb.cells[2].execution_count == 2  # markdown cells take no execution count


def test_a_failing_eval_stops_the_run_in_one_line_naming_notebook_cell_and_expression(tmp_path):
    write(
        tmp_path,
        "01_a.ipynb",
        [new_code_cell("x = 1"), new_markdown_cell("y is {eval}`y + 1`."), new_code_cell("z = 3")],
    )
    with pytest.raises(DeepvisError) as err:
        execute.execute_notebook(tmp_path / "01_a.ipynb", cwd=tmp_path)
    assert str(err.value) == (
        "01_a.ipynb, cell 2: {eval}`y + 1` failed: NameError: name 'y' is not defined"
    )
