"""marian and ctranslate2 code paths on a tiny random Marian model with a tokenizer trained here.

Random weights translate into gibberish, so these tests pin structure: outputs per input,
valid BIO aligned with tokens, ids kept, and every entity projected or counted as lost.
"""

from __future__ import annotations

import json
import shutil

import pytest

from xmner import cli
from xmner.data.corpora import load_split
from xmner.data.tags import orphan_positions
from xmner.translate.backends import (
    CTranslate2Translator,
    MarianTranslator,
    convert_model,
    make_translator,
)
from xmner.translate.corpus import translate_corpus
from xmner.translate.placeholder import has_placeholder, join_tokens
from xmner.translate.random_marian import build_random_marian


@pytest.fixture(scope="module")
def posts(data_root):
    return load_split("twitter2015", "dev", data_root)[:12]


@pytest.fixture(scope="module")
def marian_dir(data_root, tmp_path_factory):
    texts = [join_tokens(p.tokens, "en") for p in load_split("twitter2015", "dev", data_root)]
    texts += [join_tokens(p.tokens, "zh") for p in load_split("cmner", "dev", data_root)[:400]]
    return build_random_marian(tmp_path_factory.mktemp("marian"), texts)


def _lively(model):
    """Weights ~ N(0, 9 / fan_in): a random model whose output depends on its input.

    At the default init (std 0.02) a tiny random translator says nearly the same thing
    whatever it reads, which would hide outputs written back to the wrong inputs.
    """
    import torch

    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 2:
                p.copy_(torch.randn(p.shape, generator=gen) * 3 * p.shape[1] ** -0.5)
    return model


@pytest.fixture(scope="module")
def lively_marian_dir(marian_dir, tmp_path_factory):
    from transformers import MarianMTModel

    out = tmp_path_factory.mktemp("lively") / "marian"
    shutil.copytree(marian_dir, out)
    _lively(MarianMTModel.from_pretrained(out)).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def lively_ct2_dir(lively_marian_dir, tmp_path_factory):
    return convert_model(str(lively_marian_dir), tmp_path_factory.mktemp("lively_ct2") / "m")


@pytest.fixture(scope="module")
def ct2_dir(marian_dir, tmp_path_factory):
    return convert_model(str(marian_dir), tmp_path_factory.mktemp("ct2") / "model", force=True)


def _check(out, posts, report):
    assert [p.id for p in out] == [p.id for p in posts]
    assert [p.image_ids for p in out] == [p.image_ids for p in posts]
    for post in out:
        assert len(post.tokens) == len(post.tags) and not orphan_positions(post.tags)
        assert all(len(t) == 1 and not t.isspace() for t in post.tokens)
        assert not has_placeholder("".join(post.tokens))
    for typ, n in report.entities_in.items():
        assert n == report.entities_projected[typ] + report.entities_lost[typ]
    assert len(report.lost) == report.entities_lost["total"]


def test_random_marian_layout_matches_opus_mt(marian_dir):
    vocab = json.loads((marian_dir / "vocab.json").read_text(encoding="utf-8"))
    assert max(vocab, key=vocab.get) == "<pad>" and vocab["</s>"] == 0
    assert ">>cmn_Hans<<" in vocab
    assert {"source.spm", "target.spm", "config.json", "model.safetensors"} <= {
        p.name for p in marian_dir.iterdir()
    }


def test_marian_engine_translates_and_projects(marian_dir, posts):
    engine = MarianTranslator("en", "zh", str(marian_dir), max_new_tokens=6, num_beams=2)
    assert engine.prefix == ">>cmn_Hans<<"
    outs = engine.translate(["short", "a much longer sentence [E0] here", ""])
    assert len(outs) == 3 and all(isinstance(o, str) for o in outs)
    out, report = translate_corpus(posts, engine, source="twitter2015", target="cmner")
    _check(out, posts, report)


def test_ctranslate2_engine_on_converted_model(ct2_dir, posts):
    assert (ct2_dir / "model.bin").is_file() and (ct2_dir / "source.spm").is_file()
    vocab = json.loads((ct2_dir / "shared_vocabulary.json").read_text(encoding="utf-8"))
    assert "<pad>" not in vocab  # CTranslate2 drops Marian's trailing pad
    engine = make_translator("ctranslate2", "en", "zh", str(ct2_dir), max_decoding_length=8)
    assert isinstance(engine, CTranslate2Translator)
    assert engine.encode("hi")[0] == ">>cmn_Hans<<" and engine.encode("hi")[-1] == "</s>"
    out, report = translate_corpus(posts, engine, source="twitter2015", target="cmner")
    _check(out, posts, report)


