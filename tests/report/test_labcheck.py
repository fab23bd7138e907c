"""`deepvis.report.labcheck`'s checks, on what a page could show (no browser here)."""

from __future__ import annotations

import pytest

from deepvis.errors import DeepvisError
from deepvis.report.labcheck import (
    Cell,
    cpp_log_lines,
    eval_problems,
    notebooks_to_check,
    problems,
    raw_markup,
    shown_text,
)

#: Lines TensorFlow's C++ logging wrote into the first cell's output before kernels were quiet.
CPP_OUTPUT = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796527209.761376    9058 port.cc:153] oneDNN custom operations are on.
I0000 00:00:1796527209.761967    9058 cudart_stub.cc:31] Could not find cuda drivers on your \
machine, GPU will not be used.
E0000 00:00:1796527215.291553    9058 cuda_platform.cc:52] failed call to cuInit: INTERNAL: \
CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
W0000 00:00:1796527215.3    9058 gpu_device.cc:2344] Cannot dlopen some GPU libraries.
"""
#: What a cell may show: the project's lines, Keras' progress, Python warnings.
CLEAN_OUTPUT = """\
Epoch 1/5
469/469 - 12s - 25ms/step - loss: 0.3012 - val_loss: 0.2871
test BCE 0.2790 (no log prefix inside a word: XI00001, E00001)
/work/main/src/deepvis/cae/model.py:12: UserWarning: Do not pass an `input_shape` argument
"""


def test_cpp_log_lines_are_found():
    assert len(cpp_log_lines(CPP_OUTPUT)) == 5
    assert cpp_log_lines(CLEAN_OUTPUT) == []
    assert cpp_log_lines("2024-01-01 12:00:00.1: I tensorflow/core/util/port.cc:113] oneDNN")


def test_cpp_log_lines_scan_a_long_line_in_linear_time():
    """An HTML output's data (the code-plane explorer's: 6.5 MB of base64 on one line)."""
    import time

    start = time.perf_counter()
    assert cpp_log_lines("QUJD" * 500_000 + " port.cc:153]") == ["QUJD" * 500_000 + " port.cc:153]"]
    assert time.perf_counter() - start < 2  # the quadratic pattern took hours


def test_raw_markup():
    assert raw_markup("As [[fig:cae-loss]] and {eval}`x` show") == ["{eval}", "[[fig:"]
    assert raw_markup("As Figure shows, the BCE is 0.2790 ([[tab:x]])") == ["[[tab:"]
    assert raw_markup("As Figure shows, the BCE is 0.2790.") == []


def test_shown_text_removes_a_string_literal_s_quotes():
    assert shown_text({"data": {"text/plain": "'epochs 4 and 5'"}}) == "epochs 4 and 5"
    assert shown_text({"data": {"text/plain": '"0.2790"'}}) == "0.2790"
    assert shown_text({"data": {"text/plain": "3.14159"}}) == "3.14159"
    assert shown_text({"data": {"text/plain": "x", "text/html": "<b>x</b>"}}) is None


def _markdown(source: str, text: str, results: dict, **kwargs) -> Cell:
    expressions = [{"expression": e, "result": r} for e, r in results.items()]
    return Cell(
        index=1, kind="markdown", source=source, text=text, expressions=expressions, **kwargs
    )


def _ok(plain: str) -> dict:
    return {"status": "ok", "data": {"text/plain": plain}, "metadata": {}}


def test_an_evaluated_value_passes():
    cell = _markdown("BCE {eval}`f'{b:.2f}'`.", "BCE 0.28.", {"f'{b:.2f}'": _ok("'0.28'")})
    assert eval_problems([cell]) == []
    code = Cell(index=0, kind="code", source="b = 0.28", text="Epoch 1/5\n")
    assert problems([code, cell]) == []


def test_unevaluated_failed_and_hidden_values_fail():
    unevaluated = _markdown("BCE {eval}`b`.", "BCE b.", {}, codes=["b"])
    assert eval_problems([unevaluated]) == [
        "cell 2: {eval}`b` not evaluated",
        "no {eval} value shown",
    ]
    error = {"status": "error", "ename": "NameError", "evalue": "name 'b' is not defined"}
    failed = _markdown("BCE {eval}`b`.", "BCE NameError", {"b": error})
    assert "cell 2: {eval}`b` failed: NameError: name 'b' is not defined" in eval_problems([failed])
    hidden = _markdown("BCE {eval}`b`.", "BCE .", {"b": _ok("0.28")})
    assert "cell 2: {eval}`b`'s value '0.28' not shown" in eval_problems([hidden])


def test_without_eval_there_is_nothing_to_show():
    assert eval_problems([_markdown("No numbers here.", "No numbers here.", {})]) == []


def test_problems_of_code_cells_and_markup():
    code = Cell(
        index=0,
        kind="code",
        source="import tensorflow",
        text=CPP_OUTPUT,
        errors=["ZeroDivisionError: division by zero"],
    )
    markdown = _markdown("See [[fig:cae-loss]].", "See [[fig:cae-loss]].", {})
    found = problems([code, markdown])
    assert found[0].startswith("cell 1: TensorFlow C++ logging in the output: 'WARNING: All log")
    assert found[1:] == [
        "cell 1: ZeroDivisionError: division by zero",
        "cell 2: raw MyST markup shown: [[fig:",
    ]


def test_notebooks_are_those_of_the_notebooks_folder(project_home, tmp_path_factory):
    folder = project_home / "notebooks"
    folder.mkdir()
    for name in ("02_b.ipynb", "01_a.ipynb"):
        (folder / name).write_text("{}")
    assert [p.name for p in notebooks_to_check([])] == ["01_a.ipynb", "02_b.ipynb"]
    assert notebooks_to_check([str(folder / "02_b.ipynb")]) == [folder / "02_b.ipynb"]
    elsewhere = tmp_path_factory.mktemp("other") / "x.ipynb"
    elsewhere.write_text("{}")
    with pytest.raises(DeepvisError, match="not a notebook in"):
        notebooks_to_check([str(elsewhere)])
