"""Learning curves from a synthetic runs directory: exact series, best epochs, the figure."""

import json

import pytest

from xmner.eval.curves import Curve, curves, plot_curves, stage_series


def _metrics(run_dir, records):
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _line(stage, epoch, f1=None):
    record = {"stage": stage, "epoch": epoch, "loss": 1.0, "seconds": 2.0 * (epoch + 1)}
    return record | ({"dev_f1": f1} if f1 is not None else {})


@pytest.fixture
def runs(tmp_path):
    _metrics(tmp_path / "en2zh/acn/TGT/seed1", [
        *(_line("pretrain", e, f) for e, f in enumerate([0.1, 0.3, 0.2])),
        *(_line("finetune", e, f) for e, f in enumerate([0.5, 0.7, 0.7, 0.6])),
    ])  # fmt: skip
    # pretraining without selection (pretrain_select = "fixed") records no dev F1
    _metrics(tmp_path / "en2zh/acn/TGT/seed2", [
        *(_line("pretrain", e) for e in range(2)),
        *(_line("finetune", e, f) for e, f in enumerate([0.4, 0.45])),
    ])  # fmt: skip
    (tmp_path / "en2zh/acn/target-only/seed1").mkdir(parents=True)  # no metrics.jsonl
    _metrics(tmp_path / "table2/acn/one/seed1", [_line("train", 0, 0.25), _line("train", 1, 0.5)])
    return tmp_path


RESULTS = [
    {"direction": "en2zh", "model": "acn", "schedule": "TGT", "seed": 1,
     "path": "en2zh/acn/TGT/seed1"},
    {"direction": "en2zh", "model": "acn", "schedule": "TGT", "seed": 2,
     "path": "en2zh/acn/TGT/seed2"},
    {"direction": "en2zh", "model": "acn", "schedule": "-", "seed": 1,
     "path": "en2zh/acn/target-only/seed1"},
    {"table": "table2", "model": "acn", "images": "one", "seed": 1, "path": "table2/acn/one/seed1"},
]  # fmt: skip


def test_series_and_best_epochs_of_every_stage(runs):
    found, notes = curves(runs, RESULTS)
    assert [(c.variant, c.seed, c.stage, c.epochs, c.best_epoch) for c in found] == [
        ("TGT", 1, "pretrain", [1, 2, 3], 2),
        ("TGT", 1, "finetune", [1, 2, 3, 4], 2),  # a tie: the first, as selection keeps
        ("TGT", 2, "finetune", [1, 2], 2),
        ("- images one", 1, "train", [1, 2], 2),
    ]
    assert found[0].dev_f1 == pytest.approx([10.0, 30.0, 20.0])
    assert found[1].dev_f1 == pytest.approx([50.0, 70.0, 70.0, 60.0])
    assert found[3].direction == "en2zh"  # Table 2 is CMNER's
    assert notes == ["en2zh/acn/target-only/seed1: no metrics.jsonl"]


def test_a_resumed_epoch_keeps_its_last_line():
    lines = [_line("train", 0, 0.2), _line("train", 1, 0.3), _line("train", 1, 0.4)]
    assert stage_series(lines) == {"train": ([1, 2], pytest.approx([20.0, 40.0]))}


def test_the_figure_is_written_and_a_cell_without_metrics_is_noted(runs):
    found, notes = curves(runs, RESULTS)
    path = runs / "report" / "curves-en2zh.png"
    plot_curves(found, "en2zh", path, notes)
    png = path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_a_direction_without_curves_still_gets_a_figure(tmp_path):
    path = tmp_path / "curves-zh2en.png"
    other = [Curve("en2zh", "acn", "-", 1, "train", [1], [50.0], 1)]
    plot_curves(other, "zh2en", path, ["zh2en/acn/SRC/seed1: no metrics.jsonl"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
