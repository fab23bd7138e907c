"""Captioned figures and quoted source listings."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from deepvis.errors import DeepvisError  # noqa: E402
from deepvis.page import captions  # noqa: E402


def test_figure_is_saved_closed_and_displayed_with_its_caption(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(
        "IPython.display.display", lambda obj, metadata: shown.append((obj, metadata))
    )
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [1, 0])
    path = tmp_path / "sub" / "f.png"
    captions.figure(fig, path, label="f-1", caption="A line  going down.")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)
    ((image, meta),) = shown
    assert image.data == path.read_bytes()
    assert meta == {"deepvis": {"kind": "fig", "label": "f-1", "caption": "A line going down."}}


@pytest.mark.parametrize(
    ("kind", "label", "caption", "message"),
    [("pic", "a", "x", "kind"), ("fig", "a b", "x", "letters"), ("fig", "a", " ", "no caption")],
)
def test_bad_captions_are_refused(kind, label, caption, message):
    with pytest.raises(DeepvisError, match=message):
        captions.caption_metadata(kind, label, caption)


def _example(x):
    y = x + 1
    z = y * 2
    return z


def test_listing_quotes_the_lines_between_markers():
    assert captions.listing(_example, "y = x", "z = y") == "```python\ny = x + 1\nz = y * 2\n```"
    whole = captions.listing(_example)
    assert whole.startswith("```python\ndef _example(x):\n") and whole.endswith("return z\n```")
    with pytest.raises(DeepvisError, match="not found"):
        captions.listing(_example, "nowhere")


def _commented(x):
    # first, one more
    if x:
        # an indented comment line
        x = x + 1  # a trailing comment stays with its code
    return x


def test_listing_leaves_out_comment_lines_on_request():
    assert captions.listing(_commented, "# first", "return x", comments=False) == (
        "```python\nif x:\n    x = x + 1  # a trailing comment stays with its code\nreturn x\n```"
    )
    assert "# first" in captions.listing(_commented)


def _call(a, b):
    return dict(
        first=a,
        second=b,
    )


def test_listing_continues_to_the_closing_bracket():
    assert captions.listing(_call, "return dict(", "first=a") == (
        "```python\nreturn dict(\n    first=a,\n    second=b,\n)\n```"
    )


def test_text_table_keeps_the_text_verbatim(monkeypatch):
    shown = []
    monkeypatch.setattr(
        "IPython.display.display", lambda obj, raw, metadata: shown.append((obj, metadata))
    )
    captions.text_table("a_b & {c}\n<d>", label="s", caption="A summary.")
    ((bundle, meta),) = shown
    assert bundle["text/latex"] == (
        "\\begin{Verbatim}[fontsize=\\footnotesize]\na_b & {c}\n<d>\n\\end{Verbatim}"
    )
    assert bundle["text/html"] == '<pre class="deepvis-text">a_b &amp; {c}\n&lt;d&gt;</pre>'
    assert meta["deepvis"]["kind"] == "tab"


def test_text_table_sets_lines_too_wide_for_scriptsize_smaller(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw, metadata: shown.append(obj))
    fits, wide = "x" * captions.SCRIPTSIZE_CHARS, "x" * (2 * captions.SCRIPTSIZE_CHARS)
    for text in (fits, wide):
        captions.text_table(text, label="s", caption="A summary.")
    sizes = [bundle["text/latex"].split("]", 1)[0] for bundle in shown]
    assert sizes[0] == "\\begin{Verbatim}[fontsize=\\scriptsize"
    # Twice as long, half of scriptsize's 7 points: the longest line spans the text width
    assert sizes[1] == "\\begin{Verbatim}[fontsize=\\fontsize{3.50pt}{4.02pt}\\selectfont"


def test_a_figure_kept_here_is_marked_and_placed_H_in_the_latex(tmp_path, monkeypatch):
    """`here=True` marks the figure; the write-ups' LaTeX template then places it with ``H``
    (where it stands), every other figure with ``htbp``."""
    import base64

    import nbformat
    from nbconvert import LatexExporter

    from deepvis.report import render

    shown = []
    monkeypatch.setattr(
        "IPython.display.display", lambda obj, metadata: shown.append((obj, metadata))
    )
    outputs = []
    for here in (True, False):
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.plot([0, 1])
        captions.figure(
            fig, tmp_path / f"{here}.png", label=f"f{here}", caption="A line.", here=here
        )
        image, meta = shown[-1]
        meta["deepvis"]["number"] = f"Figure {len(outputs) + 1}"
        outputs.append(
            nbformat.v4.new_output(
                "display_data",
                data={"image/png": base64.b64encode(image.data).decode()},
                metadata=meta,
            )
        )
    assert shown[0][1]["deepvis"]["here"] is True and "here" not in shown[1][1]["deepvis"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=outputs)])
    exporter = LatexExporter(
        config=render._exporter_config(writeup=True, latex=True), template_name="deepvis_latex"
    )
    latex, _ = exporter.from_notebook_node(nb)
    assert latex.index("\\begin{figure}[H]") < latex.index("\\begin{figure}[htbp]")
    assert latex.count("\\begin{figure}") == 2
    nb.metadata["floats"] = True  # the technical report: every figure floats
    latex, _ = exporter.from_notebook_node(nb)
    assert "[H]" not in latex and latex.count("\\begin{figure}[htbp]") == 2
