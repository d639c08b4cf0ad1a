"""BIO tags: spans, per-corpus label schemas, validation and repair.

Chunking follows conlleval (and seqeval's default mode): an ``I-X`` that continues no
``X`` entity starts a new entity of type X.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ENTITY_TYPES = ("PER", "LOC", "ORG", "MISC")
# Twitter-2015 calls CoNLL's MISC "OTHER"; everything inside xmner may use either name.
TYPE_ALIASES = {"OTHER": "MISC"}


@dataclass(frozen=True)
class Span:
    """An entity: tokens ``start`` (inclusive) to ``end`` (exclusive) of type ``label``."""

    start: int
    end: int
    label: str


def split_tag(tag: str) -> tuple[str, str]:
    """Split ``B-PER`` into ``("B", "PER")``; ``O`` gives ``("O", "")``."""
    if tag == "O":
        return "O", ""
    prefix, sep, label = tag.partition("-")
    if not sep or prefix not in ("B", "I") or not label:
        raise ValueError(f"not a BIO tag: {tag!r} (expected O, B-TYPE or I-TYPE)")
    return prefix, label


def spans_from_tags(tags: list[str]) -> list[Span]:
    """Entity spans of a BIO sequence, conlleval-style (orphan ``I-`` starts an entity)."""
    spans: list[Span] = []
    start, label = -1, ""
    for i, tag in enumerate(tags):
        prefix, typ = split_tag(tag)
        continues = prefix == "I" and typ == label and start >= 0
        if continues:
            continue
        if start >= 0:
            spans.append(Span(start, i, label))
        start, label = (i, typ) if prefix != "O" else (-1, "")
    if start >= 0:
        spans.append(Span(start, len(tags), label))
    return spans


def rename_types(tags: list[str], mapping: dict[str, str]) -> list[str]:
    """Rename entity types in BIO tags, e.g. ``{"OTHER": "MISC"}``."""
    out = []
    for tag in tags:
        prefix, typ = split_tag(tag)
        out.append(tag if prefix == "O" else f"{prefix}-{mapping.get(typ, typ)}")
    return out


def unify_types(tags: list[str]) -> list[str]:
    """Map corpus-specific type names onto PER/LOC/ORG/MISC (``OTHER`` -> ``MISC``)."""
    return rename_types(tags, TYPE_ALIASES)


def label_set(types: tuple[str, ...] | list[str]) -> list[str]:
    """The BIO label list ``O, B-T1, I-T1, ...`` for entity types in the given order."""
    labels = ["O"]
    for typ in types:
        labels += [f"B-{typ}", f"I-{typ}"]
    return labels


@dataclass
class TagProblem:
    """One BIO problem found in a file: where, in which post, and what was wrong."""

    path: str
    line: int
    post_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: post {self.post_id}: {self.message}"


@dataclass
class RepairReport:
    """Counts of repairs made to BIO sequences (``I-X`` after ``O`` or another type -> ``B-X``)."""

    repaired: int = 0
    problems: list[TagProblem] = field(default_factory=list)


def orphan_positions(tags: list[str]) -> list[int]:
    """Positions of ``I-X`` tags continuing no ``X`` entity (after ``O``, start or other type)."""
    out, prev = [], "O"
    for i, tag in enumerate(tags):
        prefix, typ = split_tag(tag)
        if prefix == "I" and (prev == "O" or split_tag(prev)[1] != typ):
            out.append(i)
        prev = tag
    return out


def repair_tags(tags: list[str]) -> tuple[list[str], list[int]]:
    """Turn each orphan ``I-X`` into ``B-X``; returns the new tags and the positions changed."""
    positions = orphan_positions(tags)
    fixed = list(tags)
    for i in positions:
        fixed[i] = "B-" + fixed[i][2:]
    return fixed, positions
