"""Placeholder masking and restoring: round trips, reordering, and each documented fallback."""

from __future__ import annotations

from xmner.translate.placeholder import (
    has_placeholder,
    mask,
    protected_ranges,
    protected_token,
    restore,
)

TOKENS = ["RT", "@bob", ":", "George", "Zimmerman", "visited", "New", "York", "and", "Paris"]
SPANS = [(3, 5, "PER"), (6, 8, "LOC"), (9, 10, "LOC")]


def _items(restored):
    return [(s.item.kind, s.item.text) for s in restored.segments if s.item is not None]


def test_mask_indexes_entities_and_protects_rt_and_mentions():
    m = mask(TOKENS, SPANS, "en")
    assert m.text == "[K0] [K1]: [E0] visited [E1] and [E2]"
    assert m.fallback_text == "[K] [K]: [E] visited [E] and [E]"
    assert [(it.kind, it.index, it.text, it.label) for it in m.items] == [
        ("K", 0, "RT", ""),
        ("K", 1, "@bob", ""),
        ("E", 0, "George Zimmerman", "PER"),
        ("E", 1, "New York", "LOC"),
        ("E", 2, "Paris", "LOC"),
    ]


def test_identity_round_trip_and_entities_at_start_and_end_and_adjacent():
    tokens = ["Obama", "Biden", "met", "in", "Rome"]
    m = mask(tokens, [(0, 1, "PER"), (1, 2, "PER"), (4, 5, "LOC")], "en")
    assert m.text == "[E0] [E1] met in [E2]"
    r = restore(m.text, m)
    assert r.ok
    assert _items(r) == [("E", "Obama"), ("E", "Biden"), ("E", "Rome")]
    assert [s.text for s in r.segments if s.item is None] == [" ", " met in "]


def test_reordered_placeholders_keep_their_entities():
    m = mask(TOKENS, SPANS, "en")
    r = restore("[E2] 和 [E1] 被 [E0] 访问 [K1] [K0]", m)
    assert r.ok
    assert _items(r) == [
        ("E", "Paris"),
        ("E", "New York"),
        ("E", "George Zimmerman"),
        ("K", "@bob"),
        ("K", "RT"),
    ]


def test_lenient_reading_of_rewritten_placeholders():
    m = mask(TOKENS, SPANS, "en")
    r = restore("【E 1】 ［e2］ [ E0 ] [K0][K1]", m)
    assert r.ok
    assert _items(r)[:3] == [("E", "New York"), ("E", "Paris"), ("E", "George Zimmerman")]


def test_mangled_indices_with_right_count_fill_in_source_order():
    m = mask(TOKENS, SPANS, "en")
    for text in ("[K0] [K1] [E] [E7] [E]", "[K0] [K1] [E0] [E0] [E2]"):
        r = restore(text, m)
        assert not r.lost and r.repaired == 3
        assert _items(r)[2:] == [("E", "George Zimmerman"), ("E", "New York"), ("E", "Paris")]


def test_duplicated_placeholder_is_dropped_and_missing_one_is_lost():
    m = mask(TOKENS, SPANS, "en")
    r = restore("[K0] [K1] [E0] [E0] [E2] [E0]", m)
    assert r.duplicated == 2
    assert [it.text for it in r.lost] == ["New York"]
    assert _items(r)[2:] == [("E", "George Zimmerman"), ("E", "Paris")]
    assert not any(has_placeholder(s.text) for s in r.segments)


def test_duplicate_with_all_present_keeps_first_occurrences_and_loses_nothing():
    m = mask(TOKENS, SPANS, "en")
    r = restore("[K0] [K1] [E0] [E1] [E1] [E2]", m)
    assert r.duplicated == 1 and not r.lost and not r.repaired


def test_shared_fallback_fills_in_source_order_or_reports_losses():
    m = mask(TOKENS, SPANS, "en")
    ok = restore("[K] [K] [E] [E] [E]", m, shared=True)
    assert not ok.lost and not ok.repaired
    assert _items(ok)[2:] == [("E", "George Zimmerman"), ("E", "New York"), ("E", "Paris")]
    short = restore("[K] [K] [E] [E]", m, shared=True)
    assert len(short.lost) == 3 and short.mangled == 2


def test_chinese_masking_with_mention_and_emoji():
    tokens = list("@人民日报：我在北京") + ["😀"]
    m = mask(tokens, [(8, 10, "LOC")], "zh")
    assert m.text == "[K0]：我在[E0][K1]"
    assert [(it.kind, it.text) for it in m.items] == [
        ("K", "@人民日报"),
        ("E", "北京"),
        ("K", "😀"),
    ]
    assert protected_ranges(list("看@张三 好"), "zh") == [(1, 4)]


