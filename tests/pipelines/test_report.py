"""Tables, CSV, significance and the F1 chart from fixture results.json files."""

import json

from xmner.data.corpus import Post, write_corpus
from xmner.pipelines.report import write_report


def _run(root, direction, model, schedule, seed, f1, gold, tags):
    sched = "target-only" if schedule == "-" else schedule
    run = root / direction / model / sched / f"seed{seed}"
    run.mkdir(parents=True)
    write_corpus(
        [Post(str(i), ["w"] * len(t), t) for i, t in enumerate(tags)],
        run / "predictions.txt",
        "twitter",
    )
    (run / "results.json").write_text(
        json.dumps(
            {
                "direction": direction,
                "model": model,
                "schedule": schedule,
                "seed": seed,
                "precision": f1,
                "recall": f1,
                "f1": f1,
                "gold_test": str(gold),
            }
        )
    )


def test_report_from_fixture_results(tmp_path):
    gold_tags = [["B-PER", "O"], ["B-LOC", "I-LOC"], ["O", "B-ORG"]] * 30
    gold = tmp_path / "gold.txt"
    write_corpus(
        [Post(str(i), ["w"] * len(t), t) for i, t in enumerate(gold_tags)], gold, "twitter"
    )
    weak = [["O", "O"], ["B-LOC", "I-LOC"], ["O", "O"]] * 30
    for seed, (f1_base, f1_mix) in enumerate([(0.40, 0.70), (0.42, 0.72)], start=1):
        _run(tmp_path, "en2zh", "acn", "-", seed, f1_base, gold, weak)
        _run(tmp_path, "en2zh", "acn", "SRC&TGT", seed, f1_mix, gold, gold_tags)
    report = write_report(tmp_path, bootstrap_samples=200)
    table3 = (tmp_path / "report" / "table3.md").read_text()
    assert (
        "| ACN | - | 41.00 ± 1.41 | 41.00 ± 1.41 | 41.00 ± 1.41 | n/a | n/a | n/a | — |" in table3
    )
    assert "| ACN | SRC&TGT | 71.00 ± 1.41 |" in table3
    assert "UMT: not run" in table3
    # predictions of SRC&TGT equal gold, of "-" miss 2/3 of entities: a clear gain
    sig = [s for s in report.significance if s.schedule == "SRC&TGT"]
    assert len(sig) == 2 and all(s.p_value < 0.01 and s.delta > 0.3 for s in sig)
    assert "| ACN | SRC&TGT | 1 |" in table3 and "gain" in table3
    csv_rows = (tmp_path / "report" / "results.csv").read_text().splitlines()
    assert csv_rows[0] == "direction,model,schedule,seed,precision,recall,f1"
    assert len(csv_rows) == 5
    png = (tmp_path / "report" / "f1.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert "| ACN | - | — |" in (tmp_path / "report" / "table4.md").read_text()
