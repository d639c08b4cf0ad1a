"""Atomic writes: the usual file mode; read and write failures name the file."""

import errno
import os

import pytest

from xmner import io


def test_atomic_writes_get_the_mode_of_any_other_new_file(tmp_path):
    io.write_json(tmp_path / "a.json", {"x": 1})
    (tmp_path / "b.json").write_text("{}")
    mode = lambda p: os.stat(p).st_mode & 0o777  # noqa: E731
    assert mode(tmp_path / "a.json") == mode(tmp_path / "b.json") == io.FILE_MODE


@pytest.mark.parametrize(
    "text, message",
    [("", r"results.json:1: not valid JSON \(empty file"), ('{"f1": 0.5,\n "p', r"json:2: not")],
)
def test_a_damaged_json_file_is_named_with_its_line(tmp_path, text, message):
    path = tmp_path / "results.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        io.read_json(path)
    assert str(err.value).startswith(str(path))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EFBIG])
def test_a_full_disk_names_the_file(tmp_path, monkeypatch, code):
    def full(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(io.os, "fsync", full)
    path = tmp_path / "run" / "results.json"
    with pytest.raises(OSError, match=f"cannot write {path}: {os.strerror(code)}") as err:
        io.write_json(path, {"f1": 0.5})
    assert err.value.errno == code
    assert not list(path.parent.iterdir())  # no temp file left behind
    with pytest.raises(OSError, match=f"cannot write {tmp_path / 'metrics.jsonl'}"):
        io.append_text(tmp_path / "metrics.jsonl", "{}\n")
