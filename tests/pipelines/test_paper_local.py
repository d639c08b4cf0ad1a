"""The README's paper command end to end on local stand-ins (``xmner.testing.paper_local``).

Tiny random Marian models (zh->en converted to CTranslate2), a tiny BERT for mBERT, a tiny
ResNet-152-shaped backbone on real CMNER example images and generated Twitter JPEGs, MUSE-format
``.vec`` files: both directions, both models, all four schedules, images ``all``, 20 posts a
split, one epoch a stage. Slow (22 cells at the paper's model sizes; several CPU minutes).
"""

import json

import pytest

from xmner.cli import main
from xmner.testing.paper_local import build_paper_local, paper_argv

SCHEDULES = {"-": "target-only", "SRC": "SRC", "TGT": "TGT", "SRC&TGT": "SRC&TGT"}


@pytest.mark.slow
def test_paper_command_on_local_stand_ins(tmp_path, data_root, capsys):
    local = build_paper_local(tmp_path / "local", data_root, posts=20)
    out = tmp_path / "runs"
    assert main(paper_argv(local, out)) == 0, capsys.readouterr().err
    report = out / "report"
    for table, direction in (("table3", "en2zh"), ("table4", "zh2en")):
        text = (report / f"{table}.md").read_text(encoding="utf-8")
        for model in ("acn", "umt"):
            for schedule, folder in SCHEDULES.items():
                row = next(
                    r
                    for r in text.splitlines()
                    if r.startswith(f"| {model.upper()} | {schedule} |")
                )
                assert "—" not in row.split("|")[3], row  # measured, not a paper-only row
                cell = out / direction / model / folder / "seed1" / "results.json"
                results = json.loads(cell.read_text(encoding="utf-8"))
                assert results["images"] == "all" and results["schedule"] == schedule
                assert all(0.0 <= results[k] <= 1.0 for k in ("precision", "recall", "f1"))
    # Table 2 (CMNER's images given): text only, one image, all images, for each model
    for model in ("acn", "umt"):
        for images in ("none", "one", "all"):
            cell = out / "table2" / model / images / "seed1" / "results.json"
            assert json.loads(cell.read_text(encoding="utf-8"))["images"] == images
    # each image once through the local backbone (ACN and UMT share it): 60 generated Twitter
    # JPEGs (20 posts x 3 splits) and the 25 real images of CMNER's six example posts
    assert len(list((out / "cache" / "images").rglob("*.pt"))) == 60 + 25
