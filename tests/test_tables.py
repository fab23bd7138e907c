"""Tables for the write-ups: headings, formats, missing values, no index-name row."""

import numpy as np
import pandas as pd
import pytest

from deepvis import tables


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


def test_html_has_no_index_name_row_and_no_nan():
    html = tables.table(_frame(), {"psnr_db": ("PSNR (dB)", ".2f")}, "Method").data
    assert 'class="dataframe"' in html and "NaN" not in html and "method" not in html
    assert html.count("<tr") == 3  # one heading row, two rows of values


def test_unknown_column_is_named():
    with pytest.raises(KeyError, match="knn5"):
        tables.formatted(_frame(), {"knn5": ("5-NN", ".3f")})
