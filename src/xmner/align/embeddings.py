"""Word embeddings: word2vec text ``.vec`` and fastText ``.bin`` I/O, normalisation, training.

A ``.vec`` file starts with a header ``<count> <dim>``, then one ``word v1 ... vD`` line per word,
most frequent first (fastText and MUSE write them so). V words, D dimensions.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from xmner.io import atomic_open
from xmner.textfile import iter_lines

log = logging.getLogger(__name__)


_TRAIN_SCRIPT = (
    "import json, sys, fasttext; "
    "fasttext.train_unsupervised(**json.loads(sys.argv[1])).save_model(sys.argv[2])"
)


class VecFormatError(ValueError):
    """A malformed ``.vec`` file; the message names the file and line."""


@dataclass
class Embeddings:
    """Words (most frequent first) and their vectors (V, D) float32."""

    words: list[str]
    vectors: np.ndarray
    skipped: int = 0  # malformed lines skipped while reading
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.words):
            raise ValueError(
                f"expected vectors of shape ({len(self.words)}, D), got {self.vectors.shape}"
            )
        self._index = {w: i for i, w in enumerate(self.words)}
        if len(self._index) != len(self.words):
            raise ValueError("duplicate words in embeddings")

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self._index

    @property
    def dim(self) -> int:
        """Vector dimension D."""
        return self.vectors.shape[1]

    def index(self, word: str) -> int | None:
        """Row of ``word``, or None."""
        return self._index.get(word)

    def top(self, n: int) -> Embeddings:
        """The ``n`` most frequent words (the first rows)."""
        return Embeddings(self.words[:n], self.vectors[:n])

    def tensor(self) -> torch.Tensor:
        """Vectors as a float32 tensor (V, D), sharing memory."""
        return torch.from_numpy(self.vectors)

    def with_vectors(self, vectors: torch.Tensor | np.ndarray) -> Embeddings:
        """Same words, new vectors (e.g. mapped or normalised)."""
        if isinstance(vectors, torch.Tensor):
            vectors = vectors.detach().cpu().numpy()
        return Embeddings(list(self.words), vectors)


def normalize(x: torch.Tensor, *, center: bool = True, unit_length: bool = True) -> torch.Tensor:
    """MUSE's ``renorm,center,renorm``: unit length, subtract the mean, unit length again (V, D)."""
    if unit_length:
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    if center:
        x = x - x.mean(dim=0, keepdim=True)
        if unit_length:
            x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return x


def _parse_header(line: str, path: Path) -> tuple[int, int]:
    parts = line.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise VecFormatError(f"{path}:1: expected a header '<count> <dim>', got {line[:60]!r}")
    return int(parts[0]), int(parts[1])


def read_vec(
    path: str | Path, *, max_words: int | None = None, skip_bad: bool = False
) -> Embeddings:
    """Read a ``.vec`` file (UTF-8, BOM tolerated); malformed lines raise unless ``skip_bad``.

    A line is malformed if it does not hold a word and exactly D numbers, or repeats a word.
    With ``skip_bad`` such lines are skipped and counted in ``Embeddings.skipped``.
    """
    path = Path(path)
    words: list[str] = []
    rows: list[np.ndarray] = []
    seen: set[str] = set()
    skipped = 0
    with closing(iter_lines(path, what="a '<count> <dim>' header and vectors")) as lines:
        count, dim = _parse_header(next(lines)[1], path)
        lineno = 1
        for lineno, line in lines:
            if max_words is not None and len(words) >= max_words:
                break
            parts = line.rstrip("\r").rstrip(" ").rsplit(" ", dim)
            problem = None
            if len(parts) != dim + 1 or not parts[0]:
                problem = f"expected a word and {dim} numbers, got {len(parts) - 1} fields"
            elif parts[0] in seen:
                problem = f"duplicate word {parts[0]!r}"
            else:
                try:
                    vec = np.asarray(parts[1:], dtype=np.float32)
                except ValueError:
                    problem = "expected numbers after the word"
            if problem:
                if not skip_bad:
                    raise VecFormatError(f"{path}:{lineno}: {problem}")
                skipped += 1
                continue
            seen.add(parts[0])
            words.append(parts[0])
            rows.append(vec)
    if max_words is None and len(words) + skipped != count:
        found = len(words) + skipped
        truncated = " (truncated?)" if found < count else ""
        raise VecFormatError(
            f"{path}:{lineno}: header says {count} words, found {found}{truncated}"
        )
    if skipped:
        log.warning("%s: skipped %d malformed lines", path, skipped)
    vectors = np.stack(rows) if rows else np.zeros((0, dim), np.float32)
    return Embeddings(words, vectors, skipped)


def write_vec(path: str | Path, emb: Embeddings, *, precision: int = 6) -> None:
    """Write a ``.vec`` file atomically (``precision`` significant digits)."""
    fmt = " ".join([f"%.{precision}g"] * emb.dim)
    with atomic_open(path, "w") as f:
        f.write(f"{len(emb)} {emb.dim}\n")
        for word, vec in zip(emb.words, emb.vectors, strict=True):
            f.write(f"{word} {fmt % tuple(vec)}\n")


