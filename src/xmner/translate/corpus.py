"""Translate an annotated corpus: mask, split into sentences, translate, restore, project, report.

Every source entity ends in exactly one of two places: projected into the output (its
placeholder came back; an empty span translation falls back to the source surface), or
counted as lost (its placeholder was lost even after the shared-placeholder retranslation, or
its post was dropped with ``drop_failed``). ``entities_in == entities_projected + entities_lost``
per type is checked on every run.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from xmner import locks
from xmner.data.corpora import CorpusSpec, get_spec
from xmner.data.corpus import Post
from xmner.data.tags import spans_from_tags
from xmner.translate.backends import Translator, for_entities
from xmner.translate.cache import cache_key
from xmner.translate.placeholder import (
    ENTITY,
    Masked,
    Restored,
    has_placeholder,
    join_tokens,
    mask,
    restore,
    strip_placeholders,
)
from xmner.translate.projection import project, type_mapping
from xmner.translate.quality import QualityReport, quality_summary

log = logging.getLogger(__name__)

CHUNK = 256
_ZH_SENT = re.compile(r"[^。！？!?；]+[。！？!?；]*|[。！？!?；]+")
_EN_SENT = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str, lang: str) -> list[str]:
    """Sentences for MT (placeholders never straddle a boundary); empty pieces dropped."""
    pieces = _ZH_SENT.findall(text) if lang == "zh" else _EN_SENT.split(text)
    return [p.strip() for p in pieces if p.strip()]


def join_sentences(sentences: list[str], lang: str) -> str:
    """Translated sentences joined back into one text."""
    return ("" if lang == "zh" else " ").join(sentences)


@dataclass
class TranslationReport:
    """What the projection did to a corpus; entity counts use the target corpus' type names."""

    source_corpus: str
    target_corpus: str
    engine: str = ""
    model: str = ""
    posts: int = 0
    posts_out: int = 0
    posts_dropped: int = 0
    entities_in: dict[str, int] = field(default_factory=dict)
    entities_projected: dict[str, int] = field(default_factory=dict)
    entities_lost: dict[str, int] = field(default_factory=dict)
    entities_copied: int = 0  # empty span translation: the source surface was used
    placeholders_lost: int = 0
    placeholders_duplicated: int = 0
    placeholders_mangled: int = 0
    placeholders_repaired: int = 0
    fallbacks: int = 0  # posts retranslated with shared placeholders that recovered everything
    fallbacks_failed: int = 0
    projection_f1: dict[str, dict[str, float]] = field(default_factory=dict)
    lost: list[dict[str, str]] = field(default_factory=list)  # post, type, text, why
    quality: dict = field(default_factory=dict)  # QualityReport.to_dict() of the output

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)

    def headline(self) -> str:
        """One line: ``2990/3000 posts out, 5112/5240 entities projected``."""
        tin, tout = self.entities_in.get("total", 0), self.entities_projected.get("total", 0)
        return f"{self.posts_out}/{self.posts} posts out, {tout}/{tin} entities projected"

    def summary(self) -> str:
        """A few lines for the terminal."""
        tin, tout = self.entities_in.get("total", 0), self.entities_projected.get("total", 0)
        lines = [
            f"{self.source_corpus} -> {self.target_corpus}: {self.posts} posts in, "
            f"{self.posts_out} out ({self.posts_dropped} dropped)",
            f"entities: {tin} in, {tout} projected, {self.entities_lost.get('total', 0)} lost, "
            f"{self.entities_copied} copied untranslated",
            f"placeholders: {self.placeholders_lost} lost, {self.placeholders_duplicated} "
            f"duplicated, {self.placeholders_mangled} mangled, {self.placeholders_repaired} "
            f"repaired; fallbacks {self.fallbacks} ok / {self.fallbacks_failed} failed",
        ]
        for typ, prf in self.projection_f1.items():
            lines.append(
                f"  {typ:6s} P {prf['precision']:.3f} R {prf['recall']:.3f} F1 {prf['f1']:.3f}"
            )
        if self.quality:
            lines += quality_summary(self.quality)
        return "\n".join(lines)


