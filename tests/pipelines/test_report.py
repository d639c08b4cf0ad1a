"""Tables 2-4, stages, significance and the F1 chart from synthetic run directories."""

import json
from pathlib import Path

import pytest

from xmner import manifest
from xmner.data.corpus import Post, write_corpus
from xmner.eval.reference import reference_rows
from xmner.pipelines.report import collect_results, collect_table2, write_report

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "paper" / "cmner-paper-tables.json"
GOLD_TAGS = [["B-PER", "O"], ["B-LOC", "I-LOC"], ["O", "B-ORG"]] * 30
WEAK = [["O", "O"], ["B-LOC", "I-LOC"], ["O", "O"]] * 30


def _corpus(tags, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_corpus([Post(str(i), ["w"] * len(t), t) for i, t in enumerate(tags)], path, "twitter")
    manifest.record(path)  # as a run records what it wrote


def _stage(stage, best, run, stopped, train=("cmner:train",)):
    return {
        "stage": stage,
        "best_epoch": best,
        "best_dev_f1": 0.5,
        "epochs_run": run,
        "epochs_cap": 30 if stage != "pretrain" else 20,
        "patience": 3,
        "stopped": stopped,
        "seconds": 1.0,
        "train": list(train),
        "posts": 90,
        "select": "cmner:dev",
    }


def _run(root, direction, model, schedule, seed, f1, tags, gold="data/cmner-test.txt", **extra):
    sched = "target-only" if schedule == "-" else schedule
    run = root / direction / model / sched / f"seed{seed}"
    _corpus(tags, run / "predictions.txt")
    if schedule == "-":
        stages = [_stage("train", 5, 9, "patience")]
    else:
        stages = [
            _stage("pretrain", 3, 7, "patience", ["twitter2015:train->zh"]),
            _stage("finetune", 29, 30, "cap" if seed == 2 else "patience"),
        ]
    result = {
        "direction": direction,
        "model": model,
        "schedule": schedule,
        "seed": seed,
        "images": "all",
        "precision": f1,
        "recall": f1,
        "f1": f1,
        "per_type": {},
        "test": "cmner:test",
        "test_posts": len(tags),
        "gold_test": str(gold),
        "stages": stages,
        **extra,
    }
    (run / "results.json").write_text(json.dumps(result))
    manifest.record(run / "results.json")
    return run


def _table2_run(root, model, images, seed, f1, per):
    run = root / "table2" / model / images / f"seed{seed}"
    run.mkdir(parents=True)
    per_type = {t: {"precision": v, "recall": v, "f1": v, "support": 10} for t, v in per.items()}
    result = {"table": "table2", "model": model, "images": images, "seed": seed}
    result |= {"precision": f1, "recall": f1, "f1": f1, "per_type": per_type}
    (run / "results.json").write_text(json.dumps(result))
    manifest.record(run / "results.json")


@pytest.fixture
def runs(tmp_path):
    _corpus(GOLD_TAGS, tmp_path / "data" / "cmner-test.txt")
    for seed, (f1_base, f1_mix) in enumerate([(0.40, 0.70), (0.42, 0.72), (0.44, 0.74)], 1):
        _run(tmp_path, "en2zh", "acn", "-", seed, f1_base, WEAK)
        _run(tmp_path, "en2zh", "acn", "SRC&TGT", seed, f1_mix, GOLD_TAGS)
    return tmp_path


def _row(md, model, variant):
    return next(x for x in md.splitlines() if x.startswith(f"| {model} | {variant} |"))


def test_main_table_ours_beside_paper_with_delta_and_protocol(runs):
    report = write_report(runs, bootstrap_samples=200)
    table3 = (runs / "report" / "table3.md").read_text()
    # mean ± sample std of 40, 42, 44; paper ACN `-` is 76.03 / 73.07 / 74.52
    assert _row(table3, "ACN", "-") == (
        "| ACN | - | 42.00 ± 2.00 | 42.00 ± 2.00 | 42.00 ± 2.00 | 76.03 | 73.07 | 74.52 | -32.52 |"
    )
    assert _row(table3, "ACN", "SRC&TGT").endswith("| 79.43 | 74.21 | 76.73 | -4.73 |")
    protocol = next(x for x in table3.splitlines() if x.startswith("Protocol:"))
    assert protocol.startswith(
        "Protocol: test set of cmner (cmner:test, 90 posts); seqeval default"
    )
    assert "early-stops on cmner:dev F1 (patience 3, cap 30 epochs)" in protocol
    assert "pretraining early-stops on cmner:dev F1 (patience 3, cap 20 epochs)" in protocol
    assert "`-` and the fine-tuning stage of every schedule share the same rule" in protocol
    assert "images: all" in protocol and "seeds {1, 2, 3}" in protocol
    assert "UMT: not run" in table3
    assert "| ACN | - | — |" in (runs / "report" / "table4.md").read_text()
    assert len((runs / "report" / "results.csv").read_text().splitlines()) == 7
    assert not (runs / "report" / "table2.md").exists()  # no Table 2 cells, no Table 2 files
    assert report.table2 == []


def test_stages_table_and_cap_warning(runs):
    report = write_report(runs, bootstrap_samples=100)
    table3 = (runs / "report" / "table3.md").read_text()
    assert "#### Stages" in table3
    assert (
        "| ACN | SRC&TGT | 2 | finetune | cmner:train (90 posts) | 30 / 30 | 30 | 50.00 | cap ⚠ |"
        in table3
    )
    assert (
        "| ACN | - | 1 | train | cmner:train (90 posts) | 9 / 30 | 6 | 50.00 | patience |" in table3
    )
    warning = next(x for x in table3.splitlines() if x.startswith("⚠ Not converged"))
    assert "1 stage(s)" in warning and "ACN SRC&TGT seed 2 finetune (best epoch 30/30)" in warning
    assert report.warnings == [f"table3: {warning}"]


def test_gain_is_tested_over_seeds_and_posts(runs):
    report = write_report(runs, bootstrap_samples=321)
    table3 = (runs / "report" / "table3.md").read_text()
    assert "bootstrap, 321 resamples" in table3 and "1000" not in table3
    (sig,) = report.significance
    assert (sig.schedule, sig.seeds_base, sig.seeds, sig.posts) == (
        "SRC&TGT",
        [1, 2, 3],
        [1, 2, 3],
        90,
    )
    assert sig.p_value == 0.0 and sig.delta > 0.3 and sig.samples == 321
    assert sig.verdict == "gain (bootstrap over 3 seeds × 90 test posts, p=0.000)"
    assert f"| ACN | SRC&TGT | 1,2,3 / 1,2,3 | {100 * sig.delta:+.2f} |" in table3


def test_one_seed_says_training_noise_is_untested(tmp_path):
    gold = tmp_path / "elsewhere" / "gold.txt"  # an absolute gold path still works
    _corpus(GOLD_TAGS, gold)
    _run(tmp_path, "zh2en", "acn", "-", 1, 0.4, WEAK, gold=gold.resolve())
    _run(tmp_path, "zh2en", "acn", "SRC", 1, 0.7, GOLD_TAGS, gold=gold.resolve())
    (sig,) = write_report(tmp_path, bootstrap_samples=100).significance
    assert sig.verdict.startswith("gain (1 seed: test-post bootstrap only")


def test_missing_or_misaligned_predictions_name_the_file(runs):
    bad = runs / "en2zh" / "acn" / "SRC&TGT" / "seed2" / "predictions.txt"
    _corpus(GOLD_TAGS[:-1], bad)
    with pytest.raises(ValueError, match=f"{bad}: 89 posts but gold .*cmner-test.txt has 90"):
        write_report(runs, bootstrap_samples=10)
    _corpus([["O"], *GOLD_TAGS[1:]], bad)
    with pytest.raises(ValueError, match=f"{bad}: post 0 .* 1 tokens but gold"):
        write_report(runs, bootstrap_samples=10)
    bad.unlink()
    with pytest.raises(ValueError, match=f"{bad}: predictions not found"):
        write_report(runs, bootstrap_samples=10)


def test_missing_gold_names_results_file(runs):
    (runs / "data" / "cmner-test.txt").unlink()
    with pytest.raises(ValueError, match="results.json: gold test file .*cmner-test.txt not found"):
        write_report(runs, bootstrap_samples=10)


def test_table4_lists_the_published_systems(runs):
    write_report(runs, bootstrap_samples=10)
    table4 = (runs / "report" / "table4.md").read_text()
    block = table4.split("Published systems (figures from the paper, not run here):")[1]
    paper = json.loads(SHARED.read_text()) if SHARED.exists() else None
    others = paper["tables"]["table4"]["other_systems"] if paper else []
    assert len(others) == 5 or not paper
    for s in others:
        assert (
            f"| {s['model']} | {s['precision']:.2f} | {s['recall']:.2f} | {s['f1']:.2f} |" in block
        )
    assert "| MNER-QG (Oracle) | 77.76 | 72.31 | 74.94 |" in block
    assert "Published systems" not in (runs / "report" / "table3.md").read_text()


def test_table2_beside_the_paper_and_kept_apart(runs):
    per = {"PER": 0.80, "LOC": 0.70, "ORG": 0.60, "MISC": 0.50}
    _table2_run(runs, "acn", "none", 1, 0.70, per)
    _table2_run(runs, "acn", "none", 2, 0.72, {**per, "PER": 0.82})
    _table2_run(runs, "umt", "all", 1, 0.90, per)
    assert len(collect_table2(runs)) == 3 and len(collect_results(runs)) == 6
    report = write_report(runs, bootstrap_samples=10)
    md = (runs / "report" / "table2.md").read_text()
    assert (runs / "report" / "table2.md") in report.files
    assert _row(md, "ACN", "none").startswith(
        "| ACN | none | 71.00 ± 1.41 | 71.00 ± 1.41 | 71.00 ± 1.41 "
        "| 73.37 | 72.55 | 72.93 | -1.93 |"
    )
    assert (
        _row(md, "UMT", "all")
        == "| UMT | all | 90.00 | 90.00 | 90.00 | 87.92 | 91.14 | 89.50 | +0.50 |"
    )
    assert _row(md, "ACN", "one").startswith("| ACN | one | — | — | — | 76.04 |")
    assert "images:" not in md  # Table 2's rows vary the image mode on purpose
    per_type = [x for x in md.splitlines() if x.startswith("| ACN | none |")][1]
    assert per_type == (
        "| ACN | none | 81.00 ± 1.41 | 78.62 | 70.00 ± 0.00 | 67.15 | 60.00 ± 0.00 | 73.80 "
        "| 50.00 ± 0.00 | 73.87 |"
    )
    csv_rows = (runs / "report" / "table2.csv").read_text().splitlines()
    assert csv_rows[1].startswith(
        "ACN,none,2,71.00,71.00,71.00,1.41,73.37,72.55,72.93,-1.93,81.00,78.62"
    )
    assert "90.00" not in (runs / "report" / "table3.md").read_text()
    assert len((runs / "report" / "results.csv").read_text().splitlines()) == 7


def test_table2_file_under_a_direction_is_an_error(runs):
    _run(runs, "en2zh", "acn", "TGT", 1, 0.5, GOLD_TAGS, table="table2")
    with pytest.raises(ValueError, match="TGT/seed1/results.json: 'table' is 'table2'"):
        collect_results(runs)


def test_older_results_without_stage_settings_still_render(runs):
    path = runs / "en2zh" / "acn" / "target-only" / "seed1" / "results.json"
    old = json.loads(path.read_text())
    old["stages"] = [{"stage": "train", "best_epoch": 2, "best_dev_f1": 0.4, "epochs_run": 5}]
    del old["images"]
    path.write_text(json.dumps(old))
    manifest.record(path)
    write_report(runs, bootstrap_samples=10)
    table3 = (runs / "report" / "table3.md").read_text()
    assert "| ACN | - | 1 | train | ? | 5 / ? | 3 | 40.00 | ? |" in table3
    assert "did not record why they stopped" in table3
    assert "selection unknown (epoch cap unknown)" in table3


def test_chart_says_not_run_only_without_results(runs):
    from xmner.eval.chart import bar_labels
    from xmner.eval.tables import table_cells

    _run(runs, "en2zh", "acn", "TGT", 1, 0.0, WEAK)
    write_report(runs, bootstrap_samples=10)
    png = (runs / "report" / "f1.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    labels = bar_labels(table_cells("en2zh", collect_results(runs)), "ACN")
    assert labels == ["42.0", "not run", "0.0", "72.0"]


def test_cells_made_from_other_inputs_are_left_out_with_a_warning(runs):
    (runs / "environment.json").write_text(json.dumps({"inputs": {"cmner/test.txt": "new"}}))
    manifest.record(runs / "environment.json")
    stale = _run(runs, "en2zh", "acn", "TGT", 1, 0.9, GOLD_TAGS, inputs={"cmner/test.txt": "old"})
    _run(runs, "en2zh", "acn", "SRC", 1, 0.9, GOLD_TAGS, inputs={"cmner/test.txt": "new"})
    report = write_report(runs, bootstrap_samples=10)
    assert {r["schedule"] for r in report.results} == {"-", "SRC&TGT", "SRC"}
    assert f"{stale}: left out, made from other inputs (cmner/test.txt)" in report.warnings
    assert all(not Path(r["path"]).is_absolute() for r in report.results)


def test_latex_tables_beside_markdown_with_best_per_column_bold(runs):
    _table2_run(runs, "acn", "none", 1, 0.70, {"PER": 0.8})
    _table2_run(runs, "umt", "all", 1, 0.90, {"PER": 0.8})
    report = write_report(runs, bootstrap_samples=10)
    tex = (runs / "report" / "table3.tex").read_text()
    assert runs / "report" / "table3.tex" in report.files
    assert [x for x in tex.splitlines() if x in (r"\toprule", r"\midrule", r"\bottomrule")] == [
        r"\toprule",
        r"\midrule",
        r"\bottomrule",
    ]
    assert r"Model & Schedule & P & R & F1 & Paper P & Paper R & Paper F1 & $\Delta$ F1 \\" in tex
    # ours: SRC&TGT (72.00) beats `-` (42.00) in each column; Δ is never bold
    assert (
        r"ACN & - & 42.00 $\pm$ 2.00 & 42.00 $\pm$ 2.00 & 42.00 $\pm$ 2.00 & 76.03 & 73.07 & 74.52"
        r" & -32.52 \\" in tex
    )
    row = next(x for x in tex.splitlines() if x.startswith(r"ACN & SRC\&TGT &"))
    assert row.startswith(r"ACN & SRC\&TGT & \textbf{72.00 $\pm$ 2.00} & \textbf{72.00 $\pm$ 2.00}")
    assert row.endswith(r"& 76.73 & -4.73 \\")  # not the paper's best F1: plain
    paper_best = max(r.f1 for r in reference_rows("table3") if r.f1 is not None)
    assert tex.count(rf"\textbf{{{paper_best:.2f}}}") >= 1  # the paper's best F1, bold
    assert r"UMT & - & -- & -- & -- &" in tex  # not run, as — in the Markdown
    table2 = (runs / "report" / "table2.tex").read_text()
    assert r"UMT & all & \textbf{90.00} & \textbf{90.00} & \textbf{90.00} & " in table2


def test_learning_curves_per_direction_with_results_even_without_metrics(runs, caplog):
    run = runs / "en2zh" / "acn" / "SRC&TGT" / "seed1"
    lines = [{"stage": "train", "epoch": e, "dev_f1": f} for e, f in enumerate([0.3, 0.6, 0.5])]
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    report = write_report(runs, bootstrap_samples=10)
    curves = runs / "report" / "curves-en2zh.png"
    assert curves in report.files and curves.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert manifest.problem(curves) is None
    assert not (runs / "report" / "curves-zh2en.png").exists()  # no zh2en cells
    # the five cells without metrics.jsonl are left out, each named
    assert caplog.text.count("learning curves: left out en2zh/acn/") == 5
