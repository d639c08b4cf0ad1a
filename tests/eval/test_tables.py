"""Table rendering from results files, with a reference of known figures."""

import copy
import json

from xmner.eval.reference import load_reference, reference_rows
from xmner.eval.tables import render_csv, render_markdown, render_table_csv


def _reference_with_figures():
    ref = copy.deepcopy(load_reference())
    for row in ref["tables"]["table3"]["rows"]:
        row.update(precision=70.0, recall=60.0, f1=64.0)
    return ref


RESULTS = [
    {
        "direction": "en2zh",
        "model": "acn",
        "schedule": "-",
        "seed": 1,
        "precision": 0.70,
        "recall": 0.60,
        "f1": 0.65,
    },
    {
        "direction": "en2zh",
        "model": "acn",
        "schedule": "-",
        "seed": 2,
        "precision": 0.72,
        "recall": 0.62,
        "f1": 0.67,
    },
    {
        "direction": "en2zh",
        "model": "acn",
        "schedule": "SRC&TGT",
        "seed": 1,
        "precision": 0.71,
        "recall": 0.64,
        "f1": 0.6731,
    },
    {
        "direction": "zh2en",
        "model": "acn",
        "schedule": "-",
        "seed": 1,
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
    },
]


def test_markdown_shows_ours_paper_and_difference(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(RESULTS))
    md = render_markdown(
        "table3",
        json.loads(path.read_text()),
        _reference_with_figures(),
        notes={"UMT": "needs multilingual BERT weights"},
    )
    rows = {line.split(" | ")[1]: line for line in md.splitlines() if line.startswith("| ACN")}
    assert (
        rows["-"] == "| ACN | - | 71.00 ± 1.41 | 61.00 ± 1.41 | 66.00 ± 1.41 "
        "| 70.00 | 60.00 | 64.00 | +2.00 |"
    )
    assert rows["SRC&TGT"].endswith("| 67.31 | 70.00 | 60.00 | 64.00 | +3.31 |")
    assert rows["SRC"].startswith("| ACN | SRC | — | — | — |")
    assert "seqeval default" in md
    assert "UMT: needs multilingual BERT weights" in md
    assert "50.00" not in md  # zh2en results belong to table 4


def test_unknown_paper_figures_print_as_na():
    ref = copy.deepcopy(load_reference())
    for row in ref["tables"]["table4"]["rows"]:
        row.update(precision=None, recall=None, f1=None)
    md = render_markdown("table4", RESULTS, ref)
    line = next(x for x in md.splitlines() if x.startswith("| ACN | - |"))
    assert line == "| ACN | - | 50.00 | 50.00 | 50.00 | n/a | n/a | n/a | — |"


def test_csv_outputs():
    rows = render_csv(RESULTS).splitlines()
    assert rows[0] == "direction,model,schedule,seed,precision,recall,f1"
    assert rows[1] == "en2zh,acn,-,1,0.700000,0.600000,0.650000"
    assert len(rows) == 5
    table = render_table_csv("table3", RESULTS, _reference_with_figures()).splitlines()
    assert table[1] == "ACN,-,2,71.00,61.00,66.00,1.41,70.00,60.00,64.00,+2.00"


def test_reference_has_every_cell():
    for table in ("table3", "table4"):
        rows = reference_rows(table)
        assert {(r.model, r.schedule) for r in rows} == {
            (m, s) for m in ("ACN", "UMT") for s in ("-", "SRC", "TGT", "SRC&TGT")
        }
