"""Word-boundary features for character-level Chinese posts, from jieba's segmentation.

Each token gets its place in the jieba word that holds it: ``B`` (begins a word of several
characters), ``M`` (inside), ``E`` (ends) or ``S`` (a word of its own). A post whose tokens are
not all single characters (English) is all ``S``: its tokens are words already. Index 0 is
padding, so the ids are 1..4.
"""

from __future__ import annotations

import functools

from xmner.data.segmenter import jieba

SEG_TAGS = ("<pad>", "B", "M", "E", "S")
_ID = {tag: i for i, tag in enumerate(SEG_TAGS)}


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


@functools.lru_cache(maxsize=65536)
def segment_tags(tokens: tuple[str, ...]) -> tuple[int, ...]:
    """B/M/E/S ids (1..4), one per token; all ``S`` unless every token is one character."""
    if not tokens or any(len(t) != 1 for t in tokens) or not any(map(_is_cjk, tokens)):
        return (_ID["S"],) * len(tokens)
    tags: list[int] = []
    for word in jieba().lcut("".join(tokens), HMM=False):
        n = len(word)
        tags += [_ID["S"]] if n == 1 else [_ID["B"]] + [_ID["M"]] * (n - 2) + [_ID["E"]]
    if len(tags) != len(tokens):  # jieba dropped or merged something: no boundaries known
        return (_ID["S"],) * len(tokens)
    return tuple(tags)
