"""``xmner embed train``, ``xmner align`` and ``xmner align evaluate`` in-process."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from xmner import cli
from xmner.align.embeddings import Embeddings, read_bin, read_vec, write_vec


@pytest.fixture(autouse=True)
def only_align_commands(monkeypatch):
    # Other packages' command modules may not exist on this branch; test ours alone.
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ("xmner.align.commands",))


def synthetic_pair(tmp_path, n=400, d=20):
    """en.vec and zh.vec where zh is a rotated copy; dictionary maps w_i -> z_i."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
    write_vec(tmp_path / "en.vec", Embeddings([f"w{i}" for i in range(n)], x.numpy()))
    write_vec(tmp_path / "zh.vec", Embeddings([f"z{i}" for i in range(n)], (x @ q).numpy()))
    (tmp_path / "dict.txt").write_text("".join(f"w{i} z{i}\n" for i in range(n)), encoding="utf-8")


def test_align_then_evaluate(tmp_path, capsys):
    synthetic_pair(tmp_path)
    out = tmp_path / "run"
    args = ["align", "--src", str(tmp_path / "en.vec"), "--tgt", str(tmp_path / "zh.vec")]
    assert cli.main([*args, "--dict", str(tmp_path / "dict.txt"), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["p_at_1_csls"] == 1.0 and metrics["n_test_pairs"] == 80
    assert json.loads((out / "config.json").read_text())["align"]["iterations"] == 5
    lexicon = (out / "lexicon.txt").read_text().split("\n")
    assert lexicon[0] == "w0 z0" and len(lexicon) == 401
    assert read_vec(out / "en.vec").words[:2] == ["w0", "w1"]
    assert "p_at_1_csls=1.000" in capsys.readouterr().out

    ev = ["align", "evaluate", "--src", str(out / "en.vec"), "--tgt", str(out / "zh.vec")]
    assert (
        cli.main([*ev, "--dict", str(out / "test_pairs.txt"), "--json", str(tmp_path / "m")]) == 0
    )
    assert json.loads((tmp_path / "m").read_text())["p_at_1_nn"] == 1.0


def test_align_errors_are_one_line(tmp_path, capsys):
    assert cli.main(["align", "--src", "x.vec"]) == 1
    assert "align needs --tgt, --out" in capsys.readouterr().err
    (tmp_path / "bad.vec").write_text("2 2\na 1 2\nb 1\n", encoding="utf-8")
    args = ["align", "--src", str(tmp_path / "bad.vec"), "--tgt", str(tmp_path / "bad.vec")]
    assert cli.main([*args, "--out", str(tmp_path / "o")]) == 1
    assert "bad.vec:3: expected a word and 2 numbers" in capsys.readouterr().err


def test_embed_train_on_cmner_file(tmp_path, data_root):
    out = tmp_path / "zh.vec"
    src = data_root / "cmner" / "dev.txt"
    argv = ["embed", "train", "--file", str(src), "--out", str(out), "--characters"]
    argv += ["--bin", str(tmp_path / "zh.bin")]
    assert cli.main([*argv, "--dim", "16", "--epoch", "1", "--min-count", "5"]) == 0
    emb = read_vec(out)
    assert emb.dim == 16 and len(emb) > 500
    assert all(len(w) == 1 for w in emb.words[:100])  # characters
    assert np.isfinite(emb.vectors).all()
    binary = read_bin(tmp_path / "zh.bin", extra_words=["的的"])  # not a token of the corpus
    assert binary.words[:-1] == emb.words and binary.words[-1] == "的的"
    np.testing.assert_allclose(binary.vectors[:-1], emb.vectors, rtol=1e-4, atol=1e-5)
    oov, de = binary.vectors[-1], emb.vectors[emb.index("的")]
    # Built from its n-grams '<的', '的的', '的>', two of which it shares with '的'.
    assert oov @ de / (np.linalg.norm(oov) * np.linalg.norm(de)) > 0.5


def test_align_build_from_shared_corpora_is_cached(tmp_path, data_root, capsys):
    argv = ["align", "build", "--out", str(tmp_path / "run"), "--data-dir", str(data_root)]
    assert cli.main([*argv, "--split", "dev", "--dim", "16", "--epoch", "1"]) == 0
    assert (tmp_path / "run" / "lexicon.txt").exists()
    assert cli.main([*argv, "--split", "dev", "--dim", "16", "--epoch", "1"]) == 0
    assert "cached in" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["embed", "train"], ["align", "build"]])
def test_data_dir_is_the_one_name_and_data_still_works(command, capsys):
    parser = cli.build_parser()
    args = parser.parse_args([*command, "--data-dir", "/d1", "--out", "o"])
    assert args.data_dir == "/d1" and "deprecated" not in capsys.readouterr().err
    args = parser.parse_args([*command, "--data", "/d2", "--out", "o"])
    assert args.data_dir == "/d2"
    assert "--data is deprecated; use --data-dir" in capsys.readouterr().err
