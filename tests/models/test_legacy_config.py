"""Training settings the models' configs no longer hold (the stages' govern): configs saved
with them still load, the keys dropped with a log line; other unknown keys stay errors."""

import logging

import pytest
import torch

from xmner.models import checkpoint
from xmner.models.acn import ACN, ACNConfig
from xmner.models.umt import UMTConfig

LEGACY = {
    ACNConfig: {"lr": 1e-3, "finetune_lr": 1e-4, "batch_size": 16},
    UMTConfig: {"lr": 5e-5, "warmup": 0.1, "batch_size": 16},
}


@pytest.mark.parametrize("cls", [ACNConfig, UMTConfig], ids=lambda c: c.__name__)
def test_legacy_keys_are_gone_and_dropped_on_load(cls, caplog):
    names = {f for f in cls.__dataclass_fields__}
    assert not names & set(LEGACY[cls])  # one source of truth: StageConfig
    saved = {**cls().to_dict(), **LEGACY[cls]}
    with caplog.at_level(logging.INFO, logger="xmner.config"):
        assert cls.from_dict(saved) == cls()
    assert "dropped legacy key(s)" in caplog.text and cls.__name__ in caplog.text
    with pytest.raises(ValueError, match="unknown"):
        cls.from_dict({**saved, "layers": 3})


def _legacy_acn_checkpoint(tmp_path):
    config = ACNConfig(word_dim=8, char_dim=4, char_filters=3, char_out=5, hidden=6,
                       use_images=False, max_len=20)  # fmt: skip
    model = ACN(config, ["O", "B-PER", "I-PER"], ["<pad>", "<unk>", "a"], ["<pad>", "<unk>", "a"])
    path = checkpoint.save(tmp_path / "m.pt", model)
    raw = torch.load(path, weights_only=True)
    raw["config"].update(LEGACY[ACNConfig])  # as a checkpoint saved before the removal
    torch.save(raw, path)
    return path, model


def test_checkpoint_saved_with_legacy_keys_loads(tmp_path):
    path, model = _legacy_acn_checkpoint(tmp_path)
    assert checkpoint.open_checkpoint(path).config == model.config
