"""Small executed notebooks for the report tests."""

from __future__ import annotations

import base64
import io

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output


def png() -> str:
    """A small PNG, base64 encoded, as a notebook output holds it."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def executed(title: str, images: int = 1, tags: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """A notebook as if executed: a heading, code with stdout, stderr, images and more text."""
    outputs = [
        new_output("stream", name="stdout", text="β ≥ 0.5 → done\n"),
        new_output("stream", name="stderr", text="a TensorFlow warning\n"),
    ]
    outputs += [new_output("display_data", data={"image/png": png()}) for _ in range(images)]
    cells = [
        new_markdown_cell(f"## {title}\n\nSome discussion with $\\alpha_k^c$."),
        new_code_cell("print('secret_source_line')", execution_count=1, outputs=outputs),
        new_markdown_cell("### Findings\n\nShort."),
    ]
    for cell in cells:
        cell.metadata["tags"] = list(tags)
    return new_notebook(cells=cells)


def write(folder, name: str, cells: list, needs: list[str] | None = None) -> None:
    """A notebook of `cells` at ``folder/name``; `needs` as its ``deepvis.needs`` metadata."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=cells)
    if needs is not None:
        nb.metadata["deepvis"] = {"needs": needs}
    nbformat.write(nb, folder / name)
