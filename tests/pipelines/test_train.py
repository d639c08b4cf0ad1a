"""The training loop on a toy model whose weight counts Adam's steps: selection, early stopping,
warm-up, resume and prediction order, checked against values worked out by hand."""

from __future__ import annotations

import json
import logging
import math
import random
import re
import types
from dataclasses import asdict
from pathlib import PurePosixPath

import numpy as np
import pytest
import torch

from xmner import manifest
from xmner.pipelines import train
from xmner.pipelines.train import BucketBatchSampler, StageConfig, fit, predict

LR = 0.01
STEPS = 3  # six training examples in batches of two
GOLD = [["B-PER"]] * 4  # four dev posts, one entity each
# correct dev posts per epoch; the others predict "O": P = 1, R = k/4, F1 = 2k / (4 + k)
SCRIPT = [1, 3, 3, 2, 4, 4]
F1 = [2 * k / (4 + k) for k in SCRIPT]


class Toy(torch.nn.Module):
    """One weight with a constant gradient: each Adam step adds the step's learning rate to it,
    so after epoch e (constant rate) it is (e + 1) * STEPS * LR; decoding reads e off it."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.seen: list[list[int]] = []  # training batches, as example ids
        self.decoded: list[list[int]] = []  # prediction batches
        self.grad_enabled: list[bool] = []
        self.script = SCRIPT

    def loss(self, batch: dict) -> torch.Tensor:
        self.seen.append(batch["ids"].tolist())
        return batch["ids"].numel() - self.w.sum()  # loss.item(): batch size minus w

    def epoch(self) -> int:
        return round(self.w.item() / (STEPS * LR)) - 1

    def decode(self, batch: dict) -> list[list[str]]:
        self.decoded.append(batch["ids"].tolist())
        self.grad_enabled.append(torch.is_grad_enabled())
        k = self.script[self.epoch()]
        return [["B-PER"] if i < k else ["O"] for i in batch["ids"].tolist()]


def collate(examples: list[int]) -> dict:
    return {"ids": torch.tensor(examples)}


def _fit(model, run_dir, cfg=None, seed=1, stage="train", **kwargs):
    cfg = cfg or StageConfig(epochs=6, lr=LR, batch_size=2, patience=2)
    return fit(
        model, list(range(6)), list(range(4)), collate, cfg, run_dir, stage, seed,
        lengths=[3, 1, 4, 1, 5, 9], dev_gold=GOLD, **kwargs,
    )  # fmt: skip


def _lines(run_dir) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_selection_keeps_the_best_dev_epoch_and_patience_stops(tmp_path):
    model = Toy()
    result = _fit(model, tmp_path)
    # F1 0.4, 0.857, 0.857 (a tie is no improvement), 0.667: two epochs without gain
    assert (result.best_epoch, result.epochs_run, result.stopped) == (1, 4, "patience")
    assert result.best_dev_f1 == pytest.approx(F1[1])
    assert (result.stage, result.epochs_cap, result.patience) == ("train", 6, 2)
    assert result.seconds >= 0
    assert model.epoch() == 1  # the selected weights are loaded back
    assert model.w.item() == pytest.approx(2 * STEPS * LR, rel=1e-5)
    lines = _lines(tmp_path)
    assert [x["epoch"] for x in lines] == [0, 1, 2, 3]
    assert {x["stage"] for x in lines} == {"train"}
    for epoch, line in enumerate(lines):
        k = SCRIPT[epoch]
        assert line["dev_f1"] == pytest.approx(F1[epoch])
        assert (line["dev_precision"], line["dev_recall"]) == pytest.approx((1.0, k / 4))
        # the mean of (batch size - w before the step) over the epoch's three steps
        before = [(epoch * STEPS + s) * LR for s in range(STEPS)]
        assert line["loss"] == pytest.approx(2 - sum(before) / STEPS, rel=1e-4)
    assert [x["seconds"] for x in lines] == sorted(x["seconds"] for x in lines)
    done = json.loads((tmp_path / "train.done.json").read_text())
    assert done == asdict(result)
    assert manifest.problem(tmp_path / "train.done.json") is None
    assert manifest.problem(tmp_path / "metrics.jsonl") is None
    assert not (tmp_path / "train.state.pt").exists()
    assert model.grad_enabled and not any(model.grad_enabled)  # dev decoded without gradients


def test_without_patience_every_epoch_runs_and_the_best_is_kept(tmp_path):
    model = Toy()
    result = _fit(model, tmp_path, StageConfig(epochs=6, lr=LR, batch_size=2))
    assert (result.best_epoch, result.epochs_run, result.stopped) == (4, 6, "cap")
    assert result.best_dev_f1 == pytest.approx(1.0)
    assert model.epoch() == 4  # epoch 5 ties epoch 4: the earlier one is kept


def test_without_selection_the_last_epoch_is_kept(tmp_path):
    cfg = StageConfig(epochs=3, lr=LR, batch_size=2, patience=1, select=False)
    model = Toy()
    result = _fit(model, tmp_path, cfg)
    assert (result.best_epoch, result.best_dev_f1, result.epochs_run) == (2, -1.0, 3)
    assert model.epoch() == 2 and model.decoded == []  # dev never decoded
    assert all("dev_f1" not in x for x in _lines(tmp_path))
    model = Toy()  # no dev gold: the same
    result = fit(model, list(range(6)), [], collate, cfg, tmp_path / "b", "s", 1, [1] * 6)
    assert (result.best_epoch, result.epochs_run, model.epoch()) == (2, 3, 2)


def test_every_epoch_sees_each_example_once_in_length_buckets(tmp_path):
    model = Toy()
    _fit(model, tmp_path, StageConfig(epochs=2, lr=LR, batch_size=2))
    lengths = [3, 1, 4, 1, 5, 9]
    epochs = [model.seen[:STEPS], model.seen[STEPS:]]
    for batches in epochs:
        assert sorted(i for b in batches for i in b) == list(range(6))
        assert all(lengths[b[0]] >= lengths[b[1]] for b in batches)
    assert epochs[0] != epochs[1]  # the order follows the epoch


def test_warmup_then_linear_decay_moves_the_weight_by_each_steps_rate(tmp_path, monkeypatch):
    # 2 epochs x 3 steps, warm-up half of them: rates 1/3, 2/3, 1, then 3/3, 2/3, 1/3 of LR
    cfg = StageConfig(epochs=2, lr=LR, batch_size=2, warmup=0.5, select=False)
    model, rates = Toy(), []

    class Board:
        def log_epoch(self, record, lr):
            rates.append(lr)

        def close(self):
            rates.append("closed")

    from xmner import scalars

    monkeypatch.setattr(scalars, "writer", lambda *args: Board())
    _fit(model, tmp_path, cfg, log_to=scalars.Target("tensorboard"))
    assert model.w.item() == pytest.approx(4 * LR, rel=1e-5)
    # the rate after each epoch's last step: that of step 3 (1.0), then of step 6 (0)
    assert rates == [pytest.approx(LR), pytest.approx(0.0), "closed"]


def test_scheduler_factors_by_step():
    def factors(warmup, total, steps):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = train._scheduler(opt, StageConfig(warmup=warmup), total)
        return [sched.lr_lambdas[0](s) for s in range(steps)]

    assert factors(0.0, 10, 12) == [1.0] * 12
    assert factors(0.25, 8, 10) == pytest.approx([0.5, 1.0, 1.0, 5 / 6, 4 / 6, 3 / 6, 2 / 6,
                                                  1 / 6, 0.0, 0.0])  # fmt: skip
    # fewer steps than one of warm-up: no warm-up, decay from the first step
    assert factors(0.1, 5, 6) == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2, 0.0])
    assert factors(1.0, 2, 2) == pytest.approx([0.5, 1.0])  # all warm-up
    assert factors(0.5, 2, 2) == pytest.approx([1.0, 1.0])  # one step of each


def test_optimizers_by_name():
    model = torch.nn.Linear(2, 2)
    model.bias.requires_grad_(False)
    for name, kind in (("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)):
        opt = train._optimizer(model, StageConfig(optimizer=name, lr=0.5, weight_decay=0.25))
        assert type(opt) is kind
        group = opt.param_groups[0]
        assert (group["lr"], group["weight_decay"], group["fused"]) == (0.5, 0.25, True)
        assert [id(p) for p in group["params"]] == [id(model.weight)]  # frozen: left out
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'; expected adam or adamw"):
        train._optimizer(model, StageConfig(optimizer="sgd"))
    half = torch.nn.Linear(2, 2).to(torch.float64)
    assert train._optimizer(half, StageConfig()).param_groups[0]["fused"] is True


def test_grad_clip_bounds_the_gradient_before_weight_decay(tmp_path):
    # Adam with L2 decay steps along g + wd w: clipping g (10 -> 0.5) changes the later steps
    class Steep(Toy):
        def loss(self, batch):
            return -10.0 * self.w.sum()

    def by_hand(clip):
        w = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.Adam([w], lr=LR, weight_decay=100.0)
        for _ in range(STEPS):
            opt.zero_grad()
            (-10.0 * w.sum()).backward()
            if clip:
                torch.nn.utils.clip_grad_norm_([w], clip)
            opt.step()
        return w.item()

    for clip in (0.0, 0.5):
        model = Steep()
        cfg = StageConfig(epochs=1, lr=LR, weight_decay=100.0, batch_size=2, select=False,
                          grad_clip=clip)  # fmt: skip
        fit(model, list(range(6)), [], collate, cfg, tmp_path / str(clip), "s", 1, [1] * 6)
        assert model.w.item() == pytest.approx(by_hand(clip), rel=1e-5)
    assert by_hand(0.0) != pytest.approx(by_hand(0.5), rel=1e-2)


def test_a_killed_stage_resumes_to_the_uninterrupted_result(tmp_path):
    whole = Toy()
    expected = _fit(whole, tmp_path / "whole")

    class Killed(Exception):
        pass

    def kill_after(epoch):
        def hook(e):
            if e == epoch:
                raise Killed

        return hook

    first = Toy()
    with pytest.raises(Killed):
        _fit(first, tmp_path / "cut", on_epoch_end=kill_after(1))
    assert (tmp_path / "cut" / "train.state.pt").exists()
    with pytest.raises(ValueError, match="saved for another seed or stage; delete it"):
        _fit(Toy(), tmp_path / "cut", seed=2)
    other = tmp_path / "cut" / "other.state.pt"  # the state of stage "train" under another name
    other.write_bytes((tmp_path / "cut" / "train.state.pt").read_bytes())
    manifest.record(other)
    with pytest.raises(ValueError, match="saved for another seed or stage"):
        _fit(Toy(), tmp_path / "cut", stage="other")
    again = Toy()
    result = _fit(again, tmp_path / "cut")
    assert asdict(result) | {"seconds": 0} == asdict(expected) | {"seconds": 0}
    assert again.seen == whole.seen[2 * STEPS :]  # epochs 2 and 3, in the same batches
    assert again.w.item() == pytest.approx(whole.w.item())
    strip = [{k: v for k, v in x.items() if k != "seconds"} for x in _lines(tmp_path / "whole")]
    assert [{k: v for k, v in x.items() if k != "seconds"} for x in _lines(tmp_path / "cut")] \
        == strip  # fmt: skip
    # finished: a rerun trains nothing and loads the selected weights
    fresh = Toy()
    assert _fit(fresh, tmp_path / "cut") == result
    assert fresh.seen == [] and fresh.epoch() == 1


def test_a_stage_killed_after_its_last_patient_epoch_stops_at_once(tmp_path):
    class Killed(Exception):
        pass

    def hook(epoch):
        if epoch == 3:  # the epoch after which patience stops it
            raise Killed

    with pytest.raises(Killed):
        _fit(Toy(), tmp_path, on_epoch_end=hook)
    model = Toy()
    result = _fit(model, tmp_path)
    assert model.seen == [] and (result.epochs_run, result.stopped) == (4, "patience")
    assert result.best_epoch == 1 and model.epoch() == 1


def test_a_restarted_stage_drops_its_old_lines_only(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"stage": "pretrain", "epoch": 0}\n{"stage": "train", "epoch": 7}\n{"sta')
    _fit(Toy(), tmp_path, StageConfig(epochs=1, lr=LR, batch_size=2))
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == {"stage": "pretrain", "epoch": 0}
    assert [json.loads(x)["epoch"] for x in lines[1:]] == [0]


def test_progress_lines_name_the_stage_its_size_and_best_epoch(tmp_path, capsys):
    _fit(Toy(), tmp_path, progress=True, name="cell")
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "cell · train · started (6 epochs of 3 batches)"
    assert err[1].startswith("cell · train epoch 1/6 · loss ")
    assert err[-1].startswith("cell · train · 12/18 batches · done in ")
    assert err[-1].endswith(" · best dev F1 85.7 @ 2")
    _fit(Toy(), tmp_path / "quiet")
    assert capsys.readouterr().err == ""


def test_resumed_progress_says_where_it_resumes(tmp_path, capsys):
    def hook(epoch):
        if epoch == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _fit(Toy(), tmp_path, on_epoch_end=hook)
    capsys.readouterr()
    _fit(Toy(), tmp_path, progress=True)
    err = capsys.readouterr().err.splitlines()
    started = "started (6 epochs of 3 batches, resuming at epoch 2)"
    assert err[0] == f"{tmp_path.name} · train · {started}"
    assert err[1].startswith(f"{tmp_path.name} · train epoch 2/6 · ")
    # the count goes on from the 3 batches of the epoch before the interruption
    assert err[-1].startswith(f"{tmp_path.name} · train · 12/18 batches · done in ")


def test_predict_decodes_longest_first_and_answers_in_input_order():
    lengths = [2, 7, 1, 7, 5]
    model = Toy()
    model.w.data.fill_(STEPS * LR)  # epoch 0: ids below SCRIPT[0] = 1 are "B-PER"
    model.train()
    out = predict(model, list(range(5)), collate, batch_size=2, lengths=lengths)
    assert out == [["B-PER"], ["O"], ["O"], ["O"], ["O"]]
    assert model.decoded == [[1, 3], [4, 0], [2]]
    assert model.training and model.grad_enabled == [False] * 3
    model.eval()
    model.decoded = []
    assert predict(model, list(range(5)), collate, batch_size=3) == out
    assert model.decoded == [[0, 1, 2], [3, 4]] and not model.training


def test_buckets_cover_every_example_once_per_epoch_by_seed_and_epoch():
    lengths = [(i * 7) % 23 for i in range(23)]
    sampler = BucketBatchSampler(lengths, batch_size=3, seed=5, pool=2)
    assert len(sampler) == 8 and sampler.batch_size is None and sampler.size == 3
    orders = []
    for epoch in (0, 1, 0):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        orders.append(batches)
        assert sorted(i for b in batches for i in b) == list(range(23))
        assert sorted(len(b) for b in batches) == [2] + [3] * 7  # pools of 6: 6, 6, 6, 5
        for b in batches:
            assert [lengths[i] for i in b] == sorted((lengths[i] for i in b), reverse=True)
    assert orders[0] == orders[2] != orders[1]
    other = BucketBatchSampler(lengths, batch_size=3, seed=6, pool=2)
    assert list(other) != orders[0]


def test_buckets_sort_within_pools_of_fifty_batches():
    def neighbours(n):
        """Whether every batch pairs neighbours in the descending order of all lengths."""
        batches = list(BucketBatchSampler(list(range(n)), batch_size=2, seed=1))
        return all(sorted(b) in ([n - 1 - 2 * j - 1, n - 1 - 2 * j] for j in range(n // 2))
                   for b in batches)  # fmt: skip

    assert neighbours(100)  # one pool of 50 batches: sorted as a whole
    assert not neighbours(102)  # the last two examples make a pool of their own
    assert math.ceil(101 / 2) == len(BucketBatchSampler([1] * 101, 2, 1))


def test_weights_round_trip_and_damage_is_named(tmp_path):
    path = tmp_path / "w.pt"
    train.save_weights(path, {"a": torch.arange(3.0)})
    assert torch.equal(train.load_weights(path)["a"], torch.arange(3.0))
    path.write_bytes(b"not a checkpoint")
    manifest.record(path)
    with pytest.raises(ValueError, match=r"w\.pt: not a readable weights file \(\w+\)"):
        train.load_weights(path)
    path.write_bytes(b"altered")
    with pytest.raises(manifest.DamagedFile):
        train.load_weights(path)


def test_truncate_cuts_only_a_longer_file(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text("abcdef")
    train._truncate(path, 6)
    assert manifest.problem(path) is not None  # untouched: never recorded
    train._truncate(path, 4)
    assert path.read_text() == "abcd" and manifest.problem(path) is None
    train._truncate(tmp_path / "missing", 0)
    assert not (tmp_path / "missing").exists()


def test_drop_stage_lines_keeps_other_stages(tmp_path):
    path = tmp_path / "metrics.jsonl"
    train._drop_stage_lines(path, "a")  # no file: nothing to do
    assert not path.exists()
    path.write_text('{"stage": "b"}\n{"stage": "c"}\n')
    train._drop_stage_lines(path, "a")
    assert manifest.problem(path) is not None  # nothing dropped: not rewritten nor recorded
    path.write_text('{"stage": "a"}\n{"stage": "b"}\n{"epoch": 1}\n{"stage": "c"}\n{"sta')
    train._drop_stage_lines(path, "a")
    assert path.read_text() == '{"stage": "b"}\n{"stage": "c"}\n'
    assert manifest.problem(path) is None
    assert train._stage_of('{"stage": "x"}') == "x" and train._stage_of("{") is None


def test_log_lines_name_the_run_stage_epoch_and_why_it_stops(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="xmner.pipelines.train")

    def hook(epoch):
        if epoch == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _fit(Toy(), tmp_path, on_epoch_end=hook)
    _fit(Toy(), tmp_path)
    _fit(Toy(), tmp_path)
    lines = [r.getMessage() for r in caplog.records if r.name == "xmner.pipelines.train"]
    record = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert lines[0] == f"{tmp_path} train epoch 0: {record}"
    assert lines[1] == f"{tmp_path}: resuming stage train at epoch 1"
    assert [x[: len(f"{tmp_path} train epoch 1: ")] for x in lines[2:5]] == [
        f"{tmp_path} train epoch {e}: " for e in (1, 2, 3)
    ]
    assert lines[5:] == [
        f"{tmp_path} train: no dev improvement for 2 epochs; stopping",
        f"{tmp_path}: stage train already finished; loaded its weights",
    ]


def test_a_stage_logs_its_scalars_from_the_epoch_it_resumes_at(tmp_path, monkeypatch):
    from xmner import scalars

    opened, logged = [], []

    class Board:
        def log_epoch(self, record, lr):
            logged.append((record["epoch"], record["dev_f1"], lr))

        def close(self):
            logged.append("closed")

    def writer(*args):
        opened.append(args)
        return Board()

    monkeypatch.setattr(scalars, "writer", writer)
    target = scalars.Target("tensorboard")

    def hook(epoch):
        if epoch == 0:
            raise KeyboardInterrupt

    cfg = StageConfig(epochs=6, lr=LR, batch_size=2, patience=2)
    with pytest.raises(KeyboardInterrupt):
        _fit(Toy(), tmp_path / "a" / "b", cfg, on_epoch_end=hook, log_to=target)  # new parents
    _fit(Toy(), tmp_path / "a" / "b", cfg, log_to=target)
    assert opened == [(target, tmp_path / "a" / "b", "train", s, asdict(cfg)) for s in (0, 1)]
    assert logged == [(e, pytest.approx(F1[e]), pytest.approx(LR)) for e in range(4)] + ["closed"]


def test_seconds_add_up_each_epochs_time(tmp_path, monkeypatch):
    ticks = iter(0.125 * i for i in range(1000))  # each reading of the clock: 1/8 s later
    monkeypatch.setattr(train, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks)))
    result = _fit(Toy(), tmp_path)
    # an epoch reads the clock twice: 0.125 s each, summed over epochs, rounded to 2 decimals
    assert [x["seconds"] for x in _lines(tmp_path)] == [0.12, 0.25, 0.38, 0.5]
    assert result.seconds == 0.5
    ticks = iter(0.0625 * i for i in range(1000))
    monkeypatch.setattr(train, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks)))
    cfg = StageConfig(epochs=3, lr=LR, batch_size=2, select=False)
    assert _fit(Toy(), tmp_path / "c", cfg).seconds == 0.19  # 0.1875, the stage's own rounding
    ticks = iter(0.0625 * i for i in range(1000))
    assert _fit(Toy(), tmp_path / "b").seconds == 0.25 and _lines(tmp_path / "b")[0]["seconds"] \
        == 0.06  # fmt: skip


def test_one_batch_warm_up_and_its_loss(tmp_path):
    # one step in all: warm-up over 1 step (rate 1/1), the loss the mean over that one batch
    cfg = StageConfig(epochs=1, lr=LR, batch_size=2, warmup=1.0, select=False)
    model = Toy()
    fit(model, [0, 1], [], collate, cfg, tmp_path, "s", 1, [1, 1])
    assert model.w.item() == pytest.approx(LR, rel=1e-5)
    assert _lines(tmp_path)[0]["loss"] == pytest.approx(2.0)


def test_training_seeds_python_numpy_and_torch_from_the_seed(tmp_path):
    class Drawing(Toy):
        def loss(self, batch):
            if not self.seen:
                self.draws = (random.random(), float(np.random.rand()), torch.rand(1).item())
            return super().loss(batch)

    cfg = StageConfig(epochs=1, lr=LR, batch_size=2, select=False)
    draws = []
    for run in ("a", "b"):
        random.seed(run)  # other states before each run
        np.random.seed(len(run) + len(draws))
        torch.manual_seed(len(draws) + 5)
        model = Drawing()
        fit(model, list(range(6)), [], collate, cfg, tmp_path / run, "s", 3, [1] * 6)
        draws.append(model.draws)
    assert draws[0] == draws[1]


def test_dev_is_decoded_longest_first(tmp_path):
    model = Toy()
    cfg = StageConfig(epochs=1, lr=LR, batch_size=2, eval_batch_size=2)
    fit(model, list(range(6)), list(range(4)), collate, cfg, tmp_path, "s", 1, [1] * 6,
        dev_gold=GOLD, dev_lengths=[1, 4, 2, 3])  # fmt: skip
    assert model.decoded == [[1, 3], [2, 0]]


def test_a_stage_that_never_scores_above_zero_says_so(tmp_path, capsys):
    model = Toy()
    model.script = [0] * 6
    result = _fit(model, tmp_path, progress=True, name="z")
    assert (result.best_epoch, result.best_dev_f1, result.epochs_run) == (0, 0.0, 3)
    assert capsys.readouterr().err.splitlines()[-1].endswith(" · best dev F1 0.0 @ 1")
    cfg = StageConfig(epochs=1, lr=LR, batch_size=2, select=False)
    fit(Toy(), [0, 1], [], collate, cfg, tmp_path / "n", "s", 1, [1, 1], progress=True, name="n")
    assert re.fullmatch(r"n · s · 1/1 batches · done in [^·]+", capsys.readouterr().err
                        .splitlines()[-1])  # fmt: skip


def test_under_a_launch_the_loss_is_reduced_and_each_process_keeps_its_generators(
    tmp_path, monkeypatch
):
    from xmner.pipelines import distributed
    from xmner.pipelines.resume import rng_state

    single = Toy()
    _fit(single, tmp_path / "single", StageConfig(epochs=2, lr=LR, batch_size=2))
    state = torch.load(tmp_path / "single" / "train.best.pt", weights_only=True)
    assert set(state) == {"w"}
    monkeypatch.setattr(distributed, "active", lambda: True)  # a launch of one process
    saved = []

    def hook(epoch):
        saved.append(torch.load(tmp_path / "launch" / "train.state.pt", weights_only=True))
        saved[-1]["now"] = rng_state()

    _fit(Toy(), tmp_path / "launch", StageConfig(epochs=2, lr=LR, batch_size=2),
         on_epoch_end=hook)  # fmt: skip
    strip = [{k: v for k, v in x.items() if k != "seconds"} for x in _lines(tmp_path / "single")]
    assert [{k: v for k, v in x.items() if k != "seconds"} for x in _lines(tmp_path / "launch")] \
        == strip  # the same mean loss, exactly: the sums reduced in float64  # fmt: skip
    for s in saved:
        assert len(s["rng_ranks"]) == 1
        assert torch.equal(s["rng_ranks"][0]["torch"], s["now"]["torch"])
        assert torch.equal(s["rng_ranks"][0]["python"], s["now"]["python"])
    monkeypatch.undo()
    cut = []

    def kill(epoch):
        cut.append(torch.load(tmp_path / "one" / "train.state.pt", weights_only=True))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _fit(Toy(), tmp_path / "one", on_epoch_end=kill)
    assert "rng_ranks" not in cut[0] and "rng" in cut[0]  # one process: the main's only


def test_predict_batches_of_sixty_four_by_default():
    model = Toy()
    model.w.data.fill_(STEPS * LR)
    predict(model, list(range(65)), collate)
    assert [len(b) for b in model.decoded] == [64, 1]


def test_optimizer_is_not_fused_for_complex_parameters():
    model = torch.nn.Module()
    model.z = torch.nn.Parameter(torch.zeros(2, dtype=torch.complex64))
    assert train._optimizer(model, StageConfig()).param_groups[0]["fused"] is False


def test_pickled_objects_are_refused_not_loaded(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"a": PurePosixPath("x")}, path)
    manifest.record(path)
    with pytest.raises(ValueError, match=r"w\.pt: not a readable weights file \(UnpicklingError\)"):
        train.load_weights(path)


def test_a_sampler_reads_epoch_zero_until_told_otherwise():
    sampler = BucketBatchSampler(list(range(20)), batch_size=3, seed=2, pool=1)
    first = list(sampler)
    sampler.set_epoch(0)
    assert list(sampler) == first


def test_without_cuda_mixed_precision_is_off(tmp_path, monkeypatch):
    # bf16 autocast works on CPUs too; the stage asks for it only on a GPU
    class Matmul(Toy):
        def loss(self, batch):
            self.seen.append(batch["ids"].tolist())
            third = torch.full((1, 1), 1 / 3)
            return batch["ids"].numel() - (self.w.view(1, 1) @ third).sum()

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    losses = []
    for mixed in ("no", "bf16"):
        cfg = StageConfig(epochs=1, lr=LR, batch_size=2, select=False, mixed_precision=mixed)
        fit(Matmul(), list(range(6)), [], collate, cfg, tmp_path / mixed, "s", 1, [1] * 6)
        losses.append(_lines(tmp_path / mixed)[0]["loss"])
    assert losses[1] == losses[0] == pytest.approx(2 - LR / 3, rel=1e-6)
