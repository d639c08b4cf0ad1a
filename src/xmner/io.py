"""Atomic file writes (temp file in the same directory, then rename), reads that name their file.

Every write and read failure names the file: a full disk (ENOSPC, EFBIG) becomes an ``OSError``
whose message starts with the path, a damaged JSON file a ``ValueError`` with ``path:line``.
Files written here get the same mode as any other new file (0666 less the umask), not the 0600
of ``tempfile.mkstemp``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() gives a new file


def write_error(path: str | Path, err: OSError) -> OSError:
    """``err`` again, its message naming ``path`` (disk full, file too large, permission)."""
    return type(err)(err.errno, f"cannot write {path}: {err.strerror or err}")


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temp file beside ``path``; on success rename it over ``path``, else delete it."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise write_error(path, err) from err
    binary = "b" in mode
    try:
        with os.fdopen(
            fd, mode, encoding=None if binary else encoding, newline=None if binary else ""
        ) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        if str(path) in str(err):
            raise
        raise write_error(path, err) from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8, newlines as given)."""
    with atomic_open(path, "w") as f:
        f.write(text)


def append_text(path: str | Path, text: str) -> None:
    """Append ``text`` to ``path`` and flush it to disk (log-like files: ``metrics.jsonl``)."""
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise write_error(path, err) from err


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON, atomically."""
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def read_text(path: str | Path) -> str:
    """A UTF-8 file's text; a file that is not UTF-8 is a ``ValueError`` naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (byte {err.start}: {err.reason})") from None


def read_json(path: str | Path) -> Any:
    """Read a JSON file; a damaged one is a ``ValueError`` naming the file and line."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        what = "empty file" if not text.strip() else err.msg
        raise ValueError(
            f"{path}:{err.lineno}: not valid JSON ({what}, column {err.colno})"
        ) from None


def content_hash(*parts: Any, length: int = 16) -> str:
    """A short stable hash of JSON-serialisable parts (cache keys for shared artefacts)."""
    blob = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:length]


def file_hash(path: str | Path, length: int = 16) -> str:
    """SHA-256 of a file's bytes, shortened (``length=64`` for the full digest)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:length]
