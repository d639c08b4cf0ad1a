"""Corpus statistics per split: posts, tokens, entities by type, orphan I- tags, images."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from xmner.data.corpus import Post
from xmner.data.tags import orphan_positions


@dataclass
class SplitStats:
    """Counts of one split; ``entities`` counts ``B-`` tags by type as named in the file."""

    posts: int
    tokens: int
    entities: dict[str, int] = field(default_factory=dict)
    orphan_i: int = 0
    images: int | None = None

    def to_dict(self) -> dict:
        """JSON-ready dict (``images`` only when images were counted)."""
        out = asdict(self)
        if self.images is None:
            del out["images"]
        return out


def split_stats(
    posts: list[Post], types: tuple[str, ...] | list[str], images: int | None = None
) -> SplitStats:
    """Statistics of one split, with every type of ``types`` present (zero if absent)."""
    counts = Counter(tag[2:] for post in posts for tag in post.tags if tag.startswith("B-"))
    return SplitStats(
        posts=len(posts),
        tokens=sum(len(post.tokens) for post in posts),
        entities={typ: counts.get(typ, 0) for typ in types}
        | {typ: n for typ, n in counts.items() if typ not in types},
        orphan_i=sum(len(orphan_positions(post.tags)) for post in posts),
        images=images,
    )


def format_stats(corpus: str, stats: dict[str, SplitStats]) -> str:
    """A plain-text table: one row per split, entity counts per type and totals."""
    types = list(next(iter(stats.values())).entities) if stats else []
    show_images = any(s.images is not None for s in stats.values())
    head = ["split", "posts", "tokens", *types, "total", "orphan I-"]
    head += ["images/post"] if show_images else []
    rows = [head]
    for split, s in stats.items():
        row = [split, s.posts, s.tokens, *[s.entities[t] for t in types]]
        row += [sum(s.entities.values()), s.orphan_i]
        if show_images:
            row.append("n/a" if s.images is None else f"{s.images / max(s.posts, 1):.2f}")
        rows.append([str(x) for x in row])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [f"{corpus}"] + ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines) + "\n"
