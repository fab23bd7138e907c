"""Tables for the write-ups: headings, formats, missing values, no index-name row."""

import numpy as np
import pandas as pd
import pytest

from deepvis.page import tables


def _frame() -> pd.DataFrame:
    frame = pd.DataFrame(
        {"psnr_db": [15.6789, np.nan], "ssim": [0.51234, 0.2], "unused": [1, 2]},
        index=pd.Index(["denoising CAE", "noisy input"], name="method"),
    )
    return frame


def test_formatted_renames_formats_and_fills_missing():
    out = tables.formatted(
        _frame(), {"psnr_db": ("PSNR (dB)", ".1f"), "ssim": ("SSIM", ".3f")}, "Method"
    )
    assert list(out.columns) == ["Method", "PSNR (dB)", "SSIM"]
    assert out.values.tolist() == [
        ["denoising CAE", "15.7", "0.512"],
        ["noisy input", "—", "0.200"],
    ]


def _shown(monkeypatch, *args, **kwargs) -> tuple[dict, dict]:
    """What `tables.table` displays: (mime bundle, metadata)."""
    seen = []
    monkeypatch.setattr(
        "IPython.display.display", lambda obj, raw, metadata: seen.append((obj, metadata))
    )
    assert tables.table(*args, **kwargs) is None
    assert len(seen) == 1
    return seen[0]


def test_html_has_no_index_name_row_and_no_nan(monkeypatch):
    bundle, meta = _shown(monkeypatch, _frame(), {"psnr_db": ("PSNR (dB)", ".2f")}, "Method")
    html = bundle["text/html"]
    assert 'class="dataframe"' in html and "NaN" not in html and "method" not in html
    assert html.count("<tr") == 3  # one heading row, two rows of values
    assert meta == {}


def test_text_columns_left_numbers_right():
    text = tables.formatted(_frame(), {"psnr_db": ("PSNR (dB)", ".2f")}, "Method")
    assert tables.numeric_columns(text) == [False, True]  # "—" counts as a number's gap
    html = tables.to_html(text)
    assert '<td style="text-align: left">denoising CAE</td>' in html
    assert '<td style="text-align: right">15.68</td>' in html
    assert tables.to_latex(text).startswith("\\begin{tabular}{lr}")


def test_a_number_with_its_spread_is_right_aligned_and_words_are_not():
    text = pd.DataFrame({"row": ["CAE, 3 seeds", "PCA"], "5-NN": ["0.699 ± 0.0020", "0.507"],
                         "note": ["0.7 ± high", "—"]})
    assert tables.numeric_columns(text) == [False, True, False]


def test_latex_escapes_every_special_character():
    text = pd.DataFrame({"name": ["a_b & 100% $x$ #1 {y} ~ ^ \\"]})
    latex = tables.to_latex(text)
    assert (
        r"a\_b \& 100\% \$x\$ \#1 \{y\} \textasciitilde{} \textasciicircum{} "
        r"\textbackslash{} \\" in latex
    )


def test_caption_goes_into_the_metadata(monkeypatch):
    _, meta = _shown(
        monkeypatch, _frame(), {"ssim": ("SSIM", ".3f")}, label="q", caption="Quality  of\nit."
    )
    assert meta == {"deepvis": {"kind": "tab", "label": "q", "caption": "Quality of it."}}


def test_label_without_caption_is_refused():
    with pytest.raises(ValueError, match="both a label and a caption"):
        tables.table(_frame(), {"ssim": ("SSIM", ".3f")}, label="q")


def test_unknown_column_is_named():
    with pytest.raises(KeyError, match="knn5"):
        tables.formatted(_frame(), {"knn5": ("5-NN", ".3f")})


def test_a_table_kept_here_is_placed_H_in_the_latex(monkeypatch):
    """`here=True` marks the table; the write-ups' LaTeX template then places it with ``H``
    (where it stands), every other captioned table with ``htbp``."""
    import nbformat
    from nbconvert import LatexExporter

    from deepvis.report import render

    outputs = []
    for here in (True, False):
        bundle, meta = _shown(monkeypatch, _frame(), {"ssim": ("SSIM", ".3f")},
                              label=f"t{here}", caption="Quality.", here=here)
        assert meta["deepvis"].get("here", False) is here
        meta["deepvis"]["number"] = f"Table {len(outputs) + 1}"
        outputs.append(nbformat.v4.new_output("display_data", data=bundle, metadata=meta))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=outputs)])
    exporter = LatexExporter(
        config=render._exporter_config(writeup=True, latex=True), template_name="deepvis_latex"
    )
    latex, _ = exporter.from_notebook_node(nb)
    assert latex.index("\\begin{table}[H]") < latex.index("\\begin{table}[htbp]")
    with pytest.raises(ValueError, match="captioned"):
        tables.table(_frame(), {"ssim": ("SSIM", ".3f")}, here=True)