def _run(
    translator: Translator, texts: list[str], progress: Callable[[int], None] | None
) -> dict[str, str]:
    """Translate unique non-empty texts in chunks (so progress moves and caches commit)."""
    unique = [t for t in dict.fromkeys(texts) if t.strip()]
    out: dict[str, str] = {}
    for i in range(0, len(unique), CHUNK):
        chunk = unique[i : i + CHUNK]
        outs = translator.translate(chunk)
        if len(outs) != len(chunk):
            raise ValueError(f"engine returned {len(outs)} outputs for {len(chunk)} inputs")
        out.update(zip(chunk, outs, strict=True))
        if progress:
            progress(len(chunk))
    return out


def _translate_text(text: str, table: dict[str, str], src: str, tgt: str) -> str:
    return join_sentences([table.get(s, "") for s in split_sentences(text, src)], tgt)


def translate_corpus(
    posts: list[Post],
    translator: Translator,
    *,
    source: CorpusSpec | str,
    target: CorpusSpec | str,
    drop_failed: bool = False,
    protect: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Post], TranslationReport]:
    """Translate ``posts`` of corpus ``source`` into corpus ``target``'s language and types.

    ``progress(done, total)`` is called as texts are translated.
    """
    source = get_spec(source) if isinstance(source, str) else source
    target = get_spec(target) if isinstance(target, str) else target
    src, tgt = source.lang, target.lang
    mapping = type_mapping(target.types)
    masked = [
        mask(
            p.tokens,
            [(s.start, s.end, s.label) for s in spans_from_tags(p.tags)],
            src,
            protect=protect,
        )
        for p in posts
    ]
    requests = [s for m in masked for s in split_sentences(m.text, src)]
    spans = [it.text for m in masked for it in m.items if it.kind == ENTITY]
    # what ``_run`` sends (entity spans go to the engine's entity view, see ``for_entities``)
    total, done = len({r for r in requests if r.strip()}) + len({s for s in spans if s.strip()}), 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    tick(0)  # the total is known before the first chunk returns

    table = _run(translator, requests, tick)
    names = _run(for_entities(translator), spans, tick)
    restored = [restore(_translate_text(m.text, table, src, tgt), m) for m in masked]
    retry = [i for i, r in enumerate(restored) if r.lost]
    used_fallback: set[int] = set()
    if retry:
        log.info("%d posts lost placeholders; retranslating with shared placeholders", len(retry))
        fallback_requests = [
            s for i in retry for s in split_sentences(masked[i].fallback_text, src)
        ]
        table.update(_run(translator, fallback_requests, None))
        for i in retry:
            text = _translate_text(masked[i].fallback_text, table, src, tgt)
            second = restore(text, masked[i], shared=True)
            if not second.lost:
                restored[i] = second
                used_fallback.add(i)
    engine, model, _, _ = cache_key(translator)
    report = TranslationReport(source.name, target.name, engine, model, posts=len(posts))
    report.fallbacks, report.fallbacks_failed = len(used_fallback), len(retry) - len(used_fallback)
    out_posts = _project_all(
        posts, masked, restored, names, (src, tgt), target, mapping, drop_failed, report
    )
    return out_posts, report


def _project_all(
    posts: list[Post],
    masked: list[Masked],
    restored: list[Restored],
    table: dict[str, str],
    langs: tuple[str, str],
    target: CorpusSpec,
    mapping: dict[str, str],
    drop_failed: bool,
    report: TranslationReport,
) -> list[Post]:
    src, tgt = langs
    n_in, n_out, n_lost, tp = Counter(), Counter(), Counter(), Counter()
    quality = QualityReport(src, tgt)
    out_posts = []
    for post, m, r in zip(posts, masked, restored, strict=True):
        entities = m.of_kind(ENTITY)
        texts = {it.index: table.get(it.text, "") for it in entities}
        proj = project(r.segments, texts, tgt, mapping)
        src_types = Counter(mapping.get(it.label, it.label) for it in entities)
        n_in.update(src_types)
        report.placeholders_lost += len(r.lost)
        report.placeholders_duplicated += r.duplicated
        report.placeholders_mangled += r.mangled
        report.placeholders_repaired += r.repaired
        missing = [(it, "placeholder lost") for it in r.lost if it.kind == ENTITY]
        missing += [(it, "empty projection") for it in proj.lost]
        if missing and drop_failed:
            report.posts_dropped += 1
            missing = [(it, "post dropped") for it in entities]
        else:
            tags = proj.tags
            out_types = Counter(mapping.get(s.label, s.label) for s in spans_from_tags(tags))
            # Count from the written tags, independently of the bookkeeping above.
            n_out.update(out_types)
            tp.update({t: min(c, out_types[t]) for t, c in src_types.items()})
            report.entities_copied += len(proj.copied)
            out_posts.append(
                Post(post.id, proj.tokens, tags, list(post.image_ids), tgt, target.name)
            )
            _add_quality(quality, post, m, r, proj.entity_texts, out_posts[-1])
        for it, why in missing:
            typ = mapping.get(it.label, it.label)
            n_lost[typ] += 1
            report.lost.append({"post": post.id, "type": typ, "text": it.text, "why": why})
    report.posts_out = len(out_posts)
    types = list(dict.fromkeys([*target.types, *n_in]))
    report.entities_in = _with_total(n_in, types)
    report.entities_projected = _with_total(n_out, types)
    report.entities_lost = _with_total(n_lost, types)
    for typ in [*types, "total"]:
        if report.entities_in[typ] != report.entities_projected[typ] + report.entities_lost[typ]:
            raise AssertionError(f"entity accounting broken for {typ}: {report}")
    report.projection_f1 = _f1(n_in, n_out, tp, types)
    report.quality = quality.to_dict()
    leaks = [p.id for p in out_posts if has_placeholder("".join(p.tokens))]
    if leaks:
        raise AssertionError(f"placeholders leaked into posts {leaks[:5]}")
    return out_posts


