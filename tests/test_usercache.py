"""The per-user cache: built once, read back whole, rebuilt when damaged or re-keyed."""

from __future__ import annotations

import json
import logging

import pytest

from xmner import manifest
from xmner.usercache import cached_json, user_cache_dir


class Builder:
    """Counts its calls; each returns a fresh value naming the call."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"call": self.calls, "字": ["a", "b"]}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("XMNER_CACHE", str(root))
    return root


def test_built_once_then_read_back_and_recorded(cache):
    build = Builder()
    first = cached_json("tables", "k1", build)
    second = cached_json("tables", "k1", build)
    assert build.calls == 1
    assert first == second == {"call": 1, "字": ["a", "b"]}
    path = cache / "tables-k1.json"
    assert json.loads(path.read_text(encoding="utf-8")) == first
    assert manifest.problem(path) is None  # recorded, and as written


def test_another_key_is_another_entry(cache):
    build = Builder()
    assert cached_json("tables", "k1", build)["call"] == 1
    assert cached_json("tables", "k2", build)["call"] == 2
    assert cached_json("other", "k1", build)["call"] == 3
    assert cached_json("tables", "k1", build)["call"] == 1
    assert build.calls == 3


@pytest.mark.parametrize(
    ("spoil", "warned"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[:-5]), True),
        (lambda p: p.write_text(p.read_text(encoding="utf-8").replace("1", "7"), "utf-8"), True),
        (lambda p: p.unlink(), False),
    ],
    ids=["cut", "altered", "deleted"],
)
def test_a_damaged_entry_is_discarded_and_rebuilt(cache, spoil, warned, caplog):
    build = Builder()
    cached_json("tables", "k1", build)
    spoil(cache / "tables-k1.json")
    with caplog.at_level(logging.WARNING, logger="xmner"):
        again = cached_json("tables", "k1", build)
    assert again == {"call": 2, "字": ["a", "b"]}
    assert build.calls == 2
    assert cached_json("tables", "k1", build)["call"] == 2  # the rebuilt entry is kept
    assert ("damaged cache entry" in caplog.text) is warned


def test_off_builds_every_time_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("XMNER_CACHE", "off")
    monkeypatch.chdir(tmp_path)
    build = Builder()
    assert user_cache_dir() is None
    assert [cached_json("tables", "k1", build)["call"] for _ in range(2)] == [1, 2]
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_folder_costs_a_warning_not_the_value(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XMNER_CACHE", str(blocker / "cache"))
    build = Builder()
    with caplog.at_level(logging.WARNING, logger="xmner"):
        assert cached_json("tables", "k1", build) == {"call": 1, "字": ["a", "b"]}
    assert "not usable" in caplog.text and str(blocker / "cache") in caplog.text


def test_default_folder_follows_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.delenv("XMNER_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache_dir() == tmp_path / "xdg" / "xmner"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_cache_dir() == tmp_path / "home" / ".cache" / "xmner"
    monkeypatch.setenv("XMNER_CACHE", str(tmp_path / "mine"))
    assert user_cache_dir() == tmp_path / "mine"
