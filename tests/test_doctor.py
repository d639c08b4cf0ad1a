"""``xmner doctor`` says what is installed, where the data is, and what the paper preset needs."""

import torch

from xmner.cli import main


def test_doctor_names_versions_engines_corpora_and_cache(data_root, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XMNER_CACHE", str(tmp_path / "mine"))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "t.json").write_bytes(b"\0" * 2**20)
    (tmp_path / "runs" / "cache").mkdir(parents=True)
    (tmp_path / "runs" / "cache" / "x.bin").write_bytes(b"\0" * 3 * 2**20)
    assert main(["doctor", "--data-dir", str(data_root), "--out", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert f"torch {torch.__version__}" in out
    assert "  cmner: all splits" in out and "  twitter2015: all splits" in out
    assert "cache " in out and ": 3.0 MiB" in out
    assert f"user cache {tmp_path / 'mine'}: 1.0 MiB" in out
    assert "offline preset: ready" in out and "--set umt.bert=..." in out
    for engine in ("ctranslate2", "torchvision", "fasttext", "tensorboard", "opencc"):
        assert f"  {engine}: " in out


def test_doctor_says_what_is_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XMNER_CACHE", "off")
    (tmp_path / "cmner").mkdir()
    assert main(["doctor", "--data-dir", str(tmp_path), "--out", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out
    assert "  cmner: missing ['dev', 'test', 'train']" in out
    assert "offline preset: needs the CMNER and Twitter-2015 splits" in out
    assert ": 0.0 MiB" in out
    assert "user cache: off" in out
