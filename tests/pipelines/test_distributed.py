"""Data-parallel cells under ``accelerate launch`` (2 CPU processes, gloo) and GPUs per worker."""

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

import xmner
from xmner.data.corpora import get_spec, load_split
from xmner.data.corpus import read_corpus
from xmner.eval.metrics import score
from xmner.models import checkpoint
from xmner.pipelines import artefacts, devices, launcher
from xmner.pipelines.train import BucketBatchSampler, predict

POSTS = 16  # a split, in the launched run


def test_sharded_buckets_deal_every_batch_once_in_order():
    from accelerate.data_loader import BatchSamplerShard

    sampler = BucketBatchSampler([(i * 7) % 23 for i in range(37)], batch_size=4, seed=3, pool=2)
    short_inside = False  # the one short batch somewhere in a round, not at the end of the epoch
    for epoch in range(6):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        shards = [BatchSamplerShard(sampler, num_processes=2, process_index=r) for r in (0, 1)]
        for shard in shards:
            shard.batch_sampler.set_epoch(epoch)
        dealt = [list(s) for s in shards]
        assert len(dealt[0]) == len(dealt[1]) == 5  # same number of steps in each process
        interleaved = [b for pair in zip(*dealt) for b in pair]
        assert interleaved[: len(batches)] == batches  # each batch once, in the sampler's order
        short = next(i for i, b in enumerate(batches) if len(b) < 4)
        short_inside |= short % 2 == 1 and short < len(batches) - 1
    assert short_inside  # the case a fixed batch size made accelerate drop a whole round


def test_workers_get_gpus_round_robin():
    gpus = ["0", "1", "2"]
    assert [devices.gpu_for_worker(k, gpus) for k in range(7)] == list("0120120")
    assert devices.gpu_for_worker(3, ["GPU-a"]) is None  # one GPU: shared, left as it is
    assert devices.gpu_for_worker(0, []) is None


