"""Atomic writes: a reader sees the old content or the new, never a partial one or a stray file."""

from __future__ import annotations

import os

import pytest

from deepvis import files


def test_atomic_write_bytes_replaces_the_file(tmp_path):
    path = tmp_path / "sub" / "a.bin"
    assert files.atomic_write_bytes(path, b"old") == path
    files.atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in path.parent.iterdir()] == ["a.bin"]


def test_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        files.atomic_write_bytes(path, "not bytes")  # fails while writing the temporary file
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_interrupted_rename_removes_the_temporary(tmp_path, monkeypatch):
    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.atomic_write_text(tmp_path / "a.txt", "never seen")
    assert list(tmp_path.iterdir()) == []


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        path = files.atomic_write_text(tmp_path / "a.txt", "x")
        with files.atomic_directory(tmp_path / "folder") as tmp:
            (tmp / "f").write_text("y")
    finally:
        os.umask(mask)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert oct((tmp_path / "folder").stat().st_mode & 0o777) == oct(0o755)


def _old_folder(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "old.txt").write_text("previous run")
    return folder


def test_atomic_directory_replaces_the_whole_folder(tmp_path):
    folder = _old_folder(tmp_path)
    with files.atomic_directory(folder) as tmp:
        assert tmp.parent == tmp_path and tmp != folder
        assert (folder / "old.txt").read_text() == "previous run"  # untouched while writing
        (tmp / "new.txt").write_text("this run")
    assert sorted(p.name for p in folder.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["results"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failing_writer_keeps_the_old_folder_and_leaves_no_temporary(tmp_path, error):
    folder = _old_folder(tmp_path)
    with pytest.raises(error), files.atomic_directory(folder) as tmp:
        (tmp / "half.txt").write_text("half written")
        raise error
    assert sorted(p.name for p in folder.iterdir()) == ["old.txt"]
    assert (folder / "old.txt").read_text() == "previous run"
    assert [p.name for p in tmp_path.iterdir()] == ["results"]


def test_failing_first_writer_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), files.atomic_directory(tmp_path / "results") as tmp:
        (tmp / "half.txt").write_text("half written")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_save_figure_writes_a_png_atomically(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    path = tmp_path / "figs" / "line.png"
    assert files.save_figure(fig, path) is None
    plt.close(fig)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["line.png"]