def test_protected_tokens():
    for tok in ("RT", "http://t.co/x", "http…", "@user_1", "😀", "👍🏽", "❤️"):
        assert protected_token(tok), tok
    for tok in ("Rt", "hello", "#tag", "@", ":"):
        assert not protected_token(tok), tok


def test_mask_without_protection_leaves_kept_tokens_as_text():
    m = mask(TOKENS, SPANS, "en", protect=False)
    assert m.text == "RT @bob: [E0] visited [E1] and [E2]"
    assert m.fallback_text == "RT @bob: [E] visited [E] and [E]"
    assert [(it.kind, it.index, it.start, it.end) for it in m.items] == [
        ("E", 0, 3, 5),
        ("E", 1, 6, 8),
        ("E", 2, 9, 10),
    ]


def test_entity_wins_over_a_protected_token_it_covers():
    m = mask(["RT", "@bob", "hi"], [(1, 2, "PER")], "en")
    assert m.text == "[K0] [E0] hi"
    assert [(it.kind, it.index, it.text) for it in m.items] == [("K", 0, "RT"), ("E", 0, "@bob")]


def test_emoji_means_only_pictographs():
    from xmner.translate.placeholder import is_emoji

    for text in ("😀", "👍🏽", "❤️", "👩\u200d💻"):
        assert is_emoji(text), text
    # a letter beside an emoji; modifier symbols (Sk) alone; glue alone; nothing
    for text in ("a😀", "😀a", "^", "\u00b4", "\ufe0f", "\u200d", ""):
        assert not is_emoji(text), text


def test_touching_protected_ranges_are_both_kept_in_chinese():
    # a URL ends where an emoji starts: two ranges, neither swallowed
    tokens = list("看http://t.co/x") + ["😀", "好"]
    assert protected_ranges(tokens, "zh") == [(1, 14), (14, 15)]
    m = mask(tokens, [], "zh")
    assert m.text == "看[K0][K1]好"
    assert [it.text for it in m.items] == ["http://t.co/x", "😀"]


def test_chinese_ranges_must_start_and_end_on_token_boundaries():
    # "@张三" starts inside the token "看@": not protected (nor is the emoji glued to it)
    assert protected_ranges(["看@", "张三", "好"], "zh") == []
    assert protected_ranges(["@张", "三好!"], "zh") == []


def test_chinese_whitespace_tokens_join_as_plain_spaces():
    from xmner.translate.placeholder import join_tokens

    assert join_tokens(["我", "\u00a0", "你"], "zh") == "我 你"
    assert join_tokens(["I", "\u00a0", "you"], "en") == "I \u00a0 you"
    m = mask(["我", "\u3000", "在", "北", "京"], [(3, 5, "LOC")], "zh")
    assert m.text == "我 在[E0]"


def test_strip_placeholders_leaves_a_space():
    from xmner.translate.placeholder import strip_placeholders

    assert strip_placeholders("a[E0]b 【k 2】c") == "a b  c"


def test_english_detokenizer_is_built_on_first_use(monkeypatch):
    from xmner.translate import placeholder

    monkeypatch.setattr(placeholder, "_DETOK", None)
    # English rules: the clitic joins its word (other languages leave "it 's")
    assert placeholder.detokenize_en(["it", "'s", "[E0]", "!"]) == "it's [E0]!"
    assert placeholder._DETOK is not None


def test_restored_segments_keep_text_before_between_and_after():
    m = mask(TOKENS, SPANS, "en")
    r = restore("Hi [K0] [K1]: [E0] went to [E1], [E2] too", m)
    assert r.ok
    assert [(s.text, s.item and (s.item.kind, s.item.index)) for s in r.segments] == [
        ("Hi ", None),
        ("", ("K", 0)),
        (" ", None),
        ("", ("K", 1)),
        (": ", None),
        ("", ("E", 0)),
        (" went to ", None),
        ("", ("E", 1)),
        (", ", None),
        ("", ("E", 2)),
        (" too", None),
    ]


def test_repairs_and_losses_add_up_over_both_kinds():
    m = mask(TOKENS, SPANS, "en")
    repaired = restore("[K] [K9] [E] [E7] [E]", m)
    assert repaired.repaired == 5 and not repaired.lost
    lost = restore("x [E0] [E1]", m)
    assert [it.text for it in lost.lost] == ["Paris", "RT", "@bob"]


def test_index_one_past_the_last_item_is_mangled():
    m = mask(TOKENS, SPANS, "en")
    r = restore("[K0] [K1] [E0] [E3]", m)
    assert r.mangled == 1 and not r.duplicated
    assert [it.text for it in r.lost] == ["New York", "Paris"]
    assert _items(r) == [("K", "RT"), ("K", "@bob"), ("E", "George Zimmerman")]
