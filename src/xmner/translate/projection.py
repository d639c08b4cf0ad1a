"""Projection: restored MT output -> target tokens and BIO tags in the target corpus' style.

Chinese output is tokenised like CMNER: one token per character, whitespace dropped (Latin
words become characters too). English output is tokenised like Twitter-2015 as closely as
sacremoses allows: Moses with ``escape=False`` and URLs, @mentions and #hashtags kept whole.
A restored entity gets ``B-``/``I-`` of its type renamed for the target corpus; all else ``O``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from xmner.data.tags import TYPE_ALIASES
from xmner.translate.placeholder import ENTITY, Item, Segment, strip_placeholders

_PROTECTED_EN = [r"https?://\S+", r"@\w+", r"#\w+"]
_PLAIN = re.compile(r"[A-Za-z0-9 ]*")  # Moses leaves such text as its space-split words
_MOSES = None


def tokenize(text: str, lang: str) -> list[str]:
    """Target tokens: characters without whitespace (zh) or Moses tokens, unescaped (en)."""
    if lang == "zh":
        return [ch for ch in text if not ch.isspace()]
    text = " ".join(text.split())
    if _PLAIN.fullmatch(text):
        return text.split()
    return list(_moses(text))


@lru_cache(maxsize=65536)
def _moses(text: str) -> tuple[str, ...]:
    global _MOSES
    if _MOSES is None:
        from sacremoses import MosesTokenizer

        _MOSES = MosesTokenizer(lang="en")
    return tuple(_MOSES.tokenize(text, escape=False, protected_patterns=_PROTECTED_EN))


def type_mapping(target_types: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Source type -> target type: ``OTHER``/``MISC`` become whichever the target corpus uses."""
    misc = "OTHER" if "OTHER" in target_types else "MISC"
    mapping = {alias: canon for alias, canon in TYPE_ALIASES.items()}  # OTHER -> MISC
    mapping = {src: (misc if dst == "MISC" else dst) for src, dst in mapping.items()}
    mapping["MISC"] = misc
    return mapping


@dataclass
class Projection:
    """Target tokens and tags of one post, and which entities made it (or needed the fallback)."""

    tokens: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    projected: list[Item] = field(default_factory=list)
    copied: list[Item] = field(default_factory=list)  # empty translation: source surface used
    lost: list[Item] = field(default_factory=list)
    entity_texts: dict[int, str] = field(default_factory=dict)  # index -> text projected


def keep_tokens(item: Item, lang: str) -> list[str]:
    """A verbatim item's target tokens: its source tokens (en) or its characters (zh)."""
    if lang == "zh":
        return tokenize(item.text, "zh")
    return item.text.split()


def project(
    segments: list[Segment],
    entity_texts: dict[int, str],
    lang: str,
    mapping: dict[str, str],
) -> Projection:
    """Tokens and tags for restored ``segments``; ``entity_texts[i]`` is entity ``i`` translated."""
    out = Projection()
    for seg in segments:
        if seg.item is None:
            toks = tokenize(strip_placeholders(seg.text), lang)
            out.tokens += toks
            out.tags += ["O"] * len(toks)
            continue
        item = seg.item
        if item.kind != ENTITY:
            toks = keep_tokens(item, lang)
            out.tokens += toks
            out.tags += ["O"] * len(toks)
            continue
        text = strip_placeholders(entity_texts.get(item.index, ""))
        toks = tokenize(text, lang)
        if not toks:
            text, toks = item.text, tokenize(item.text, lang)
            out.copied.append(item)
        if not toks:
            out.lost.append(item)
            continue
        label = mapping.get(item.label, item.label)
        out.tokens += toks
        out.tags += [f"B-{label}"] + [f"I-{label}"] * (len(toks) - 1)
        out.entity_texts[item.index] = text
        out.projected.append(item)
    return out
