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
    assert protected_ranges(list("看@张三 好"), "zh") == [(1, 4)]


def test_protected_tokens():
    for tok in ("RT", "http://t.co/x", "http…", "@user_1", "😀", "👍🏽", "❤️"):
        assert protected_token(tok), tok
    for tok in ("Rt", "hello", "#tag", "@", ":"):
        assert not protected_token(tok), tok
