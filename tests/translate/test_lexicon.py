"""The offline lexicon engine on the real dev splits, library and CLI."""

from __future__ import annotations

import json

import pytest

from xmner import cli
from xmner.data.corpora import load_split
from xmner.data.corpus import Post, read_corpus
from xmner.data.tags import orphan_positions
from xmner.translate.cache import CachedTranslator, TranslationCache
from xmner.translate.cedict import best_gloss, cedict_entries, clean_gloss, name_of, short_gloss
from xmner.translate.corpus import translate_corpus, translate_split
from xmner.translate.lexicon import LEXICON_VERSION, LexiconTranslator, read_lexicon
from xmner.translate.placeholder import has_placeholder
from xmner.translate.quality import CJK


@pytest.fixture(scope="module")
def zh_en():
    """zh -> en engine (the CC-CEDICT index is built once per session and cached)."""
    return LexiconTranslator("zh", "en")


@pytest.fixture(scope="module")
def en_zh():
    """en -> zh engine."""
    return LexiconTranslator("en", "zh")


def test_lexicon_words_and_placeholders(zh_en, en_zh):
    assert en_zh.translate(["New York police [E0] eat apples"]) == ["纽约警察 [E0] 吃苹果"]
    assert zh_en.translate(["我们在纽约[E1]吃苹果"]) == ["we exist New York [E1] eat apple"]
    assert zh_en.translate(["你好，世界！"]) == ["hello , world !"]  # ASCII punctuation in English
    assert en_zh.translate(["Hello, world!"]) == ["喂 ， 世界 ！"]
    assert LEXICON_VERSION in en_zh.model  # the cache key changes with the logic


def test_names_translate_as_names(zh_en):
    # Real CC-CEDICT entries: a township entry and a Samsung entry; descriptive tails.
    entries = [e for e in cedict_entries() if e["simplified"] == "三星"]
    assert any("Township" in d for e in entries for d in e["definitions"])
    assert best_gloss("三星", entries) == "Samsung"
    assert zh_en.translate(["三星", "龙岩", "成都", "丹东市", "马化腾"]) == [
        "Samsung",
        "Longyan",
        "Chengdu",
        "Dandong",
        "Ma Huateng",
    ]
    assert name_of("Chengdu subprovincial city and capital of Sichuan province 四川 in China") == (
        "Chengdu"
    )
    assert name_of("name of various places including Gold Coast") == "Gold Coast"


def test_person_names_and_common_senses(zh_en):
    # 张大民 is an entity on its own: a surname and two characters CC-CEDICT knows one by one
    assert zh_en.translate(["张大民", "王暄博"]) == ["Zhang Damin", "Wang Xuanbo"]
    assert zh_en.translate(["高铁", "李白"]) == ["high speed rail", "Li Bai"]  # known words stay
    # 大学 has a proper entry (the Great Learning, a book) and a common one (university)
    entries = [e for e in cedict_entries() if e["simplified"] == "大学"]
    assert any(e["pinyin"][:1].isupper() for e in entries)
    assert best_gloss("大学", entries) == "university"
    assert zh_en.translate(["西南科技大学"]) == ["southwest science and technology university"]


def _entries(word):
    return [e for e in cedict_entries() if word in (e["simplified"], e["traditional"])]