def load_fasttext(path: str | Path):
    """Load a fastText ``.bin`` model (fasttext imported here, not at package import)."""
    import fasttext

    if not Path(path).is_file():
        raise FileNotFoundError(f"no fastText model at {path}")
    fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence its load warning
    return fasttext.load_model(str(path))


def read_bin(
    path: str | Path, *, max_words: int | None = None, extra_words: Iterable[str] = ()
) -> Embeddings:
    """Vocabulary vectors of a fastText ``.bin`` (by frequency), plus ``extra_words`` built from
    subwords (out-of-vocabulary words get vectors from their character n-grams)."""
    model = load_fasttext(path)
    words = [w for w in model.get_words() if w != "</s>"][:max_words]
    known = set(words)
    words += [w for w in dict.fromkeys(extra_words) if w not in known]
    return Embeddings(words, np.stack([model.get_word_vector(w) for w in words]))


def read_embeddings(
    path: str | Path, *, max_words: int | None = None, skip_bad: bool = False
) -> Embeddings:
    """``.bin`` through fastText, anything else as ``.vec`` text."""
    if Path(path).suffix == ".bin":
        return read_bin(path, max_words=max_words)
    return read_vec(path, max_words=max_words, skip_bad=skip_bad)


@dataclass
class FastTextConfig:
    """fastText skipgram settings; small files by default (bucket <= 200k)."""

    dim: int = 300
    epoch: int = 10
    min_count: int = 2
    window: int = 5
    lr: float = 0.05
    neg: int = 5
    minn: int = 3  # character n-gram lengths; 2..2 for one-character (Chinese) tokens
    maxn: int = 6
    bucket: int = 200_000
    threads: int = 1  # 1 is reproducible; several threads on a small vocabulary can diverge (NaN)

    def __post_init__(self) -> None:
        if not 0 < self.bucket <= 200_000:
            raise ValueError(f"expected 0 < bucket <= 200000 (small .bin files), got {self.bucket}")
        if not 0 < self.minn <= self.maxn:
            # fasttext-numpy2-wheel 0.9.2 produces NaN with maxn=0 (no subwords) once the
            # process heap is in use, so subwords stay on; see docs/align.md.
            raise ValueError(f"expected 0 < minn <= maxn, got minn={self.minn} maxn={self.maxn}")

    @classmethod
    def for_characters(cls, **overrides) -> FastTextConfig:
        """Settings for one-character tokens (CMNER): n-grams '<X' and 'X>' only, small bucket."""
        return cls(**{"minn": 2, "maxn": 2, "bucket": 100_000, **overrides})


def train_fasttext(
    texts: Sequence[Sequence[str]],
    config: FastTextConfig,
    *,
    out_vec: str | Path | None = None,
    out_bin: str | Path | None = None,
    progress: bool = False,
    name: str = "fastText",
) -> Embeddings:
    """Train fastText skipgram on pre-tokenised texts; returns (and optionally writes) vectors.

    ``progress`` prints start, heartbeat and end lines naming ``name``: fastText 0.9.2 has no
    epoch callback in Python, and with one thread it prints nothing until done even verbose.
    """
    from xmner.progress import Task

    lines = [" ".join(t for t in text if t and not t.isspace()) for text in texts]
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError("expected at least one non-empty text to train fastText on")
    epochs = f"{config.epoch} epoch{'s' if config.epoch != 1 else ''}"
    what = f"{len(lines)} texts, dim {config.dim}, {epochs}"
    task = Task(name, what=what, enabled=progress)
    with task, tempfile.TemporaryDirectory(prefix="xmner-fasttext-") as tmp:
        corpus, model_path = Path(tmp) / "corpus.txt", Path(tmp) / "model.bin"
        corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
        args = {
            "input": str(corpus),
            "model": "skipgram",
            "dim": config.dim,
            "epoch": config.epoch,
            "minCount": config.min_count,
            "ws": config.window,
            "lr": config.lr,
            "neg": config.neg,
            "minn": config.minn,
            "maxn": config.maxn,
            "bucket": config.bucket,
            "thread": config.threads,
            "verbose": 0,
        }
        # fasttext-numpy2-wheel 0.9.2 can hit NaN when training in a process whose heap is
        # already in use (seen with data loaded); a fresh interpreter trains reliably.
        proc = subprocess.run(
            [sys.executable, "-c", _TRAIN_SCRIPT, json.dumps(args), str(model_path)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"fastText training failed: {proc.stderr.strip()[-500:]}")
        model = load_fasttext(model_path)
        if out_bin is not None:
            Path(out_bin).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(model_path, out_bin)
        words = [w for w in model.get_words() if w != "</s>"]
        emb = Embeddings(words, np.stack([model.get_word_vector(w) for w in words]))
        task.result = f"{len(emb)} words x {emb.dim}"
    log.info("fastText: %d texts -> %d words x %d", len(lines), len(emb), emb.dim)
    if out_vec is not None:
        write_vec(out_vec, emb)
    return emb