def _add_quality(
    quality: QualityReport,
    post: Post,
    m: Masked,
    r: Restored,
    entity_texts: dict[int, str],
    out: Post,
) -> None:
    """Feed one projected post to the quality report (protected items set aside)."""
    output = " ".join(strip_placeholders(s.text) for s in r.segments if s.item is None)
    entities = [
        (it.end - it.start, entity_texts[it.index])
        for it in m.of_kind(ENTITY)
        if it.index in entity_texts
    ]
    shown = (join_tokens(post.tokens, quality.src), join_tokens(out.tokens, quality.tgt))
    quality.add(post.id, strip_placeholders(m.text), output, entities, shown)


def _with_total(counts: Counter, types: list[str]) -> dict[str, int]:
    out = {t: counts.get(t, 0) for t in types}
    out["total"] = sum(counts.values())
    return out


def _f1(
    n_in: Counter, n_out: Counter, tp: Counter, types: list[str]
) -> dict[str, dict[str, float]]:
    """Count-based projection P/R/F1: per post and type, min(source, target) entities match."""
    out = {}
    for typ in [*types, "total"]:
        if typ == "total":
            t, i, o = sum(tp.values()), sum(n_in.values()), sum(n_out.values())
        else:
            t, i, o = tp[typ], n_in[typ], n_out[typ]
        p, r = (t / o if o else 0.0), (t / i if i else 0.0)
        out[typ] = {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
    return out


def translate_split(
    posts: list[Post],
    source_corpus: str,
    target_corpus: str,
    engine: str = "lexicon",
    model: str | None = None,
    *,
    cache_path: str | Path | None = None,
    lexicon_path: str | Path | None = None,
    drop_failed: bool = False,
    progress: Callable[[int, int], None] | None = None,
    **engine_options,
) -> tuple[list[Post], TranslationReport]:
    """Build the engine (with an sqlite cache if ``cache_path``) and translate ``posts``."""
    from xmner.translate.backends import make_translator
    from xmner.translate.cache import CachedTranslator, TranslationCache

    src, tgt = get_spec(source_corpus).lang, get_spec(target_corpus).lang
    if src == tgt:
        raise ValueError(f"source and target are both {src}: expected different languages")
    translator = make_translator(
        engine, src, tgt, model, lexicon_path=lexicon_path, **engine_options
    )
    if not cache_path:
        return translate_corpus(
            posts, translator, source=source_corpus, target=target_corpus,
            drop_failed=drop_failed, progress=progress,
        )  # fmt: skip
    cache_path = Path(cache_path)
    # one writer at a time on a shared cache file: others wait their turn
    with locks.hold(cache_path.parent, wait=None, name=f"{cache_path.name}.lock"):
        cache = TranslationCache(cache_path)
        try:
            return translate_corpus(
                posts, CachedTranslator(translator, cache), source=source_corpus,
                target=target_corpus, drop_failed=drop_failed, progress=progress,
            )  # fmt: skip
        finally:
            cache.close()
