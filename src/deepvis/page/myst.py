"""MyST's inline ``{eval}`` role: numbers in the prose of markdown cells, computed by the kernel.

A markdown cell writes a computed value as ``{eval}`expr```, for example
``the test BCE is {eval}`f"{bce:.4f}"```. Its results are stored the way jupyterlab-myst stores
them, in the cell's metadata under ``user_expressions``: one ``{"expression": ..., "result":
...}`` per distinct expression, in order of appearance, ``result`` being the kernel's reply to
the expression (``{"status": "ok", "data": {mime: text}, "metadata": {}}`` or ``{"status":
"error", "ename": ..., "evalue": ..., "traceback": [...]}``). A notebook saved in JupyterLab
and one executed by ``make report`` (`deepvis.report.execute`) so carry the same thing, and
`substitute` writes the results into the text of the write-ups.

A value is shown as its ``text/markdown`` if it has one, else as its ``text/plain`` with the
quotes of a Python string removed (``'epochs 4 and 5'`` reads ``epochs 4 and 5``), as MyST
itself shows it.

Cross-references in markdown cells use MyST's link syntax to a target: ``[Figure](#fig-<label>)``
or ``[Table](#tab-<label>)``. JupyterLab shows the link text ("Figure"); the write-ups replace
the whole link by the number the captioned output gets there (`deepvis.report.writeup`).

A markdown cell that describes the figures of one particular run carries that run's
configuration in its metadata, ``{"deepvis": {"describes": {expression: value, ...}}}``: every
expression is evaluated in the kernel when the notebook runs and compared with the JSON value
(`describes_run`). Where one differs, the write-ups show `PROMPT` instead of the description.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from typing import Any

from deepvis.errors import DeepvisError

#: ``{eval}`expr``` (one backtick pair, the expression without backticks).
EVAL = re.compile(r"\{eval\}`([^`]+)`")
#: Where jupyterlab-myst keeps the results in a markdown cell's metadata.
METADATA_KEY = "user_expressions"
#: The cell metadata of the project: ``{"deepvis": {"describes": {...}, "describes_run": bool}}``.
DEEPVIS_KEY = "deepvis"
#: A cross-reference to a captioned figure or table: ``[text](#fig-label)`` / ``(#tab-label)``.
REFERENCE = re.compile(r"\[[^\]\n]*\]\(#(fig|tab)-([A-Za-z0-9_.-]+)\)")
#: What the write-ups show instead of a description written for another run's figures.
PROMPT = (
    "> **Your insights here.** The description of these figures was written for a run with "
    "{expected}; this run has {actual}. Write here what the figures above show for this run."
)


def expressions(source: str) -> list[str]:
    """The distinct ``{eval}`` expressions of a markdown `source`, in order of appearance."""
    return list(dict.fromkeys(match.strip() for match in EVAL.findall(source)))


def stored(expressions_: Sequence[str], results: Mapping[str, Mapping[str, Any]]) -> list[dict]:
    """The ``user_expressions`` metadata for `expressions_`, from the kernel's reply `results`
    (keyed by the expressions' positions as strings, ``"0"``, ``"1"``, ...)."""
    return [
        {"expression": expr, "result": dict(results[str(i)])}
        for i, expr in enumerate(expressions_)
    ]


def failure(entries: Sequence[Mapping[str, Any]]) -> str | None:
    """``"{eval}`expr`: NameError: ..."`` for the first expression of `entries` (metadata as
    `stored` makes it) that failed, else None."""
    for entry in entries:
        result = entry["result"]
        if result.get("status") != "ok":
            error = f"{result.get('ename', 'error')}: {result.get('evalue', '')}".strip(": ")
            return f"{{eval}}`{entry['expression']}` failed: {error}"
    return None


def shown_value(result: Mapping[str, Any]) -> str:
    """The text of one expression's result: its ``text/markdown``, else its ``text/plain``
    without the quotes of a Python string literal."""
    data = result.get("data", {})
    if "text/markdown" in data:
        return str(data["text/markdown"]).strip()
    text = str(data.get("text/plain", "")).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
        if isinstance(value, str):
            return value
    return text


def substitute(cell: Mapping[str, Any], where: str) -> str:
    """The source of markdown `cell` with every ``{eval}`` replaced by its stored result.

    Raises `DeepvisError` in one line naming `where` and the expression when a result is
    missing (the notebook was not executed since the expression was written), failed, or is
    empty.
    """
    source = cell["source"]
    entries = cell.get("metadata", {}).get(METADATA_KEY, [])
    problem = failure(entries)
    if problem:
        raise DeepvisError(f"{where}: {problem}")
    results = {entry["expression"]: entry["result"] for entry in entries}

    def one(match: re.Match) -> str:
        expr = match.group(1).strip()
        if expr not in results:
            raise DeepvisError(
                f"{where}: {{eval}}`{expr}` has no result; execute the notebook (make report)"
            )
        text = shown_value(results[expr])
        if not text:
            raise DeepvisError(f"{where}: {{eval}}`{expr}` gave an empty value")
        return text

    return EVAL.sub(one, source)


def describes(cell: Mapping[str, Any]) -> dict[str, Any]:
    """The run configuration a markdown cell's description was written for (``{}``: any run)."""
    return dict(cell.get("metadata", {}).get(DEEPVIS_KEY, {}).get("describes", {}))


def configuration_text(config: Mapping[str, Any]) -> str:
    """``model = 'lite0', quick_mode() = False`` style text of a configuration."""
    return ", ".join(f"`{key}` = {value!r}" for key, value in config.items())


def resolved(cell: Mapping[str, Any], where: str) -> str:
    """The text a write-up shows for markdown `cell`: its source with the ``{eval}`` results
    substituted, or `PROMPT` when the cell describes a run other than the one executed (the
    cell's ``describes_run`` metadata, written by `deepvis.report.execute`, holds this run's
    values of its configuration's expressions)."""
    expected = describes(cell)
    if expected:
        meta = cell.get("metadata", {}).get(DEEPVIS_KEY, {})
        actual = meta.get("describes_run")
        if actual is None:
            raise DeepvisError(
                f"{where}: the description's configuration was not evaluated; execute the "
                "notebook (make report)"
            )
        if actual != expected:
            differs = {k: v for k, v in expected.items() if actual.get(k) != v}
            return PROMPT.format(
                expected=configuration_text(differs),
                actual=configuration_text({k: actual.get(k) for k in differs}),
            )
    return substitute(cell, where)
