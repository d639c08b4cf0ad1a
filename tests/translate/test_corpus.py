"""translate_corpus with deterministic fake engines: labels follow entities, losses are counted."""

from __future__ import annotations

from xmner.data.corpus import Post
from xmner.data.tags import spans_from_tags
from xmner.translate.cache import CachedTranslator, TranslationCache
from xmner.translate.corpus import split_sentences, translate_corpus

POSTS = [
    Post(
        "1",
        ["RT", "@ann", ":", "Obama", "meets", "Merkel", "in", "Berlin", "."],
        ["O", "O", "O", "B-PER", "O", "B-PER", "O", "B-LOC", "O"],
        ["1"],
        "en",
        "twitter2015",
    ),
    Post(
        "2",
        ["NBA", "Finals", "tonight", "!", "Go", "Spurs"],
        ["B-OTHER", "I-OTHER", "O", "O", "O", "B-ORG"],
        ["2"],
        "en",
        "twitter2015",
    ),
]


class Reverser:
    """Reverses the order of words (placeholders included); entity texts are upper-cased."""

    engine, model, src, tgt = "fake", "reverse", "en", "en"

    def __init__(self):
        self.calls = 0

    def translate(self, texts):
        self.calls += len(texts)
        return [t.upper() if "[" not in t else " ".join(reversed(t.split())) for t in texts]


def _entities(post):
    return [(s.label, "".join(post.tokens[s.start : s.end])) for s in spans_from_tags(post.tags)]


def test_labels_follow_their_entity_when_the_engine_reorders():
    out, report = translate_corpus(POSTS, Reverser(), source="twitter2015", target="cmner")
    # Chinese target: characters, whitespace dropped, OTHER -> MISC, ids and images kept.
    assert [p.id for p in out] == ["1", "2"] and [p.image_ids for p in out] == [["1"], ["2"]]
    assert _entities(out[0]) == [("LOC", "BERLIN"), ("PER", "MERKEL"), ("PER", "OBAMA")]
    # Post 2 has two sentences, each reversed on its own.
    assert _entities(out[1]) == [("MISC", "NBAFINALS"), ("ORG", "SPURS")]
    assert "".join(out[0].tokens) == "BERLIN.inMERKELmeetsOBAMA@ann:RT"
    assert all(len(t) == 1 for p in out for t in p.tokens)
    assert report.entities_in == {"PER": 2, "LOC": 1, "ORG": 1, "MISC": 1, "total": 5}
    assert report.entities_projected == report.entities_in
    assert report.projection_f1["total"]["f1"] == 1.0


class Dropper:
    """Loses ``[E1]`` of post 1 (the "meets" sentence); keeps shared ``[E]`` only when ``fix``."""

    engine, model, src, tgt = "fake", "drop", "en", "en"

    def __init__(self, fix):
        self.fix = fix

    def translate(self, texts):
        out = []
        for t in texts:
            if "meets" in t:
                if "[E]" in t and not self.fix:
                    t = t.replace("[E]", "", 1)
                t = t.replace("[E1]", "something")
            out.append(t)
        return out


def test_lost_placeholder_is_recovered_by_shared_fallback():
    out, report = translate_corpus(
        POSTS, Dropper(fix=True), source="twitter2015", target="twitter2015"
    )
    assert report.fallbacks == 1 and report.fallbacks_failed == 0
    assert report.entities_lost["total"] == 0
    assert _entities(out[0]) == [("PER", "Obama"), ("PER", "Merkel"), ("LOC", "Berlin")]
    assert out[1].tags == ["B-OTHER", "I-OTHER", "O", "O", "O", "B-ORG"]


def test_unrecoverable_loss_is_counted_and_drop_failed_drops_the_post():
    out, report = translate_corpus(POSTS, Dropper(fix=False), source="twitter2015", target="cmner")
    assert report.fallbacks_failed == 1 and report.placeholders_lost == 1
    assert report.entities_lost == {"PER": 1, "LOC": 0, "ORG": 0, "MISC": 0, "total": 1}
    assert report.lost == [
        {"post": "1", "type": "PER", "text": "Merkel", "why": "placeholder lost"}
    ]
    assert report.projection_f1["PER"]["recall"] == 0.5
    assert "something" in "".join(out[0].tokens) or "somethin" in "".join(out[0].tokens)
    out, report = translate_corpus(
        POSTS, Dropper(fix=False), source="twitter2015", target="cmner", drop_failed=True
    )
    assert [p.id for p in out] == ["2"] and report.posts_dropped == 1
    assert report.entities_lost["total"] == 3 and report.entities_projected["total"] == 2


def test_empty_entity_translation_falls_back_to_source_surface():
    class Blank(Reverser):
        def translate(self, texts):
            return [t if "[" in t else "" for t in texts]

    out, report = translate_corpus(POSTS, Blank(), source="twitter2015", target="twitter2015")
    assert report.entities_copied == 5 and report.entities_lost["total"] == 0
    assert _entities(out[1]) == [("OTHER", "NBAFinals"), ("ORG", "Spurs")]


def test_cache_makes_a_second_run_engine_free(tmp_path):
    engine = Reverser()
    cache = TranslationCache(tmp_path / "c.sqlite")
    first, _ = translate_corpus(
        POSTS, CachedTranslator(engine, cache), source="twitter2015", target="cmner"
    )
    calls = engine.calls
    assert calls > 0 and len(cache) == calls
    cache.close()
    cache = TranslationCache(tmp_path / "c.sqlite")  # reopened: persisted
    second, _ = translate_corpus(
        POSTS, CachedTranslator(engine, cache), source="twitter2015", target="cmner"
    )
    assert engine.calls == calls
    assert [p.tokens for p in second] == [p.tokens for p in first]


def test_sentence_split_keeps_placeholders_whole():
    assert split_sentences("[E0]来了！好[E1]。再见", "zh") == ["[E0]来了！", "好[E1]。", "再见"]
    assert split_sentences("Hi [E0]. Go [E1]! ok", "en") == ["Hi [E0].", "Go [E1]!", "ok"]
