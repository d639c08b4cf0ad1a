"""The quality report on small synthetic corpora whose figures are known by hand."""

from __future__ import annotations

from xmner.data.corpus import Post
from xmner.translate.corpus import translate_corpus
from xmner.translate.quality import source_words, target_tokens


class Replacer:
    """Replaces fixed substrings, longest first; everything else (placeholders too) stays."""

    engine, model = "fake", "replace"

    def __init__(self, src, tgt, table):
        self.src, self.tgt, self.table = src, tgt, table

    def translate(self, texts):
        out = []
        for text in texts:
            for key in sorted(self.table, key=len, reverse=True):
                text = text.replace(key, self.table[key])
            out.append(text)
        return out


EN_POSTS = [
    Post(
        "1",
        ["Obama", "went", "into", "the", "house", "http://t.co/x"],
        ["B-PER", "O", "O", "O", "O", "O"],
        ["1"],
        "en",
        "twitter2015",
    ),
    Post("2", ["New", "York", "Times", "rocks"], ["B-ORG", "I-ORG", "I-ORG", "O"], [], "en"),
]
EN_ZH = {"Obama": "奥巴马", "went": "去了", "the ": "", "house": "房子"}
EN_ZH["New York Times"] = "纽约时报社论版"


def test_quality_en_to_zh_figures():
    _, report = translate_corpus(
        EN_POSTS, Replacer("en", "zh", EN_ZH), source="twitter2015", target="cmner"
    )
    q = report.quality
    # Outside entities: 去 了 into 房 子 (URL aside) + rocks; entities 奥巴马 (3), 7 characters.
    assert (q["tokens"], q["wrong_script_tokens"]) == (16, 2)
    assert q["wrong_script_token_share"] == 0.125
    assert (q["entities"], q["wrong_script_entities"], q["long_entities"]) == (2, 0, 1)
    assert q["long_entity_share"] == 0.5
    assert q["entity_lengths"] == {"1": {"3": 1}, "3": {"6+": 1}}
    # Source words outside entities: went into the house rocks; into and rocks left as they were.
    assert (q["source_words"], q["untranslated_words"], q["untranslated_share"]) == (5, 2, 0.4)
    assert q["untranslated_top"] == [["into", 1], ["rocks", 1]]
    assert [ex["post"] for ex in q["examples"]] == ["1", "2"]
    assert "0.4" not in report.summary() and "40.00% of 5 source words" in report.summary()


def test_quality_zh_to_en_figures():
    tokens = list("我去了成都个")
    post = Post("z", tokens, ["O", "O", "O", "B-LOC", "I-LOC", "O"], [], "zh", "cmner")
    engine = Replacer("zh", "en", {"我": "I ", "去了": "went ", "成都": "Chengdu 成都"})
    _, report = translate_corpus([post], engine, source="cmner", target="twitter2015")
    q = report.quality
    # "I went 个" + entity "Chengdu 成 都" (Moses splits Chinese characters): 6 tokens, 3 bad.
    assert (q["tokens"], q["wrong_script_tokens"], q["wrong_script_token_share"]) == (6, 3, 0.5)
    assert (q["entities"], q["wrong_script_entities"], q["wrong_script_entity_share"]) == (1, 1, 1)
    assert q["entity_lengths"] == {"2": {"3": 1}}
    assert (q["source_words"], q["untranslated_words"], q["untranslated_share"]) == (4, 1, 0.25)
    assert q["untranslated_top"] == [["个", 1]]
    assert "50.00% of 6 output tokens and 100.00% of 1 entities" in report.summary()


def test_reader_tokens_and_source_words():
    assert target_tokens("纽约 Times 2015年", "zh") == ["纽", "约", "Times", "2015", "年"]
    assert source_words("Obama 's 4th &amp; #tag @ann http://t.co/x Go", "en") == ["obama", "go"]
    assert source_words("我#科技#去", "zh") == ["我", "科", "技", "去"]  # topics are translated