def test_visible_gpus_follow_cuda_visible_devices(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert devices.visible_gpus() == ["0", "1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5, GPU-1f2e")
    assert devices.visible_gpus() == ["5", "GPU-1f2e"]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert devices.visible_gpus() == []


def test_each_worker_claims_the_next_gpu(monkeypatch):
    counter = multiprocessing.get_context("spawn").Value("i", 0)
    seen = []
    for _ in range(3):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
        assert devices.claim_gpu(counter, ["4", "6"]) is not None
        seen.append(os.environ["CUDA_VISIBLE_DEVICES"])
    assert seen == ["4", "6", "4"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4")
    assert devices.claim_gpu(counter, ["4"]) is None
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "4" and counter.value == 4


def _launch(out: Path, data_root: Path, by: str) -> subprocess.CompletedProcess:
    """``xmner train`` on 2 CPU processes (torchrun; gloo, no CUDA), launched ``by``:

    ``accelerate`` (``accelerate launch -m xmner.cli train ...``) or ``xmner`` (``xmner train
    --launcher accelerate --num-processes 2 ...``, which runs the former itself).
    """
    src = str(Path(xmner.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
        "CUDA_VISIBLE_DEVICES": "",  # CPUs even on a GPU machine: gloo
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    train = [
        "train", "--preset", "smoke", "--out", str(out), "--data-dir", str(data_root),
        "--direction", "en2zh", "--model", "acn", "--schedule", "SRC",
        "--set", 'embed.mode="random"', "--set", f"data.max_posts={POSTS}",
    ]  # fmt: skip
    if by == "xmner":
        command = [sys.executable, "-m", "xmner.cli", *train, "--launcher", "accelerate"]
        command += ["--num-processes", "2"]
    else:
        command = launcher.launch_command(train, 2, launcher.free_port())
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def _snapshot(run_dir: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in run_dir.iterdir()
        if p.is_file() and p.name != ".lock"
    }


@pytest.mark.slow  # four launched processes, each importing torch: make test-slow, CI
def test_two_processes_train_a_cell_once_and_resume(tmp_path, data_root):
    out = tmp_path / "runs"
    run = _launch(out, data_root, by="xmner")
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr.count("launching 2 processes with accelerate") == 1  # the children did not
    assert run.stdout.count("plan: preset smoke") == 1  # the main process alone prints
    assert run.stdout.count("en2zh acn SRC seed 1: P ") == 1
    run_dir = out / "en2zh" / "acn" / "SRC" / "seed1"
    results = json.loads((run_dir / "results.json").read_text())
    env = json.loads((out / "environment.json").read_text())
    assert env["processes"] == 2  # recorded by a launched process: one per rank under torchrun

    # every file written once: no line of any manifest twice (two writers would record twins)
    for manifest in out.rglob("MANIFEST.jsonl"):
        lines = manifest.read_text().splitlines()
        assert len(lines) == len(set(lines)), manifest
    assert not list(out.rglob("*.tmp"))
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [(m["stage"], m["epoch"]) for m in metrics] == [
        ("pretrain", 0), ("pretrain", 1), ("finetune", 0), ("finetune", 1),
    ]  # fmt: skip
    for stage in ("pretrain", "finetune"):
        assert len(list((run_dir / "tensorboard" / stage).iterdir())) == 1
        assert not (run_dir / f"{stage}.state.pt").exists()

    # the reported F1 is what the saved best model gives, decoded here in one process
    raw = load_split("cmner", "test", data_root)[:POSTS]
    test = artefacts.unified(raw)
    model = checkpoint.load(run_dir / "best.pt")
    pred = predict(
        model, [(p, None) for p in test], model.collator(), 64, [len(p.tokens) for p in test]
    )
    s = score([p.tags for p in test], pred)
    assert (results["precision"], results["recall"], results["f1"]) == (s.precision, s.recall, s.f1)
    assert results["test_posts"] == POSTS
    written = read_corpus(run_dir / "predictions.txt", get_spec("cmner").fmt)
    assert [p.id for p in written] == [p.id for p in raw]  # one per test post, in order
    assert [p.tags for p in written] == pred  # CMNER's own type names are the unified ones

    # the same command again: the cell is done and nothing in it is rewritten
    before = _snapshot(run_dir)
    again = _launch(out, data_root, by="accelerate")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "en2zh/acn/SRC seed 1  done" in again.stdout
    assert _snapshot(run_dir) == before


@pytest.mark.parametrize("name", ["WORLD_SIZE", "PMI_SIZE"])
def test_a_launch_is_recognised_from_its_environment(monkeypatch, name):
    from xmner.pipelines import distributed

    for var in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    assert not distributed.active() and distributed.is_main()
    assert distributed.from_main(lambda: 7) == 7 and distributed.gather([1, 2]) == [1, 2]
    monkeypatch.setenv(name, "4")
    assert distributed.world_size() == 4 and distributed.active()


def test_each_process_resumes_from_its_own_generators(monkeypatch):
    from xmner.pipelines import distributed, train

    state = {"rng": "main's", "rng_ranks": ["rank 0's", "rank 1's"]}
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    monkeypatch.setattr(distributed, "rank", lambda: 1)
    assert train._own_rng(state) == "rank 1's"
    monkeypatch.setattr(distributed, "world_size", lambda: 4)  # another launch size
    assert train._own_rng(state) == "main's"
    assert train._own_rng({"rng": "main's"}) == "main's"  # a one-process state


def test_a_launched_process_does_not_launch_again(monkeypatch):
    from xmner.cli import build_parser

    for var in (launcher.LAUNCHED_ENV, "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    argv = ["train", "--direction", "en2zh", "--model", "acn", "--schedule", "-"]
    args = build_parser().parse_args([*argv, "--launcher", "accelerate"])
    assert launcher.wanted(args) and args.num_processes is None
    assert not launcher.wanted(build_parser().parse_args(argv))  # --launcher none, the default
    monkeypatch.setenv(launcher.LAUNCHED_ENV, "accelerate")  # what the launch's processes get
    assert not launcher.wanted(args)
    monkeypatch.delenv(launcher.LAUNCHED_ENV)
    monkeypatch.setenv("WORLD_SIZE", "1")  # under accelerate launch or torchrun by hand
    assert not launcher.wanted(args)
    assert launcher.launch_env()[launcher.LAUNCHED_ENV] == "accelerate"


def test_the_launch_runs_the_same_command_on_n_processes(monkeypatch):
    argv = ["-v", "reproduce", "--preset", "smoke", "--launcher", "accelerate"]
    command = launcher.launch_command(argv, 3, 29123)
    assert command[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert command[command.index("--num_processes") + 1] == "3"
    assert command[command.index("--main_process_port") + 1] == "29123"
    assert command[-len(argv) - 2 :] == ["-m", "xmner.cli", *argv]
    monkeypatch.setattr(devices, "visible_gpus", lambda: ["0", "1", "3"])
    assert launcher.default_processes() == 3  # one per GPU
    monkeypatch.setattr(devices, "visible_gpus", lambda: [])
    assert launcher.default_processes() == launcher.CPU_PROCESSES


def test_a_dry_run_with_a_launcher_prints_the_plan_here(monkeypatch, capsys, tmp_path, data_root):
    from xmner.cli import main

    monkeypatch.delenv(launcher.LAUNCHED_ENV, raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(launcher, "relaunch", lambda *a: pytest.fail("launched on --dry-run"))
    argv = ["train", "--preset", "smoke", "--out", str(tmp_path), "--data-dir", str(data_root)]
    argv += ["--direction", "en2zh", "--model", "acn", "--schedule", "-", "--dry-run"]
    assert main([*argv, "--launcher", "accelerate"]) == 0
    assert "plan: preset smoke" in capsys.readouterr().out
