"""A persistent translation cache (sqlite) keyed by engine, model, languages and source text.

Translations are committed chunk by chunk, so an interrupted corpus run resumes where it
stopped and a second run of the same corpus is a lookup.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from xmner.translate.backends import Translator, for_entities

log = logging.getLogger(__name__)

_SCHEMA = """CREATE TABLE IF NOT EXISTS translations (
    engine TEXT NOT NULL, model TEXT NOT NULL, src TEXT NOT NULL, tgt TEXT NOT NULL,
    text TEXT NOT NULL, output TEXT NOT NULL,
    PRIMARY KEY (engine, model, src, tgt, text))"""


class TranslationCache:
    """sqlite file of (engine, model, src, tgt, text) -> output."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = self._open()
        except sqlite3.DatabaseError as err:  # a damaged cache is rebuilt, never fatal
            log.warning("damaged translation cache %s (%s); discarding, rebuilding", path, err)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            db.commit()
            (verdict,) = db.execute("PRAGMA quick_check").fetchone()
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {verdict}")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def get(self, key: tuple[str, str, str, str], texts: list[str]) -> dict[str, str]:
        """Cached outputs of those ``texts`` that have one."""
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(texts))
        for i in range(0, len(unique), 500):
            chunk = unique[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                "SELECT text, output FROM translations WHERE engine=? AND model=? AND src=? "
                f"AND tgt=? AND text IN ({marks})",
                (*key, *chunk),
            )
            found.update(rows)
        return found

    def put(self, key: tuple[str, str, str, str], pairs: list[tuple[str, str]]) -> None:
        """Store ``(text, output)`` pairs and commit."""
        self.db.executemany(
            "INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?, ?, ?)",
            [(*key, text, out) for text, out in pairs],
        )
        self.db.commit()

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM translations").fetchone()[0]

    def close(self) -> None:
        """Close the database."""
        self.db.close()


def cache_key(translator: Translator) -> tuple[str, str, str, str]:
    """(engine, model, src, tgt) of a translator, from its attributes.

    The model part carries the translator's ``settings`` (beams, maximum length, weights'
    quantization) when it has them: a translation made with other settings is another entry.
    """
    model = str(getattr(translator, "model", ""))
    settings = str(getattr(translator, "settings", "") or "")
    return (
        str(getattr(translator, "engine", type(translator).__name__)),
        f"{model} [{settings}]" if settings else model,
        str(getattr(translator, "src", "")),
        str(getattr(translator, "tgt", "")),
    )


class CachedTranslator:
    """Wraps a translator: cached texts are looked up, the rest translated in committed chunks."""

    def __init__(
        self,
        translator: Translator,
        cache: TranslationCache,
        *,
        chunk_size: int = 256,
    ):
        self.inner, self.cache, self.chunk_size = translator, cache, chunk_size
        self.engine, self.model, self.src, self.tgt = cache_key(translator)
        self.hits = self.misses = 0

    def for_entities(self) -> CachedTranslator:
        """The cached engine for entity spans (its own cache entries when its model differs)."""
        inner = for_entities(self.inner)
        if inner is self.inner:
            return self
        return CachedTranslator(inner, self.cache, chunk_size=self.chunk_size)

    def translate(self, texts: list[str]) -> list[str]:
        """Outputs for ``texts``: from the cache where present, else from the engine."""
        key = (self.engine, self.model, self.src, self.tgt)
        known = self.cache.get(key, texts)
        todo = [t for t in dict.fromkeys(texts) if t not in known]
        self.hits += sum(t in known for t in texts)
        self.misses += len(todo)
        for i in range(0, len(todo), self.chunk_size):
            chunk = todo[i : i + self.chunk_size]
            outs = self.inner.translate(chunk)
            if len(outs) != len(chunk):
                raise ValueError(f"engine returned {len(outs)} outputs for {len(chunk)} inputs")
            self.cache.put(key, list(zip(chunk, outs, strict=True)))
            known.update(zip(chunk, outs, strict=True))
        return [known[t] for t in texts]
