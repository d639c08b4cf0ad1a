"""Placeholders: mask entities and untranslatable tokens before MT, restore them after.

Each entity span becomes an indexed placeholder ``[E0]``, ``[E1]``, ... so that an engine which
reorders the sentence cannot swap entities; URLs, @mentions, emoji and the ``RT`` marker become
``[K0]``, ``[K1]``, ... and are copied back verbatim. When an engine mangles the indices, the
shared fallback text uses bare ``[E]``/``[K]`` placeholders that are filled in source order.

Restoring reads placeholders leniently (``[ E 3 ]``, full-width or lenticular brackets, lower
case) because MT engines rewrite punctuation. Rules, in order:

1. every index ``0..n-1`` appears exactly once: restore by index, in the order they come back;
2. the count of placeholders of a kind equals ``n`` but indices are wrong (bare, unknown,
   duplicated): fill them in source order (``repaired``);
3. otherwise keep the first occurrence of each valid index, drop the rest (``duplicated``,
   ``mangled``) and count the missing indices as ``lost``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

ENTITY, KEEP = "E", "K"
PLACEHOLDER_RE = re.compile(r"[\[［【]\s*([EeKk])\s*(\d{0,3})\s*[\]］】]")
_URL = re.compile(r"^(?:https?\S*|www\.\S+|\S+\.(?:com|org|net|co)/\S*)$", re.IGNORECASE)
_MENTION_TOKEN = re.compile(r"^@\w+$")
_URL_TEXT = re.compile(r"https?://[A-Za-z0-9./?=&_%#:~+-]+")
_MENTION_TEXT = re.compile(r"@[^\s@#:：,，。!！?？、;；()（）\[\]【】]{1,30}")
# Zero-width joiner, variation selectors and skin-tone modifiers travel with an emoji.
_EMOJI_GLUE = {"\u200d", "\ufe0e", "\ufe0f"}


@dataclass
class Item:
    """A masked source span: entity (``E``) or kept token(s) (``K``) at tokens start..end."""

    kind: str
    index: int
    start: int
    end: int
    label: str  # entity type; "" for kept spans
    text: str  # the source surface


@dataclass
class Masked:
    """A post's text with placeholders, the items they stand for, and the shared-fallback text."""

    text: str
    items: list[Item]
    fallback_text: str

    def of_kind(self, kind: str) -> list[Item]:
        """Items of one kind, in source order."""
        return [it for it in self.items if it.kind == kind]


@dataclass
class Segment:
    """A piece of restored output: free text, or the item a placeholder stood for."""

    text: str
    item: Item | None = None


@dataclass
class Restored:
    """Restored output segments and what went wrong on the way."""

    segments: list[Segment]
    lost: list[Item] = field(default_factory=list)
    duplicated: int = 0
    mangled: int = 0
    repaired: int = 0

    @property
    def ok(self) -> bool:
        """True when every item came back exactly once with its own index."""
        return not (self.lost or self.duplicated or self.mangled or self.repaired)


def placeholder(kind: str, index: int | None = None) -> str:
    """``[E3]`` (indexed) or ``[E]`` (shared fallback)."""
    return f"[{kind}{'' if index is None else index}]"


def strip_placeholders(text: str) -> str:
    """``text`` with every placeholder-like string removed (a last guard against leaks)."""
    return PLACEHOLDER_RE.sub(" ", text)


def has_placeholder(text: str) -> bool:
    """Whether ``text`` contains anything that reads as a placeholder."""
    return PLACEHOLDER_RE.search(text) is not None


def is_emoji(text: str) -> bool:
    """Whether ``text`` is only pictographic symbols (with their joiners/modifiers)."""
    cats = [unicodedata.category(ch) for ch in text if ch not in _EMOJI_GLUE]
    return bool(cats) and all(c in ("So", "Sk") for c in cats) and "So" in cats


def protected_token(token: str) -> bool:
    """URL, @mention, emoji or the retweet marker: copied verbatim, never translated."""
    return (
        token == "RT"
        or _URL.match(token) is not None
        or _MENTION_TOKEN.match(token) is not None
        or is_emoji(token)
    )


def protected_ranges(tokens: list[str], lang: str) -> list[tuple[int, int]]:
    """Token ranges ``[start, end)`` kept verbatim (per token in English, per match in Chinese)."""
    if lang != "zh":
        return [(i, i + 1) for i, tok in enumerate(tokens) if protected_token(tok)]
    offsets, pos = [], 0
    for tok in tokens:
        offsets.append(pos)
        pos += len(tok)
    starts = {off: i for i, off in enumerate(offsets)}
    ends = {off + len(tok): i + 1 for i, (off, tok) in enumerate(zip(offsets, tokens, strict=True))}
    text = "".join(tokens)
    ranges = []
    for pattern in (_URL_TEXT, _MENTION_TEXT):
        for m in pattern.finditer(text):
            if m.start() in starts and m.end() in ends:
                ranges.append((starts[m.start()], ends[m.end()]))
    ranges += [(i, i + 1) for i, tok in enumerate(tokens) if is_emoji(tok)]
    return _non_overlapping(sorted(ranges))


