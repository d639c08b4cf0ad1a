"""Per-stage scalars (TensorBoard event files, MLflow runs): written when asked, read back."""

import json

import pytest

from xmner import scalars
from xmner.pipelines import experiment
from xmner.pipelines.config import load_experiment


def _cfg(out, data_root, log_with):
    return load_experiment(
        "smoke",
        [f'out="{out}"', f'data.data_dir="{data_root}"', 'directions=["zh2en"]',
         'schedules=["SRC"]', f'log_with="{log_with}"'],
    )  # fmt: skip


def test_each_stage_logs_loss_dev_scores_and_lr_without_changing_results(tmp_path, data_root):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logged, _ = experiment.run_experiment(_cfg(tmp_path / "tb", data_root, "tensorboard"))
    plain, _ = experiment.run_experiment(_cfg(tmp_path / "none", data_root, "none"))
    run_dir = tmp_path / "tb" / "zh2en" / "acn" / "SRC" / "seed1"
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for stage in ("pretrain", "finetune"):
        assert list((run_dir / "tensorboard" / stage).glob("events.out.tfevents.*"))
        events = EventAccumulator(str(run_dir / "tensorboard" / stage))
        events.Reload()
        assert {"loss", "dev/precision", "dev/recall", "dev/f1", "lr"} <= set(
            events.Tags()["scalars"]
        )
        f1 = [(e.step, e.value) for e in events.Scalars("dev/f1")]
        expected = [(m["epoch"] + 1, m["dev_f1"]) for m in metrics if m["stage"] == stage]
        assert [s for s, _ in f1] == [s for s, _ in expected] == [1, 2]
        assert [v for _, v in f1] == pytest.approx([v for _, v in expected], abs=1e-6)
    assert not (tmp_path / "none" / "zh2en" / "acn" / "SRC" / "seed1" / "tensorboard").exists()
    strip = ("seconds", "stages")  # wall times (the stages' too) differ, nothing else may
    assert [{k: v for k, v in r.items() if k not in strip} for r in logged] == [
        {k: v for k, v in r.items() if k not in strip} for r in plain
    ]  # fingerprints of the weights included: logging changes no number
    assert [s["best_dev_f1"] for r in logged for s in r["stages"]] == [
        s["best_dev_f1"] for r in plain for s in r["stages"]
    ]


def test_unknown_log_with_is_an_error():
    with pytest.raises(ValueError, match="log_with: expected one of"):
        load_experiment("smoke", ['log_with="wandb"'])


def _no_file_store_opt_in(monkeypatch):
    """Unset MLFLOW_ALLOW_FILE_STORE (the logger sets it) and restore it after the test."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "false")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def test_mlflow_logs_a_run_per_stage_in_the_runs_directory(tmp_path, data_root, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    _no_file_store_opt_in(monkeypatch)
    cfg = _cfg(tmp_path / "ml", data_root, "mlflow")
    experiment.run_experiment(cfg)
    run_dir = tmp_path / "ml" / "zh2en" / "acn" / "SRC" / "seed1"
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    client = MlflowClient(f"file:{tmp_path / 'ml' / 'mlruns'}")
    exp = client.get_experiment_by_name("smoke")
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    assert set(runs) == {"zh2en/acn/SRC seed 1 · pretrain", "zh2en/acn/SRC seed 1 · finetune"}
    for stage in ("pretrain", "finetune"):
        run = runs[f"zh2en/acn/SRC seed 1 · {stage}"]
        assert run.info.status == "FINISHED"
        assert json.loads((run_dir / f"{stage}.mlflow.json").read_text())["run_id"] == (
            run.info.run_id
        )
        tags = {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}
        assert tags == {"direction": "zh2en", "model": "acn", "schedule": "SRC", "seed": "1",
                        "images": "none", "stage": stage}  # fmt: skip
        assert run.data.params["epochs"] == str(getattr(cfg.acn, stage).epochs)
        assert run.data.params["lr"] == str(getattr(cfg.acn, stage).lr)
        assert {"loss", "dev/precision", "dev/recall", "dev/f1", "lr"} <= set(run.data.metrics)
        history = client.get_metric_history(run.info.run_id, "dev/f1")
        expected = [(m["epoch"] + 1, m["dev_f1"]) for m in metrics if m["stage"] == stage]
        assert [(h.step, h.value) for h in history] == expected
        assert [s for s, _ in expected] == [1, 2]
    assert not (run_dir / "tensorboard").exists()


def test_mlflow_resume_continues_the_run_without_logging_an_epoch_twice(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    _no_file_store_opt_in(monkeypatch)
    target = scalars.Target("mlflow", str(tmp_path), "smoke", "en2zh/acn/TGT seed 1", {"seed": "1"})
    record = lambda e: {"stage": "pretrain", "epoch": e, "loss": 1.0 / (e + 1), "dev_f1": e / 10}  # noqa: E731
    first = scalars.writer(target, tmp_path, "pretrain", 0, {"lr": 0.001})
    for epoch in (0, 1):
        first.log_epoch(record(epoch), 0.001)  # killed after epoch 1 (0-based) was logged
    resumed = scalars.writer(target, tmp_path, "pretrain", 1, {"lr": 0.001})  # state at epoch 0
    for epoch in (1, 2):
        resumed.log_epoch(record(epoch), 0.0005)
    resumed.close()
    client = MlflowClient(scalars.tracking_uri(tmp_path))
    assert resumed.run_id == first.run_id
    history = client.get_metric_history(first.run_id, "dev/f1")
    assert [(h.step, h.value) for h in history] == [(1, 0.0), (2, 0.1), (3, 0.2)]
    assert [h.value for h in client.get_metric_history(first.run_id, "lr")] == [0.001] * 2 + [
        0.0005
    ]
    restarted = scalars.writer(target, tmp_path, "pretrain", 0, {"lr": 0.002})  # from scratch
    assert restarted.run_id != first.run_id
    assert client.get_run(first.run_id).info.lifecycle_stage == "deleted"
    exp = client.get_experiment_by_name("smoke")
    assert [r.info.run_id for r in client.search_runs([exp.experiment_id])] == [restarted.run_id]
    assert client.get_run(restarted.run_id).data.params == {"lr": "0.002"}
    # the cell recomputed (its inputs changed): its runs go with the files that held their ids
    assert scalars.discard(tmp_path) == 1
    assert client.get_run(restarted.run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([exp.experiment_id]) == []


def test_mlflow_without_the_package_names_the_extra(monkeypatch):
    monkeypatch.setattr(scalars, "available", lambda package="tensorboard": package != "mlflow")
    with pytest.raises(ValueError, match=r"pip install 'xmner\[mlflow\]'"):
        load_experiment("smoke", ['log_with="mlflow"'])
