"""Verified files: each directory's ``MANIFEST.jsonl`` holds the size and SHA-256 of its files.

A writer calls ``record(path)`` once the file is complete (after the atomic rename); a reader
calls ``verify(path)`` (results, predictions, checkpoints: a missing, cut or altered file stops
with one line naming it) or ``usable(path)`` (cache entries: a damaged one is discarded with a
warning and recomputed). A cache entry made of many files (a translated split, an embedding
export, a tokenizer) is ``seal``-ed when complete and checked whole with ``sealed``.

The manifest is append-only, one JSON line per record (the last line for a name wins), so
recording is cheap even in a directory of thousands of image features; a line cut by a crash
is ignored, which leaves its file unrecorded, hence unverified.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from xmner.io import append_text, file_hash

log = logging.getLogger(__name__)

MANIFEST = "MANIFEST.jsonl"


class DamagedFile(ValueError):
    """A file that is missing, unrecorded, cut or altered since it was written."""


@dataclass(frozen=True)
class Entry:
    """What a complete file looked like: its size in bytes and its SHA-256."""

    size: int
    sha256: str


def entry_of(path: str | Path) -> Entry:
    """The size and SHA-256 of ``path`` as it is now."""
    path = Path(path)
    return Entry(path.stat().st_size, file_hash(path, length=64))


def record(path: str | Path, root: str | Path | None = None) -> Entry:
    """Record the complete file ``path`` in ``root``'s manifest (default: its own directory)."""
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    entry = entry_of(path)
    line = {"file": path.relative_to(root).as_posix(), **asdict(entry)}
    append_text(root / MANIFEST, json.dumps(line) + "\n")
    return entry


_PARSED: dict[str, tuple[int, int, dict[str, Entry]]] = {}  # path -> (size, mtime, entries)


def entries(root: str | Path) -> dict[str, Entry]:
    """The manifest of directory ``root``: file name (relative, posix) -> last recorded entry.

    Parsed once per change of the file (a cache of thousands of image features checks each
    entry against the same manifest); treat the result as read-only.
    """
    path = Path(root) / MANIFEST
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    cached = _PARSED.get(str(path))
    if cached and cached[:2] == (stat.st_size, stat.st_mtime_ns):
        return cached[2]
    out = _parse(path)
    _PARSED[str(path)] = (stat.st_size, stat.st_mtime_ns, out)
    return out


def _parse(path: Path) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            item = json.loads(line)
            out[item["file"]] = Entry(int(item["size"]), str(item["sha256"]))
        except (ValueError, KeyError, TypeError):
            log.warning("%s: skipping a damaged manifest line %r", path, line[:80])
    return out


def problem(path: str | Path, root: str | Path | None = None) -> str | None:
    """What is wrong with ``path`` against its manifest entry, or None when it verifies."""
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    expected = entries(root).get(path.relative_to(root).as_posix())
    if not path.is_file():
        return "missing"
    if expected is None:
        return f"not in {root / MANIFEST} (never finished writing, or written by other code)"
    size = path.stat().st_size
    if size != expected.size:
        cut = "cut" if size < expected.size else "grown"
        return f"{cut}: {size} bytes, {expected.size} when written"
    if file_hash(path, length=64) != expected.sha256:
        return "altered since written (SHA-256 differs)"
    return None


def verify(path: str | Path, root: str | Path | None = None) -> Path:
    """``path`` if it is as recorded; else ``DamagedFile`` naming it and what is wrong."""
    what = problem(path, root)
    if what is not None:
        raise DamagedFile(f"{path}: {what}")
    return Path(path)


def usable(path: str | Path, root: str | Path | None = None) -> bool:
    """Whether cache entry ``path`` verifies; a damaged one is deleted with a warning."""
    path = Path(path)
    what = problem(path, root)
    if what is None:
        return True
    if path.exists():
        log.warning("damaged cache entry %s (%s); discarding and recomputing it", path, what)
        path.unlink()
    return False


def seal(root: str | Path) -> None:
    """Record every file under directory ``root`` (a finished multi-file cache entry)."""
    root = Path(root)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name != MANIFEST and not path.name.endswith(".tmp"):
            record(path, root)


def sealed(root: str | Path, required: list[str]) -> bool:
    """Whether cache entry ``root`` is complete and intact; if damaged it is removed (warning).

    ``required`` names the files (relative to ``root``) the entry must hold; every file the
    manifest lists must verify too.
    """
    root = Path(root)
    if not root.is_dir():
        return False
    bad = damage(root, required)
    if not bad:
        return True
    name, what = next(iter(bad.items()))
    log.warning(
        "damaged cache entry %s (%s: %s%s); discarding and recomputing it",
        root, name, what, f", and {len(bad) - 1} more" if len(bad) > 1 else "",
    )  # fmt: skip
    shutil.rmtree(root)
    return False


def damage(root: str | Path, required: list[str]) -> dict[str, str]:
    """What is wrong with cache entry ``root``'s files (name -> problem); changes nothing."""
    root = Path(root)
    names = set(entries(root)) | set(required)
    bad = {name: problem(root / name, root) for name in sorted(names)}
    return {name: what for name, what in bad.items() if what is not None}
