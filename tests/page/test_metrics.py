import json

import numpy as np
import pytest

from deepvis.page import metrics


def test_update_merges_and_converts(tmp_path):
    path = tmp_path / "report" / "metrics.json"
    metrics.update({"cae.test_bce": np.float32(0.31234567), "cae.params": np.int64(5)}, path)
    merged = metrics.update({"dcae.psnr": 16.0, "x.list": np.arange(2)}, path)
    assert merged == json.loads(path.read_text())
    assert merged["cae.params"] == 5 and merged["x.list"] == [0, 1]
    assert merged["cae.test_bce"] == 0.312346  # 6 significant digits
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]  # no temp files left


def test_update_overwrites_a_key_and_rounds_nested_floats(tmp_path):
    path = tmp_path / "metrics.json"
    metrics.update({"a": 1.0, "b": {"c": [np.float64(2 / 3), 7]}}, path)
    merged = metrics.update({"a": 123456789.0}, path)
    assert merged == {"a": 123457000.0, "b": {"c": [0.666667, 7]}}


def test_update_returns_the_keys_sorted_whatever_order_they_came_in(tmp_path):
    path = tmp_path / "metrics.json"
    metrics.update({"z.last": 1, "b.mid": 2}, path)
    merged = metrics.update({"a.first": 3}, path)
    assert list(merged) == ["a.first", "b.mid", "z.last"]


def test_load_missing_is_empty(tmp_path):
    assert metrics.load(tmp_path / "none.json") == {}


@pytest.mark.parametrize("quick", [False, True])
def test_default_file_follows_the_mode(project_home, monkeypatch, quick):
    if quick:
        monkeypatch.setenv("DEEPVIS_QUICK", "1")
    metrics.update({"cae.test_bce": 0.3})
    expected = project_home / ("build/quick/report" if quick else "report") / "metrics.json"
    assert json.loads(expected.read_text()) == {"cae.test_bce": 0.3}
    assert metrics.load() == {"cae.test_bce": 0.3}
    if quick:
        assert not (project_home / "report").exists()  # the committed file is never touched


def test_prefixed_keys():
    assert metrics.prefixed("cae", {"test_bce": 0.3, "epochs": 16}) == {
        "cae.test_bce": 0.3,
        "cae.epochs": 16,
    }


def test_updates_at_once_lose_nothing(tmp_path):
    """Processes updating the file at once (the two exercises' notebooks) keep every key."""
    import multiprocessing

    path = tmp_path / "report" / "metrics.json"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_update_many, args=(path, w)) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert len(metrics.load(path)) == 3 * 40


def _update_many(path, worker: int) -> None:
    for k in range(40):
        metrics.update({f"w{worker}.k{k:02d}": k}, path)


def test_drop_removes_only_the_keys_given(tmp_path):
    path = tmp_path / "metrics.json"
    metrics.update({"a.x": 1.0, "a.y": 2.0, "b": 3.0}, path)
    assert metrics.drop("a.x", "absent", path=path) == {"a.y": 2.0, "b": 3.0}
    assert metrics.load(path) == {"a.y": 2.0, "b": 3.0}
