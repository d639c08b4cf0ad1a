"""glibc's mmap threshold from inside the process, and who asks for it (training on a CPU)."""

import sys

import pytest
import torch

from xmner import allocator
from xmner.models.acn import ACNConfig
from xmner.models.umt import UMTConfig


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_threshold_is_set_on_glibc_and_zero_leaves_it():
    assert allocator.set_mmap_threshold(4) is True
    assert allocator.set_mmap_threshold(0) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_trim_returns_free_pages_inside_the_heap():
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(4096) for _ in range(8192)]  # 32 MiB below any mmap threshold
    for block in blocks:
        ctypes.memset(block, 1, 4096)
    for block in blocks[:-1]:  # the last one pins the heap's top: only a trim frees the rest
        libc.free(block)
    before = _resident_kib()
    assert allocator.trim() is True
    assert before - _resident_kib() > 16 * 1024  # most of the 32 MiB left the process
    libc.free(blocks[-1])


def _resident_kib() -> int:
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS")).split()[1])


@pytest.mark.parametrize("config", [UMTConfig, ACNConfig])
def test_each_model_asks_for_4_mib_and_refuses_a_negative_one(config):
    assert config().cpu_mmap_threshold_mib == 4
    with pytest.raises(ValueError, match="cpu_mmap_threshold_mib must be >= 0"):
        config(cpu_mmap_threshold_mib=-1)


def test_the_threshold_is_no_part_of_a_cells_key():
    """It changes where freed memory goes, not a number: runs made before it stay valid."""
    from xmner.pipelines.config import load_experiment
    from xmner.pipelines.experiment import cell_key

    key = cell_key(load_experiment("smoke"), "acn", "-", "none")
    for where in ("acn.config", "acn.target_config.cmner"):
        other = load_experiment("smoke", [f"{where}.cpu_mmap_threshold_mib=0"])
        assert cell_key(other, "acn", "-", "none") == key
    dropout = load_experiment("smoke", ["acn.config.dropout=0.3"])
    assert cell_key(dropout, "acn", "-", "none") != key


def test_fit_on_a_cpu_sets_the_models_threshold(tmp_path, monkeypatch):
    from xmner.pipelines.train import StageConfig, fit

    asked = []
    monkeypatch.setattr(allocator, "set_mmap_threshold", asked.append)

    class Toy(torch.nn.Module):
        config = UMTConfig(cpu_mmap_threshold_mib=7)

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def loss(self, batch):
            return (self.w - batch["x"]).pow(2).mean()

    posts = [{"x": torch.tensor([1.0])}] * 4
    collate = lambda xs: {"x": torch.cat([x["x"] for x in xs])}  # noqa: E731
    cfg = StageConfig(epochs=1, batch_size=2, lr=0.1)
    fit(Toy(), posts, [], collate, cfg, tmp_path, "train", seed=1, lengths=[1] * 4)
    assert asked == [7]
