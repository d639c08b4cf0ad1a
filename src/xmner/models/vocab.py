"""Word and character vocabularies for ACN, and the aligned embeddings exported by ``align/``.

Conventions shared with ``align/``'s export: index 0 is ``<pad>``, index 1 is ``<unk>``;
``acn_vocab.txt`` holds one entry per line in row order, ``acn_embeddings.npy`` the matrix.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from xmner.data.corpus import Post
from xmner.io import read_text

log = logging.getLogger(__name__)

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1


def _from_counts(counts: Counter, min_count: int) -> list[str]:
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    kept = [w for w, c in counts.items() if c >= min_count and w not in (PAD, UNK)]
    kept.sort(key=lambda w: (-counts[w], w))  # frequent first, ties in a fixed order
    return [PAD, UNK, *kept]


def build_vocab(posts: Iterable[Post], min_count: int = 1) -> list[str]:
    """Tokens seen at least ``min_count`` times, most frequent first, after ``<pad>``, ``<unk>``."""
    return _from_counts(Counter(tok for post in posts for tok in post.tokens), min_count)


def build_char_vocab(posts: Iterable[Post], min_count: int = 1) -> list[str]:
    """Characters of the tokens, seen at least ``min_count`` times, after ``<pad>``, ``<unk>``."""
    return _from_counts(
        Counter(ch for post in posts for tok in post.tokens for ch in tok), min_count
    )


def token_bigrams(tokens: list[str]) -> list[str]:
    """Each token joined to the next (the last to an end mark): character bigrams for Chinese."""
    return [f"{a} {b}" for a, b in zip(tokens, [*tokens[1:], "</s>"])]


def build_bigram_vocab(posts: Iterable[Post], min_count: int = 1) -> list[str]:
    """Token bigrams (see ``token_bigrams``) seen at least ``min_count`` times."""
    return _from_counts(Counter(b for post in posts for b in token_bigrams(post.tokens)), min_count)


def check_vocab(entries: list[str], what: str = "vocabulary") -> None:
    """ValueError unless ``entries`` starts ``<pad>``, ``<unk>`` and has no duplicates."""
    if entries[:2] != [PAD, UNK]:
        raise ValueError(f"{what}: expected rows 0 and 1 to be {PAD!r}, {UNK!r}, got {entries[:2]}")
    if len(set(entries)) != len(entries):
        dup = next(w for w, c in Counter(entries).items() if c > 1)
        raise ValueError(f"{what}: duplicate entry {dup!r}")


def read_vocab(path: str | Path) -> list[str]:
    """Read ``acn_vocab.txt``: one entry per line (row order), rows 0/1 ``<pad>``/``<unk>``."""
    path = Path(path)
    text = read_text(path)
    entries = text.split("\n")
    if entries and entries[-1] == "":
        entries.pop()
    entries = [e[:-1] if e.endswith("\r") else e for e in entries]
    check_vocab(entries, str(path))
    return entries


def load_embeddings(
    vocab_path: str | Path, matrix_path: str | Path
) -> tuple[list[str], torch.Tensor]:
    """The words and the (V, E) float32 matrix of an ``align/`` export, checked to agree."""
    words = read_vocab(vocab_path)
    try:
        matrix = np.load(matrix_path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:  # numpy suggests allow_pickle for any damage
        raise ValueError(f"{matrix_path}: not a readable .npy matrix (damaged or cut)") from err
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        raise ValueError(
            f"{matrix_path}: expected a ({len(words)}, E) matrix for the {len(words)} rows of "
            f"{vocab_path}, got shape {matrix.shape}"
        )
    if not np.isfinite(matrix).all():
        raise ValueError(f"{matrix_path}: the matrix holds NaN or infinite values")
    log.info("loaded %d x %d embeddings from %s", *matrix.shape, matrix_path)
    return words, torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32))
