"""Checkpoints: one self-describing file, loaded with weights_only=True, clear errors."""

from __future__ import annotations

import pytest
import torch

from xmner.data.corpus import Post
from xmner.data.tags import label_set
from xmner.models import checkpoint
from xmner.models.acn import ACN, ACNConfig
from xmner.models.vocab import PAD, UNK

LABELS = label_set(("PER", "LOC"))
POSTS = [Post("a", ["Paris", "is", "nice"], ["B-LOC", "O", "O"]), Post("b", ["Ann"], ["B-PER"])]


def small(use_images: bool = True, pretrained: bool = False) -> ACN:
    config = ACNConfig(word_dim=8, char_dim=4, char_filters=3, char_out=5, hidden=6,
                       use_images=use_images, regions=3, region_dim=4, dropout=0.0)  # fmt: skip
    words = [PAD, UNK, "Paris", "is", "nice", "Ann"]
    chars = [PAD, UNK, *sorted({c for w in words[2:] for c in w})]
    emb = torch.randn(len(words), 8) if pretrained else None
    return ACN(config, LABELS, words, chars, emb).eval()


def batch_for(model: ACN):
    return model.collator()([(POSTS[0], torch.randn(3, 4)), (POSTS[1], None)])


@pytest.mark.parametrize("use_images", [True, False])
def test_round_trip_rebuilds_model_from_the_file_alone(tmp_path, use_images):
    model = small(use_images)
    path = checkpoint.save(tmp_path / "sub" / "best.pt", model, {"epoch": 3, "dev_f1": 0.5})
    assert [p.name for p in path.parent.iterdir()] == ["best.pt"]  # no temp file left behind
    raw = torch.load(path, weights_only=True)
    assert raw["schema"] == checkpoint.SCHEMA_VERSION and raw["kind"] == "acn"
    assert raw["config"]["use_images"] is use_images and raw["init"]["labels"] == LABELS
    ckpt = checkpoint.open_checkpoint(path)
    assert ckpt.kind == "acn" and ckpt.config == model.config
    assert ckpt.extra == {"epoch": 3, "dev_f1": 0.5}
    loaded = ckpt.model
    assert loaded.words == model.words and loaded.chars == model.chars
    batch = batch_for(model)
    with torch.no_grad():
        assert torch.equal(loaded(batch), model(batch))


def test_frozen_pretrained_embeddings_stay_frozen_after_load(tmp_path):
    model = small(pretrained=True)
    loaded = checkpoint.load(checkpoint.save(tmp_path / "m.pt", model))
    assert loaded.pretrained and not loaded.word_emb.weight.requires_grad
    assert torch.equal(loaded.word_emb.weight, model.word_emb.weight)
    fresh = checkpoint.load(checkpoint.save(tmp_path / "r.pt", small()))
    assert fresh.word_emb.weight.requires_grad


def test_bad_files_give_clear_errors(tmp_path):
    path = checkpoint.save(tmp_path / "m.pt", small())
    raw = torch.load(path, weights_only=True)
    torch.save({**raw, "schema": 99}, tmp_path / "future.pt")
    with pytest.raises(ValueError, match="schema 99, expected 1"):
        checkpoint.load(tmp_path / "future.pt")
    torch.save({**raw, "kind": "gpt"}, tmp_path / "kind.pt")
    with pytest.raises(ValueError, match="unknown model kind 'gpt'"):
        checkpoint.load(tmp_path / "kind.pt")
    torch.save({**raw, "config": {**raw["config"], "layers": 3}}, tmp_path / "cfg.pt")
    with pytest.raises(ValueError, match="config does not fit ACNConfig"):
        checkpoint.load(tmp_path / "cfg.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable xmner checkpoint"):
        checkpoint.load(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        checkpoint.load(tmp_path / "missing.pt")


def test_unknown_model_class_is_refused(tmp_path):
    with pytest.raises(ValueError, match="cannot checkpoint a Linear"):
        checkpoint.save(tmp_path / "x.pt", torch.nn.Linear(2, 2))
