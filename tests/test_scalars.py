"""TensorBoard event files per stage: written when asked, read back, numerics untouched."""

import json

import pytest

from xmner.pipelines import experiment
from xmner.pipelines.config import load_experiment

pytest.importorskip("tensorboard")


def _cfg(out, data_root, log_with):
    return load_experiment(
        "smoke",
        [f'out="{out}"', f'data.data_dir="{data_root}"', 'directions=["zh2en"]',
         'schedules=["SRC"]', f'log_with="{log_with}"'],
    )  # fmt: skip


def test_each_stage_logs_loss_dev_scores_and_lr_without_changing_results(tmp_path, data_root):
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