def test_words_inside_names_take_their_shortest_gloss(zh_en):
    # Real entries: 酒店 "wine shop / pub (public house) / hotel / ...",
    # 足球 "soccer ball / a football / soccer", 大会 "general assembly / ... / convention".
    hotel = _entries("酒店")
    assert [d for e in hotel for d in e["definitions"]][:3] == [
        "wine shop",
        "pub (public house)",
        "hotel",
    ]
    assert (best_gloss("酒店", hotel), short_gloss("酒店", hotel)) == ("wine shop", "hotel")
    # a single character keeps its first sense: its shortest gloss is often another one
    # (寺 "Buddhist temple / mosque", 胡 "...reckless", 城 "city walls / city")
    assert [short_gloss(w, _entries(w)) for w in ["寺", "城", "足球", "大会", "广场"]] == [
        "Buddhist temple",
        "city walls",
        "soccer",
        "convention",
        "plaza",
    ]
    # A one-word gloss stays (和 is "and", not the one-word "tie"); a name stays the name; a
    # gloss that reads as a name stays (三八: not "foolish"); no shorter gloss: unchanged (园).
    assert [short_gloss(w, _entries(w)) for w in ["和", "成都", "三八", "园"]] == [
        "and",
        "Chengdu",
        "International Women's Day",
        "land used for growing plants",
    ]
    names = zh_en.for_entities()
    assert names.translate(["松江酒店", "莱斯特城", "广州足球俱乐部", "成都", "三星"]) == [
        "Songjiang hotel",
        "Lester city walls",
        "Canton soccer club",
        "Chengdu",
        "Samsung",
    ]
    # outside entities the word keeps its first sense
    assert zh_en.translate(["松江酒店", "莱斯特城"]) == ["Songjiang wine shop", "Lester city walls"]
    assert names.model != zh_en.model and LEXICON_VERSION in names.model  # its own cache entries


def test_entity_spans_use_the_entity_view_and_long_share_drops(zh_en, tmp_path):
    class Plain:
        """The same engine without an entity view (what every span got before v4)."""

        engine, model, src, tgt = "lexicon", "plain", "zh", "en"

        def translate(self, texts):
            return zh_en.translate(texts)

    text = "我在北京环球影城住酒店"
    tags = ["O", "O", "B-LOC", "I-LOC", "I-LOC", "I-LOC", "I-LOC", "I-LOC", "O", "O", "O"]
    post = Post("p", list(text), tags, [], "zh", "cmner")
    _, before = translate_corpus([post], Plain(), source="cmner", target="twitter2015")
    # "Beijing around the world picture city walls": 7 tokens, 1 long entity of 1
    assert before.quality["entity_lengths"] == {"6+": {"6+": 1}}
    assert before.quality["long_entity_share"] == 1.0
    cache = TranslationCache(tmp_path / "c.sqlite")
    out, after = translate_corpus(
        [post], CachedTranslator(zh_en, cache), source="cmner", target="twitter2015"
    )
    # "Beijing worldwide picture city walls" (5 tokens: 环球 "around the world" -> "worldwide";
    # the single character 城 keeps "city walls"); 酒店 outside the entity stays "wine shop"
    assert after.quality["entity_lengths"] == {"6+": {"5": 1}}
    assert (after.quality["long_entities"], after.quality["long_entity_share"]) == (0, 0.0)
    words = " ".join(out[0].tokens)
    assert "Beijing worldwide picture city walls" in words and words.endswith("wine shop")
    # the span is cached under the entity view's own key, not the sentence engine's
    span = "北京环球影城"
    names_key = ("lexicon", zh_en.for_entities().model, "zh", "en")
    assert cache.get(names_key, [span]) == {span: "Beijing worldwide picture city walls"}
    assert cache.get(("lexicon", zh_en.model, "zh", "en"), [span]) == {}
    cache.close()


def test_names_cc_cedict_lacks_are_pinyin(zh_en):
    # 托雷斯 and 姆巴(佩) are in jieba's dictionary, not CC-CEDICT: no "ask thunder this".
    assert zh_en.translate(["托雷斯", "姆巴佩", "王俊凯"]) == ["Tuoleisi", "Mubapei", "Wang Junkai"]


def test_no_descriptive_glosses_or_stray_script(zh_en):
    assert clean_gloss(
        "Sanxing Township in Yilan County 宜蘭縣|宜兰县[Yi2 lan2 Xian4], Taiwan"
    ) == ("Sanxing Township in Yilan County, Taiwan")
    assert clean_gloss("(bound form) used in 鄭重|郑重[zheng4 zhong4] and x") == "used in and x"
    # 噶 is only "used for its phonetic value"; 个 is a classifier; 了/呀 are particles.
    phonetic = [e for e in cedict_entries() if e["simplified"] == "噶"]
    assert any("phonetic" in d for e in phonetic for d in e["definitions"])
    out = zh_en.translate(["噶", "一个人", "你好呀", "个", "来了"])
    assert not any(CJK.search(o) or "phonetic" in o for o in out)
    assert out[1:4] == ["a person", "hello", "Ge"] and "come" in out[4]
    # 岭's first entry is only "used only in 岭巆": the next entry's gloss is taken
    assert zh_en.translate(["岭"]) == ["mountain range"]