def test_convert_refuses_pad_not_last_and_existing_dir(marian_dir, tmp_path):
    with pytest.raises(FileExistsError):
        convert_model(str(marian_dir), tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in marian_dir.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    vocab = json.loads((bad / "vocab.json").read_text(encoding="utf-8"))
    vocab["<pad>"], vocab["</s>"] = vocab["</s>"], vocab["<pad>"]
    (bad / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    with pytest.raises(ValueError, match="<pad> last"):
        convert_model(str(bad), tmp_path / "out")


def test_cli_convert_then_translate_with_ctranslate2(marian_dir, data_root, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ("xmner.translate.commands",))
    model = tmp_path / "ct2"
    assert cli.main(["translate", "convert", str(marian_dir), "--out", str(model)]) == 0
    config = json.loads((model / "config.json").read_text())
    assert config["eos_token"] == "</s>"
    argv = [
        "translate",
        "--corpus",
        "cmner",
        "--split",
        "dev",
        "--to",
        "en",
        "--engine",
        "ctranslate2",
        "--model",
        str(model),
        "--data-dir",
        str(data_root),
        "--out",
        str(tmp_path / "en"),
        "--beams",
        "1",
        "--max-length",
        "4",
        "--no-cache",
    ]
    assert cli.main(argv) == 0
    report = json.loads((tmp_path / "en" / "report.json").read_text())
    assert report["posts"] == 1000
    assert report["entities_in"]["total"] == (
        report["entities_projected"]["total"] + report["entities_lost"]["total"]
    )


@pytest.fixture(scope="module")
def m2m_dir(posts, tmp_path_factory):
    """A tiny random M2M100 with a sentencepiece vocabulary trained here (hf-seq2seq engine)."""
    import sentencepiece as spm
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    out = tmp_path_factory.mktemp("m2m")

    texts = [join_tokens(p.tokens, "en") for p in posts] + ["我们在纽约吃苹果"] * 5
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_prefix=str(out / "spm"),
        vocab_size=300,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_file=str(out / "spm.model"))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(sp.get_piece_size()):
        vocab.setdefault(sp.id_to_piece(i), len(vocab))
    (out / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    tok = M2M100Tokenizer(vocab_file=str(out / "vocab.json"), spm_file=str(out / "spm.model"))
    config = M2M100Config(
        vocab_size=max(tok.lang_token_to_id.values()) + 9,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=256,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    torch.manual_seed(0)
    _lively(M2M100ForConditionalGeneration(config)).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_hf_seq2seq_engine_forces_the_target_language(m2m_dir, posts):
    from transformers import M2M100Tokenizer

    tok = M2M100Tokenizer.from_pretrained(m2m_dir)
    engine = make_translator("hf-seq2seq", "en", "zh", str(m2m_dir), max_new_tokens=4, num_beams=1)
    assert engine.tgt_code == "zh" and engine.bos == tok.get_lang_id("zh")
    assert engine.tokenizer.src_lang == "en"
    out, report = translate_corpus(posts[:4], engine, source="twitter2015", target="cmner")
    _check(out, posts[:4], report)


# --- batching: length-sorted batches must give each input its own translation ---------------
BATCH_TEXTS = [
    "a b",
    "the storm hit new york city on monday morning",
    "obama",
    "we ate apples in paris",
    "rt @user : great game tonight",
    "london",
    "the quick brown fox jumps over the lazy dog again and again",
]


def _engine(kind, marian_dir, ct2_dir, m2m_dir, batch_size):
    """The engine ``kind`` with short outputs and beam search over length-sorted batches."""
    if kind == "marian":
        return MarianTranslator(
            "en", "zh", str(marian_dir), batch_size=batch_size, max_new_tokens=8, num_beams=2
        )
    if kind == "hf-seq2seq":
        return make_translator("hf-seq2seq", "en", "zh", str(m2m_dir), batch_size=batch_size,
                               max_new_tokens=8, num_beams=2)  # fmt: skip
    return make_translator("ctranslate2", "en", "zh", str(ct2_dir), batch_size=batch_size,
                           max_decoding_length=8, beam_size=2)  # fmt: skip


@pytest.mark.parametrize("kind", ["marian", "hf-seq2seq", "ctranslate2"])
def test_batch_translates_each_sentence_as_alone(kind, lively_marian_dir, lively_ct2_dir, m2m_dir):
    engine = _engine(kind, lively_marian_dir, lively_ct2_dir, m2m_dir, batch_size=3)
    alone = [engine.translate([t])[0] for t in BATCH_TEXTS]
    # the output depends on the input, or the comparisons below would prove nothing
    assert len(set(alone)) >= 4, alone
    assert engine.translate(BATCH_TEXTS) == alone
    assert engine.translate(BATCH_TEXTS[::-1]) == alone[::-1]


def test_a_converted_directory_named_as_marian_runs_on_ctranslate2(ct2_dir, marian_dir):
    from xmner.translate.backends import is_ctranslate2_dir

    assert is_ctranslate2_dir(ct2_dir) and not is_ctranslate2_dir(marian_dir)
    engine = make_translator("marian", "en", "zh", str(ct2_dir), num_beams=1, max_new_tokens=4)
    assert isinstance(engine, CTranslate2Translator)
    assert engine.beam_size == 1 and engine.max_decoding_length == 4
