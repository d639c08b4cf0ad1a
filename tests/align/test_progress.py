"""Progress of fastText training and alignment: named start, heartbeat, round and end lines."""

from __future__ import annotations

import re

import torch

from xmner import cli, progress
from xmner.align.embeddings import Embeddings, FastTextConfig, train_fasttext
from xmner.align.space import AlignConfig, align_spaces
from xmner.data.corpora import load_split


def test_fasttext_says_what_trains_beats_while_it_runs_and_ends_with_the_time(
    data_root, monkeypatch, capsys
):
    texts = [p.tokens for p in load_split("cmner", "dev", data_root)][:300]
    monkeypatch.setattr(progress, "INTERVAL", 0.05)  # the subprocess alone takes longer
    cfg = FastTextConfig.for_characters(dim=10, epoch=2, min_count=1)
    emb = train_fasttext(texts, cfg, progress=True, name="fastText zh")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "fastText zh · started (300 texts, dim 10, 2 epochs)"
    beats = [x for x in lines[1:-1] if x.startswith("fastText zh · running for ")]
    assert beats and beats == lines[1:-1]
    end = re.fullmatch(r"fastText zh · done in ([\d.]+) s · (\d+) words x 10", lines[-1])
    assert end and int(end[2]) == len(emb) and len(emb) > 500


def _rotated_pair(n: int = 300, d: int = 16):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
    src = Embeddings([f"w{i}" for i in range(n)], x.numpy())
    tgt = Embeddings([f"z{i}" for i in range(n)], (x @ q).numpy())
    return src, tgt


def test_alignment_prints_each_refinement_round_with_its_p_at_1(tmp_path, capsys):
    src, tgt = _rotated_pair()
    # a seed of 30 true pairs and 10 wrong ones: round 0 maps worse than the refined rounds
    pairs = [(f"w{i}", f"z{i}") for i in range(30)] + [
        (f"w{i}", f"z{i + 1}") for i in range(30, 40)
    ]
    cfg = AlignConfig(iterations=2, test_fraction=0.25)
    result = align_spaces(src, tgt, pairs, tmp_path, cfg, progress=True, name="alignment en -> zh")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "alignment en -> zh · started (3 rounds)"
    rounds = [x for x in lines if " · round " in x]
    assert len(rounds) == 3 == len(result.metrics["refinement"])
    for i, (line, step) in enumerate(zip(rounds, result.metrics["refinement"], strict=True)):
        start = f"alignment en -> zh · round {i}/2 · {step['pairs']} pairs · "
        assert line.startswith(start + f"criterion {step['criterion']:.4f} · P@1 "), line
    p_at_1 = [float(x.rsplit("P@1 ", 1)[1]) for x in rounds]
    # the kept mapping is the best criterion's: its round's P@1 is the run's reported P@1
    best = max(range(3), key=lambda i: result.metrics["refinement"][i]["criterion"])
    assert p_at_1[best] == round(100 * result.metrics["p_at_1_csls"], 1)
    assert p_at_1[0] < p_at_1[-1]  # refinement outvotes the wrong seed pairs
    assert lines[-1].startswith("alignment en -> zh · 3/3 rounds · done in ")
    assert lines[-1].endswith(f"best criterion {result.metrics['criterion']:.4f}")


def test_align_cli_names_its_files_in_the_round_lines(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ("xmner.align.commands",))
    from xmner.align.embeddings import write_vec

    src, tgt = _rotated_pair()
    write_vec(tmp_path / "en.vec", src)
    write_vec(tmp_path / "zh.vec", tgt)
    (tmp_path / "d.txt").write_text("".join(f"w{i} z{i}\n" for i in range(100)), encoding="utf-8")
    args = ["align", "--src", str(tmp_path / "en.vec"), "--tgt", str(tmp_path / "zh.vec")]
    assert cli.main([*args, "--dict", str(tmp_path / "d.txt"), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [x for x in err if " · round " in x][0].startswith(
        "alignment en.vec -> zh.vec · round 0/5 · 80 pairs · criterion "
    )
    assert "\r" not in "".join(err)
