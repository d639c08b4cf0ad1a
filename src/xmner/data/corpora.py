"""The known corpora: where their files live, their format, language and entity types."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from xmner.data.corpus import Post, read_corpus

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class CorpusSpec:
    """A corpus: its name, file format, language, type names and split files."""

    name: str
    fmt: str
    lang: str
    types: tuple[str, ...]
    files: tuple[tuple[str, str], ...]  # (split, file name)

    def file(self, split: str) -> str:
        """The file name of a split (``valid`` is accepted for ``dev``)."""
        split = "dev" if split == "valid" else split
        for name, filename in self.files:
            if name == split:
                return filename
        raise ValueError(f"corpus {self.name} has no split {split!r}; expected one of {SPLITS}")


CORPORA: dict[str, CorpusSpec] = {
    "cmner": CorpusSpec(
        "cmner",
        "cmner",
        "zh",
        ("PER", "LOC", "ORG", "MISC"),
        (("train", "train.txt"), ("dev", "dev.txt"), ("test", "test.txt")),
    ),
    "twitter2015": CorpusSpec(
        "twitter2015",
        "twitter",
        "en",
        ("PER", "LOC", "ORG", "OTHER"),
        (("train", "train.txt"), ("dev", "valid.txt"), ("test", "test.txt")),
    ),
    "twitter2017": CorpusSpec(
        "twitter2017",
        "twitter",
        "en",
        ("PER", "LOC", "ORG", "MISC"),
        (("train", "train.txt"), ("dev", "valid.txt"), ("test", "test.txt")),
    ),
}


def get_spec(name: str) -> CorpusSpec:
    """The spec of a known corpus, or a ValueError listing the known ones."""
    try:
        return CORPORA[name]
    except KeyError:
        raise ValueError(f"unknown corpus {name!r}; expected one of {sorted(CORPORA)}") from None


def data_dir(explicit: str | Path | None = None) -> Path:
    """Corpus root: ``explicit``, $XMNER_DATA, ../shared/data if present, or ~/.cache/xmner."""
    if explicit:
        return Path(explicit)
    if os.environ.get("XMNER_DATA"):
        return Path(os.environ["XMNER_DATA"])
    repo_root = Path(__file__).resolve().parents[3]
    for candidate in (Path.cwd().parent / "shared" / "data", repo_root.parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return Path.home() / ".cache" / "xmner"


def split_path(corpus: str, split: str, root: str | Path | None = None) -> Path:
    """Path of ``DATA_DIR/<corpus>/<split file>``."""
    spec = get_spec(corpus)
    return data_dir(root) / spec.name / spec.file(split)


def load_split(
    corpus: str, split: str, root: str | Path | None = None, *, repair: bool = False
) -> list[Post]:
    """Read one split of a known corpus, checking its tags against the corpus' types."""
    spec = get_spec(corpus)
    path = split_path(corpus, split, root)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no {corpus} {split} file "
            "(set --data-dir or $XMNER_DATA, or run 'xmner data fetch')"
        )
    return read_corpus(path, spec.fmt, corpus=spec.name, types=spec.types, repair=repair)
