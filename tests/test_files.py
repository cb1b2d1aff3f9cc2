"""Files are written whole or not at all, and never over a special file: ``autograd.files``, which
``nn.save``, ``viz.render`` and the command write through."""

import importlib
import os
import stat

import pytest

import nn
from autograd import Value, files
from viz import render


def graph() -> Value:
    y = Value(2.0, label="x") * 3
    y.backward()
    return y


def test_a_write_replaces_the_file_whole_and_keeps_its_permission_bits(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    path.chmod(0o640)
    assert files.write_atomic(path, "new ✓") == path
    assert path.read_text(encoding="utf-8") == "new ✓"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_text("old")

    def fail(tmp, data, mode):
        tmp.write_bytes(data[:3])  # half written, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "_write_new", fail)
    with pytest.raises(OSError, match=r"cannot write to '.*a\.txt': No space left on device") as e:
        files.write_atomic(path, "new text")
    assert e.value.errno == 28
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_ctrl_c_during_a_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_text("old")

    def interrupted(tmp, data, mode):
        tmp.write_bytes(data[:3])
        raise KeyboardInterrupt

    monkeypatch.setattr(files, "_write_new", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.write_atomic(path, "new text")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_a_fifo_or_a_symlink_to_a_device_is_never_replaced(tmp_path):
    fifo = tmp_path / "pipe.svg"
    os.mkfifo(fifo)
    link = tmp_path / "null.svg"
    link.symlink_to("/dev/null")
    for path, kind in [(fifo, r"a FIFO \(named pipe\)"), (link, "a character device")]:
        with pytest.raises(OSError, match=f"cannot write the drawing to '{path}': it is {kind}"):
            render(graph(), path)
        with pytest.raises(OSError, match=f"it is {kind}, not a regular file"):
            nn.save(nn.Neuron(2, seed=0), path)
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink()
    assert os.readlink(link) == "/dev/null" and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_render_that_fails_leaves_the_old_picture(tmp_path, monkeypatch):
    render_module = importlib.import_module("viz.render")  # viz.render is also the function
    path = tmp_path / "g.svg"
    render(graph(), path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("the renderer crashed")

    monkeypatch.setattr(render_module, "pipe", broken)
    with pytest.raises(RuntimeError, match="the renderer crashed"):
        render(graph() * 2, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.svg"]


def test_a_place_that_cannot_be_written_is_refused_before_the_work(tmp_path):
    with pytest.raises(FileNotFoundError, match="the directory .* does not exist"):
        files.check_writable(tmp_path / "missing" / "a.svg")
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        files.check_writable(tmp_path, "save the model")
    assert files.check_writable(tmp_path / "new.svg") == tmp_path / "new.svg"
    target = tmp_path / "real.json"
    (tmp_path / "link.json").symlink_to(target)
    assert files.check_writable(tmp_path / "link.json") == target  # a symlink's target is written
