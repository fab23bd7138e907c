import json

import numpy as np

from deepvis import metrics


def test_update_merges_and_converts(tmp_path):
    path = tmp_path / "report" / "metrics.json"
    metrics.update({"cae.test_bce": np.float32(0.31234567), "cae.params": np.int64(5)}, path)
    merged = metrics.update({"dcae.psnr": 16.0, "x.list": np.arange(2)}, path)
    assert merged == json.loads(path.read_text())
    assert merged["cae.params"] == 5 and merged["x.list"] == [0, 1]
    assert merged["cae.test_bce"] == 0.312346  # 6 significant digits
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]  # no temp files left


def test_load_missing_is_empty(tmp_path):
    assert metrics.load(tmp_path / "none.json") == {}


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    import os

    from deepvis.files import atomic_directory, atomic_write_text

    mask = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "a.txt", "x")
        with atomic_directory(tmp_path / "folder") as tmp:
            (tmp / "f").write_text("y")
    finally:
        os.umask(mask)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert oct((tmp_path / "folder").stat().st_mode & 0o777) == oct(0o755)


def test_prefixed_keys():
    assert metrics.prefixed("cae", {"test_bce": 0.3, "epochs": 16}) == {
        "cae.test_bce": 0.3,
        "cae.epochs": 16,
    }
