"""Exports: the ACN embedding matrix + vocabulary, the induced lexicon, aligned ``.vec`` files.

ACN files in a directory: ``acn_vocab.txt`` (one token per line; line i = matrix row i; row 0
``<pad>`` all zeros, row 1 ``<unk>``) and ``acn_embeddings.npy`` (float32, V x D).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xmner.align.embeddings import Embeddings
from xmner.align.procrustes import csls_topk
from xmner.io import atomic_open, write_text

log = logging.getLogger(__name__)

PAD, UNK = "<pad>", "<unk>"
VOCAB_FILE, MATRIX_FILE = "acn_vocab.txt", "acn_embeddings.npy"


@dataclass
class AcnExport:
    """What ``export_acn_embeddings`` wrote: sizes and how many tokens had no vector."""

    vocab_path: Path
    matrix_path: Path
    size: int  # rows, including <pad> and <unk>
    dim: int
    found: int
    lowercased: int  # found only through the lower-case fallback
    random: int  # initialised uniformly in [-scale, scale]


def export_acn_embeddings(
    tokens: Iterable[str],
    spaces: Sequence[Embeddings],
    out_dir: str | Path,
    *,
    scale: float = 0.25,
    seed: int = 1,
    lowercase_fallback: bool = True,
    optional: Iterable[str] = (),
) -> AcnExport:
    """Write the ACN matrix for ``tokens`` (deduplicated, order kept) from aligned ``spaces``.

    A token takes its vector from the first space that holds it (as is, else lower-cased);
    tokens found nowhere, and ``<unk>``, get U(-scale, scale) vectors from ``seed``.
    ``optional`` tokens (words seen only outside training) get a row only if a space holds
    them: a random row no training step ever saw would be noise, ``<unk>`` is learnt.
    """
    if not spaces or len({s.dim for s in spaces}) != 1:
        raise ValueError(f"expected spaces of one dimension, got {[s.dim for s in spaces]}")
    dim = spaces[0].dim
    tokens = list(dict.fromkeys(tokens))
    known = set(tokens)
    tokens += [
        t for t in dict.fromkeys(optional)
        if t not in known and _lookup(t, spaces, lowercase_fallback)[0] is not None
    ]  # fmt: skip
    vocab = [PAD, UNK] + [t for t in tokens if t not in (PAD, UNK) and t]
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-scale, scale, size=(len(vocab), dim)).astype(np.float32)
    matrix[0] = 0.0
    found = lowered = 0
    for row, token in enumerate(vocab[2:], start=2):
        vec, via_lower = _lookup(token, spaces, lowercase_fallback)
        if vec is not None:
            matrix[row] = vec
            found += 1
            lowered += via_lower
    out = Path(out_dir)
    write_text(out / VOCAB_FILE, "".join(f"{t}\n" for t in vocab))
    with atomic_open(out / MATRIX_FILE, "wb") as f:
        np.save(f, matrix)
    n_random = len(vocab) - 2 - found
    log.info("ACN export: %d tokens, %d with vectors, %d random", len(vocab) - 2, found, n_random)
    return AcnExport(out / VOCAB_FILE, out / MATRIX_FILE, len(vocab), dim, found, lowered, n_random)


def _lookup(token: str, spaces: Sequence[Embeddings], lowercase: bool):
    for space in spaces:
        i = space.index(token)
        if i is not None:
            return space.vectors[i], False
    if lowercase and token.lower() != token:
        for space in spaces:
            i = space.index(token.lower())
            if i is not None:
                return space.vectors[i], True
    return None, False


def load_acn_embeddings(directory: str | Path) -> tuple[list[str], np.ndarray]:
    """Read ``acn_vocab.txt`` and ``acn_embeddings.npy``; checks they agree."""
    directory = Path(directory)
    text = (directory / VOCAB_FILE).read_text(encoding="utf-8")
    vocab = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
    matrix = np.load(directory / MATRIX_FILE)
    if matrix.shape[0] != len(vocab) or vocab[:2] != [PAD, UNK]:
        raise ValueError(
            f"{directory}: expected {len(vocab)} rows starting <pad>, <unk>; "
            f"got matrix {matrix.shape} and vocab starting {vocab[:2]}"
        )
    return vocab, matrix.astype(np.float32, copy=False)


def induce_lexicon(
    src: Embeddings,
    tgt: Embeddings,
    *,
    max_src: int | None = None,
    knn: int = 10,
) -> list[tuple[str, str]]:
    """Best CSLS target word for each of the ``max_src`` most frequent source words.

    Both spaces must already be aligned (one shared space).
    """
    s = src.tensor()[:max_src]
    _, idx = csls_topk(s, tgt.tensor(), 1, knn=knn)
    return [(src.words[i], tgt.words[j]) for i, j in enumerate(idx[:, 0].tolist())]


def write_lexicon(path: str | Path, pairs: Iterable[tuple[str, str]]) -> None:
    """``src tgt`` per line, atomically (the translate package's ``lexicon`` engine reads it)."""
    write_text(path, "".join(f"{s} {t}\n" for s, t in pairs))