def test_inflected_english_and_function_words(en_zh):
    words = ["went", "getting", "met", "has", "into", "could"]
    assert en_zh.translate(words) == ["去", "得到", "见", "有", "进入", "能"]
    assert en_zh.translate(["made"]) == en_zh.translate(["make"]) == ["使"]  # simplemma lemma
    assert en_zh.translate(["He was born", "Obama ' s dog", "I don ' t care &amp; go"]) == [
        "他是出生",
        "Obama 的狗",
        "我不关怀和去",
    ]


def test_lexicon_file_takes_precedence(tmp_path):
    path = tmp_path / "lex.txt"
    path.write_text("police 公安\npolice 警察\n", encoding="utf-8")
    assert read_lexicon(path)["police"] == "公安"
    assert LexiconTranslator("en", "zh", path).translate(["police"]) == ["公安"]
    path.write_text("lonely\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lex.txt:1: expected 'source target'"):
        read_lexicon(path)


@pytest.mark.parametrize(
    "source, target, fmt", [("twitter2015", "cmner", "cmner"), ("cmner", "twitter2015", "twitter")]
)
def test_dev_split_every_entity_accounted_and_output_rereads(
    data_root, tmp_path, source, target, fmt
):
    posts = load_split(source, "dev", data_root)
    out, report = translate_split(
        posts, source, target, "lexicon", cache_path=tmp_path / "c.sqlite"
    )
    assert report.posts == len(posts) == 1000 and len(out) == 1000
    assert [p.id for p in out] == [p.id for p in posts]
    assert report.entities_in["total"] > 1500
    for typ, n in report.entities_in.items():
        assert n == report.entities_projected[typ] + report.entities_lost[typ]
    assert report.entities_projected["total"] == report.entities_in["total"]  # lexicon keeps all
    from xmner.data.corpus import write_corpus

    write_corpus(out, tmp_path / "out.txt", fmt)
    again = read_corpus(tmp_path / "out.txt", fmt, types=("PER", "LOC", "ORG", "MISC", "OTHER"))
    assert [(p.tokens, p.tags) for p in again] == [(p.tokens, p.tags) for p in out]
    for post in out:
        assert len(post.tokens) == len(post.tags) and not orphan_positions(post.tags)
        assert not has_placeholder("".join(post.tokens))
        if fmt == "cmner":
            assert all(len(tok) == 1 and not tok.isspace() for tok in post.tokens)


def test_cli_translate_writes_corpus_report_and_meta(data_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ("xmner.translate.commands",))
    out = tmp_path / "zh"
    argv = [
        "translate",
        "--corpus",
        "twitter2015",
        "--split",
        "dev",
        "--to",
        "zh",
        "--data-dir",
        str(data_root),
        "--out",
        str(out),
    ]
    assert cli.main(argv) == 0
    assert "entities: 1594 in, 1594 projected, 0 lost" in capsys.readouterr().out
    posts = read_corpus(out / "dev.txt", "cmner", types=("PER", "LOC", "ORG", "MISC"))
    assert len(posts) == 1000 and posts[0].id == "32977"
    report = json.loads((out / "report.json").read_text())
    assert report["posts"] == 1000 and report["posts_dropped"] == 0
    assert report["entities_in"]["total"] == 1594 and report["placeholders_lost"] == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["engine"] == "lexicon" and meta["versions"]["jieba"]
    cache = TranslationCache(out / "cache.sqlite")
    assert len(cache) > 1000  # sentences and entity spans of 1,000 tweets
    cache.close()
    assert cli.main(["translate", "--corpus", "twitter2015", "--to", "zh"]) == 1
    assert "needs --out" in capsys.readouterr().err