def _non_overlapping(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in ranges:
        if not out or start >= out[-1][1]:
            out.append((start, end))
    return out


def join_tokens(tokens: list[str], lang: str) -> str:
    """Source text of tokens: characters concatenated for Chinese, spaces between for English."""
    if lang == "zh":
        return "".join(" " if tok.isspace() else tok for tok in tokens)
    return " ".join(tokens)


def mask(
    tokens: list[str], spans: list[tuple[int, int, str]], lang: str, *, protect: bool = True
) -> Masked:
    """Replace entity spans ``(start, end, label)`` and protected tokens with placeholders."""
    keeps = protected_ranges(tokens, lang) if protect else []
    taken = [False] * len(tokens)
    for start, end, _ in spans:
        for i in range(start, end):
            taken[i] = True
    keeps = [(s, e) for s, e in keeps if not any(taken[s:e])]
    marks = sorted(
        [(s, e, lbl, ENTITY) for s, e, lbl in spans] + [(s, e, "", KEEP) for s, e in keeps]
    )
    counters = {ENTITY: 0, KEEP: 0}
    items: list[Item] = []
    pieces: list[str | Item] = []
    pos = 0
    for start, end, label, kind in marks:
        pieces += tokens[pos:start]
        item = Item(kind, counters[kind], start, end, label, join_tokens(tokens[start:end], lang))
        counters[kind] += 1
        items.append(item)
        pieces.append(item)
        pos = end
    pieces += tokens[pos:]

    def render(indexed: bool) -> str:
        out = [
            p if isinstance(p, str) else placeholder(p.kind, p.index if indexed else None)
            for p in pieces
        ]
        return _detok(out, lang)

    return Masked(render(True), items, render(False))


def _detok(tokens: list[str], lang: str) -> str:
    if lang == "zh":
        return join_tokens(tokens, lang)
    return detokenize_en(tokens)


_DETOK = None


def detokenize_en(tokens: list[str]) -> str:
    """Moses detokenisation (placeholders are single tokens and survive it)."""
    global _DETOK
    if _DETOK is None:
        from sacremoses import MosesDetokenizer

        _DETOK = MosesDetokenizer(lang="en")
    return _DETOK.detokenize(tokens)


def restore(text: str, masked: Masked, *, shared: bool = False) -> Restored:
    """Split MT output into text and item segments, following the rules in the module doc.

    ``shared`` says the text came from ``masked.fallback_text``: placeholders are then filled
    in source order by kind.
    """
    found = [
        (m.start(), m.end(), m.group(1).upper(), m.group(2)) for m in PLACEHOLDER_RE.finditer(text)
    ]
    result = Restored([])
    chosen: dict[int, Item | None] = {}  # position in found -> item (None: drop it)
    for kind in (ENTITY, KEEP):
        items = masked.of_kind(kind)
        hits = [k for k, f in enumerate(found) if f[2] == kind]
        indices = [found[k][3] for k in hits]
        exact = sorted(indices) == sorted(str(i) for i in range(len(items)))
        if exact and not shared:
            for k, idx in zip(hits, indices, strict=True):
                chosen[k] = items[int(idx)]
        elif len(hits) == len(items):
            for k, item in zip(hits, items, strict=True):
                chosen[k] = item
            if not shared:
                result.repaired += len(items)
        else:
            seen: set[int] = set()
            for k, idx in zip(hits, indices, strict=True):
                if idx.isdigit() and int(idx) < len(items) and int(idx) not in seen:
                    seen.add(int(idx))
                    chosen[k] = items[int(idx)]
                else:
                    chosen[k] = None
                    if idx.isdigit() and int(idx) in seen:
                        result.duplicated += 1
                    else:
                        result.mangled += 1
            result.lost += [it for it in items if it.index not in seen]
    pos = 0
    for k, (start, end, _, _) in enumerate(found):
        result.segments.append(Segment(text[pos:start]))
        if chosen.get(k) is not None:
            result.segments.append(Segment("", chosen[k]))
        pos = end
    result.segments.append(Segment(text[pos:]))
    result.segments = [s for s in result.segments if s.item is not None or s.text]
    return result
