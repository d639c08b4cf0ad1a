"""``.vec`` round trip, malformed files, normalisation, dictionaries and the ACN export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xmner.align import dictionary as dico
from xmner.align.embeddings import (
    Embeddings,
    FastTextConfig,
    VecFormatError,
    normalize,
    read_vec,
    write_vec,
)
from xmner.align.export import export_acn_embeddings, load_acn_embeddings


@pytest.fixture
def emb() -> Embeddings:
    rng = np.random.default_rng(0)
    words = ["的", "the", "北京", "@user", "#tag", "1"]
    return Embeddings(words, rng.normal(size=(6, 5)).astype(np.float32))


def test_vec_round_trip(tmp_path, emb):
    write_vec(tmp_path / "a.vec", emb)
    back = read_vec(tmp_path / "a.vec")
    assert back.words == emb.words
    np.testing.assert_allclose(back.vectors, emb.vectors, rtol=1e-5, atol=1e-6)
    assert read_vec(tmp_path / "a.vec", max_words=2).words == ["的", "the"]


def test_vec_with_bom_and_crlf(tmp_path):
    (tmp_path / "b.vec").write_bytes("\ufeff2 3\r\nx 1 2 3\r\ny 4 5 6 \r\n".encode())
    e = read_vec(tmp_path / "b.vec")
    assert e.words == ["x", "y"]
    assert e.vectors[1].tolist() == [4, 5, 6]


@pytest.mark.parametrize(
    "body, line, message",
    [
        ("3 2\na 1 2\nb 1\nc 3 4\n", 3, "expected a word and 2 numbers, got 1"),
        ("3 2\na 1 2\nb 1 x\nc 3 4\n", 3, "expected numbers"),
        ("3 2\na 1 2\na 1 2\nc 3 4\n", 3, "duplicate word 'a'"),
    ],
)
def test_malformed_line_names_file_and_line_or_is_skipped(tmp_path, body, line, message):
    path = tmp_path / "bad.vec"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(VecFormatError, match=rf"bad\.vec:{line}: {message}"):
        read_vec(path)
    e = read_vec(path, skip_bad=True)
    assert e.words == ["a", "c"] and e.skipped == 1


def test_bad_header_and_truncated_file(tmp_path):
    (tmp_path / "h.vec").write_text("a 1 2\n", encoding="utf-8")
    with pytest.raises(VecFormatError, match=r"h\.vec:1: expected a header"):
        read_vec(tmp_path / "h.vec")
    (tmp_path / "t.vec").write_text("3 2\na 1 2\n", encoding="utf-8")
    with pytest.raises(VecFormatError, match="header says 3 words, found 1"):
        read_vec(tmp_path / "t.vec")


def test_normalize_unit_and_centred():
    x = torch.randn(50, 8) * 3 + 1
    y = normalize(x)
    assert torch.allclose(y.norm(dim=1), torch.ones(50), atol=1e-5)
    assert y.mean(0).norm() < 0.2  # centred before the final renorm
    assert normalize(x).mean(0).norm() < normalize(x, center=False).mean(0).norm()


def test_fasttext_config_keeps_files_small():
    with pytest.raises(ValueError, match="bucket <= 200000"):
        FastTextConfig(bucket=2_000_000)
    assert FastTextConfig.for_characters().maxn == 2


def test_dictionaries(tmp_path, emb):
    (tmp_path / "d.txt").write_text("the 的\nBeijing\t北京\n\n", encoding="utf-8")
    assert dico.read_dictionary(tmp_path / "d.txt") == [("the", "的"), ("Beijing", "北京")]
    (tmp_path / "bad.txt").write_text("the 的\nonly\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.txt:2: expected 'source target'"):
        dico.read_dictionary(tmp_path / "bad.txt")
    chars = dico.cedict_pairs(characters=True)
    assert ("person", "人") in chars and all(len(zh) == 1 for _, zh in chars)
    assert ("china", "中国") in dico.cedict_pairs()
    zh = Embeddings(["北京", "1", "#tag"], np.zeros((3, 5)))
    assert dico.identical_pairs(emb, zh) == [("北京", "北京"), ("#tag", "#tag"), ("1", "1")]
    rows = dico.to_indices([("BEIJING", "北京"), ("the", "没有")], emb, zh)
    assert rows.tolist() == []  # 'beijing' is not in emb; missing pairs are dropped
    pairs = torch.tensor([[i // 2, i] for i in range(40)])
    train, test = dico.split_pairs(pairs, test_fraction=0.25)
    assert len(test) == 10 and not set(train[:, 0].tolist()) & set(test[:, 0].tolist())


def test_acn_export_covers_all_tokens(tmp_path, emb):
    zh = Embeddings(["北京", "人"], np.ones((2, 5)))
    tokens = ["人", "The", "the", "北京", "unseen", "人", "@user"]
    report = export_acn_embeddings(tokens, [zh, emb], tmp_path, seed=3)
    vocab, matrix = load_acn_embeddings(tmp_path)
    assert vocab == ["<pad>", "<unk>", "人", "The", "the", "北京", "unseen", "@user"]
    assert matrix.dtype == np.float32 and matrix.shape == (8, 5)
    assert not matrix[0].any()
    np.testing.assert_array_equal(matrix[2], np.ones(5))  # first space wins for 北京/人
    np.testing.assert_array_equal(matrix[5], np.ones(5))
    np.testing.assert_array_equal(matrix[3], emb.vectors[1])  # lower-case fallback
    assert (report.found, report.lowercased, report.random) == (5, 1, 1)
    assert np.abs(matrix[[1, 6]]).max() <= 0.25 and matrix[6].std() > 0.05
    again = export_acn_embeddings(tokens, [zh, emb], tmp_path / "2", seed=3)
    assert np.array_equal(np.load(again.matrix_path), matrix)  # seeded
