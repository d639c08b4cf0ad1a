"""The README's paper command end to end on local stand-ins (``xmner.testing.paper_local``).

Tiny random Marian models (zh->en converted to CTranslate2), a tiny BERT for mBERT, a tiny
ResNet-152-shaped backbone on real CMNER example images and generated Twitter JPEGs, MUSE-format
``.vec`` files: both directions, both models, all four schedules, images ``all``, ``POSTS``
posts a split, one epoch a stage. Slow (22 cells; about a CPU minute, and several minutes on a
shared machine): run in ``.ci/run`` after ``make test``.
"""

import json

import pytest

from xmner.cli import main
from xmner.testing.paper_local import POSTS, RUN_SIZE, build_paper_local, paper_argv

SCHEDULES = {"-": "target-only", "SRC": "SRC", "TGT": "TGT", "SRC&TGT": "SRC&TGT"}


def test_stand_ins_load_as_the_paper_preset_reads_them(tmp_path, data_root):
    """The quick half (not slow): each stand-in loads where the paper run will load it."""
    from transformers import AutoModel

    from xmner.align.embeddings import read_vec
    from xmner.data.corpora import load_split
    from xmner.data.corpus import read_corpus
    from xmner.data.images import resnet_extractor
    from xmner.models.umt import load_tokenizer
    from xmner.pipelines.config import load_experiment
    from xmner.translate.backends import is_ctranslate2_dir

    local = build_paper_local(tmp_path, data_root)
    cfg = load_experiment("paper", local.overrides() + RUN_SIZE)
    assert (cfg.acn.config["hidden"], cfg.data.max_posts, cfg.threads) == (16, POSTS, 1)
    assert cfg.data.images == "all" and cfg.umt.bert == str(local.bert)
    assert cfg.translate.engine == "marian" and is_ctranslate2_dir(cfg.translate.model_zh2en)
    assert not is_ctranslate2_dir(cfg.translate.model_en2zh)
    extractor = resnet_extractor(local.resnet)
    assert (extractor.regions, extractor.dim) == (49, 32)
    assert AutoModel.from_pretrained(local.bert).config.num_hidden_layers == 4
    chars = [t for t in load_split("cmner", "test", local.data)[0].tokens if "一" <= t <= "鿿"][:8]
    assert load_tokenizer(local.bert).tokenize("".join(chars)) == chars  # cased, one per character
    for vec, corpus in ((local.en_vec, "twitter2015"), (local.zh_vec, "cmner")):
        words = set(read_vec(vec).words)
        posts = load_split(corpus, "test", local.data)
        assert len(posts) == POSTS
        assert {t for p in posts for t in p.tokens if t.split() == [t]} <= words
    ids = [p.id for p in load_split("cmner", "train", local.data)]
    examples = read_corpus(data_root / "cmner" / "example_text.txt")
    assert len(set(ids)) == len(ids) == POSTS and {p.id for p in examples} <= set(ids)


@pytest.mark.slow
def test_paper_command_on_local_stand_ins(tmp_path, data_root, capsys):
    local = build_paper_local(tmp_path / "local", data_root)
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
    # each image once through the local backbone (ACN and UMT share it): a generated Twitter
    # JPEG for each post of the 3 splits and the 25 real images of CMNER's six example posts
    assert len(list((out / "cache" / "images").rglob("*.pt"))) == 3 * POSTS + 25
