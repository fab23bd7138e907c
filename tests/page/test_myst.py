"""MyST's {eval} role: finding expressions, showing results, substituting them, the prompt."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_markdown_cell

from deepvis.errors import DeepvisError
from deepvis.page import myst


def _ok(text: str, mime: str = "text/plain") -> dict:
    return {"status": "ok", "data": {mime: text}, "metadata": {}}


def _cell(source: str, results: dict[str, dict], **deepvis) -> dict:
    cell = new_markdown_cell(source)
    cell.metadata["user_expressions"] = [
        {"expression": expr, "result": result} for expr, result in results.items()
    ]
    if deepvis:
        cell.metadata["deepvis"] = deepvis
    return cell


def test_expressions_are_found_once_each_in_order():
    source = "A {eval}`x + 1` and {eval}`f\"{y:.2f}\"`, again {eval}`x + 1`; `code` and {eval}x."
    assert myst.expressions(source) == ["x + 1", 'f"{y:.2f}"']
    assert myst.expressions("no roles here") == []


def test_a_string_shows_without_its_quotes_and_other_values_as_they_print():
    assert myst.shown_value(_ok("'epochs 4 and 5'")) == "epochs 4 and 5"
    assert myst.shown_value(_ok('"it\'s"')) == "it's"
    assert myst.shown_value(_ok("0.3181")) == "0.3181"
    assert myst.shown_value(_ok("array([0, 1])")) == "array([0, 1])"
    both = {"status": "ok", "data": {"text/plain": "<M>", "text/markdown": "**5**"}}
    assert myst.shown_value(both) == "**5**"


def test_substitute_writes_every_result_into_the_text():
    cell = _cell(
        "BCE {eval}`f\"{b:.4f}\"` after {eval}`n` epochs; again {eval}`n`.",
        {'f"{b:.4f}"': _ok("'0.3181'"), "n": _ok("16")},
    )
    assert myst.substitute(cell, "01.ipynb, cell 3") == "BCE 0.3181 after 16 epochs; again 16."


def test_a_missing_failed_or_empty_result_is_one_line_naming_the_cell_and_expression():
    missing = _cell("x is {eval}`x`.", {})
    with pytest.raises(DeepvisError, match=r"^01.ipynb, cell 3: \{eval\}`x` has no result"):
        myst.substitute(missing, "01.ipynb, cell 3")
    error = {"status": "error", "ename": "NameError", "evalue": "name 'x' is not defined"}
    failed = _cell("x is {eval}`x`.", {"x": error})
    with pytest.raises(DeepvisError) as err:
        myst.substitute(failed, "01.ipynb, cell 3")
    assert str(err.value) == (
        "01.ipynb, cell 3: {eval}`x` failed: NameError: name 'x' is not defined"
    )
    empty = _cell("x is {eval}`s`.", {"s": _ok("''")})
    with pytest.raises(DeepvisError, match="gave an empty value"):
        myst.substitute(empty, "here")


def test_a_description_shows_for_its_own_run_and_a_prompt_for_another():
    described = {"model": "lite0", "quick_mode()": False}
    same = _cell("The cat's map peaks on its face.", {}, describes=described,
                 describes_run={"model": "lite0", "quick_mode()": False})
    assert myst.resolved(same, "here") == "The cat's map peaks on its face."
    other = _cell("The cat's map peaks on its face.", {}, describes=described,
                  describes_run={"model": "vgg16", "quick_mode()": False})
    text = myst.resolved(other, "here")
    assert "face" not in text and "Your insights here" in text
    assert "`model` = 'lite0'" in text and "`model` = 'vgg16'" in text
    assert "quick_mode" not in text  # only what differs is named
    unevaluated = _cell("Text.", {}, describes=described)
    with pytest.raises(DeepvisError, match="not evaluated"):
        myst.resolved(unevaluated, "here")


def test_a_reference_is_a_myst_link_to_a_target():
    text = "See [Figure](#fig-cae-loss) and [the table](#tab-mirror), not [a link](#other)."
    assert myst.REFERENCE.findall(text) == [("fig", "cae-loss"), ("tab", "mirror")]
