"""Verified files: record, verify, discard damaged cache entries, seal multi-file entries."""

import logging

import pytest

from xmner import manifest
from xmner.manifest import DamagedFile


def _written(path, text="hello world\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    manifest.record(path)
    return path


def test_a_recorded_file_verifies(tmp_path):
    path = _written(tmp_path / "results.json")
    assert manifest.verify(path) == path
    assert manifest.problem(path) is None


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_text("hello"), "cut: 5 bytes, 12 when written"),
        (lambda p: p.write_text("HELLO world\n"), "altered since written"),
        (lambda p: p.unlink(), "missing"),
    ],
)
def test_a_damaged_file_stops_with_one_line_naming_it(tmp_path, damage, message):
    path = _written(tmp_path / "results.json")
    damage(path)
    with pytest.raises(DamagedFile, match=message) as err:
        manifest.verify(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def test_an_unrecorded_file_does_not_verify(tmp_path):
    path = tmp_path / "best.pt"
    path.write_bytes(b"not written by xmner")
    with pytest.raises(DamagedFile, match=r"best.pt: not in .*MANIFEST.jsonl"):
        manifest.verify(path)


def test_a_damaged_cache_entry_is_discarded_with_a_warning(tmp_path, caplog):
    path = _written(tmp_path / "features" / "img.pt")
    path.write_text("hello")
    with caplog.at_level(logging.WARNING):
        assert not manifest.usable(path)
    assert not path.exists()
    assert f"damaged cache entry {path}" in caplog.text


def test_the_last_record_wins_and_a_cut_manifest_line_is_skipped(tmp_path):
    path = _written(tmp_path / "metrics.jsonl", "a\n")
    path.write_text("a\nb\n")
    manifest.record(path)
    with open(tmp_path / manifest.MANIFEST, "a") as f:
        f.write('{"file": "other", "si')  # a crash in the middle of a record
    assert manifest.verify(path) and list(manifest.entries(tmp_path)) == ["metrics.jsonl"]


def test_a_sealed_entry_is_checked_whole_and_removed_when_damaged(tmp_path, caplog):
    entry = tmp_path / "translations" / "en2zh-abc"
    _written(entry / "train.txt", "posts\n")
    (entry / "report.json").write_text("{}")
    manifest.seal(entry)
    assert manifest.sealed(entry, ["train.txt", "report.json"])
    assert not manifest.sealed(tmp_path / "absent", ["train.txt"])
    (entry / "train.txt").write_text("pos")  # cut at a post boundary
    with caplog.at_level(logging.WARNING):
        assert not manifest.sealed(entry, ["train.txt", "report.json"])
    assert not entry.exists() and "train.txt: cut" in caplog.text
