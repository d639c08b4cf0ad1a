"""Translation quality figures that need no reference: wrong script, entity length, leftovers.

Per translated post the report sees the source text outside entities, the engine's output
outside entities, and each entity's source surface with its target tokens. Protected items are
set aside, and so are English URLs, @mentions and #hashtags, which are copied on purpose.

Tokens are counted as a reader sees them: Moses tokens for English; for Chinese each Chinese
character is a token and so is each run of Latin letters or digits (CMNER's format splits Latin
words into letters, which would make every Latin name look 5 tokens long).

- wrong script: output tokens with a Chinese character (English output) or a Latin letter
  (Chinese output), and entities with such a token;
- entity length: target tokens per entity against source tokens (a table of buckets 1-5, 6+);
- untranslated: source words that reappear in the output as they were: all-letter tokens for
  English sources (``4th``, ``&amp;`` are not words), Chinese characters for Chinese ones (a
  multiset intersection per post). The top list counts the English words, or the runs of
  Chinese characters, left in the output.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_LATIN = re.compile(r"[A-Za-z]")
_LATIN_RUN = re.compile(r"[A-Za-z]+")
_ASIDE = re.compile(r"https?://\S+|www\.\S+|[@#]\w+", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z]+")
_ZH_TOKEN = re.compile(r"[A-Za-z0-9]+|\S")
LONG = 6
TOP = 20
EXAMPLES = 5


def bucket(n: int) -> str:
    """Length bucket: ``"1"`` .. ``"5"`` or ``"6+"``."""
    return f"{LONG}+" if n >= LONG else str(n)


def wrong_script(token: str, lang: str) -> bool:
    """Whether a target token is in the other language's script."""
    return bool(CJK.search(token) if lang == "en" else _LATIN.search(token))


def aside(text: str, src: str) -> str:
    """English sources: ``text`` without URLs, @mentions and #hashtags (copied on purpose).

    Weibo topics (``#科技#``) are translated like any text, so Chinese sources keep them.
    """
    return _ASIDE.sub(" ", text) if src == "en" else text


def target_tokens(text: str, lang: str) -> list[str]:
    """Tokens as a reader counts them: Moses (en); characters and Latin/digit runs (zh)."""
    if lang == "zh":
        return _ZH_TOKEN.findall(text)
    from xmner.translate.projection import tokenize

    return tokenize(text, "en")


def source_words(text: str, lang: str) -> list[str]:
    """Lower-cased all-letter tokens (English) or Chinese characters (Chinese) of a source text."""
    if lang == "zh":
        return CJK.findall(text)
    return [w.lower() for w in aside(text, "en").split() if _WORD.fullmatch(w)]


def leftovers(text: str, src: str) -> list[str]:
    """Runs of the source language's script in an output text (what reads untranslated)."""
    text = aside(text, src)
    return _CJK_RUN.findall(text) if src == "zh" else [w.lower() for w in _LATIN_RUN.findall(text)]


@dataclass
class QualityReport:
    """Reference-free quality figures of one translated corpus (see the module docstring)."""

    src: str
    tgt: str
    tokens: int = 0
    wrong_script_tokens: int = 0
    entities: int = 0
    wrong_script_entities: int = 0
    long_entities: int = 0  # >= LONG target tokens
    entity_lengths: dict[str, dict[str, int]] = field(default_factory=dict)  # src -> tgt bucket
    source_words: int = 0
    untranslated_words: int = 0
    untranslated_top: list[tuple[str, int]] = field(default_factory=list)
    examples: list[dict[str, str]] = field(default_factory=list)
    _top: Counter = field(default_factory=Counter, repr=False)

    def add(
        self,
        post_id: str,
        source_text: str,
        output_text: str,
        entities: list[tuple[int, str]],
        shown: tuple[str, str] | None = None,
    ) -> None:
        """Count one post: text outside entities, and (source tokens, target text) per entity.

        ``shown`` is the (source, output) pair an example quotes.
        """
        toks = target_tokens(aside(output_text, self.src), self.tgt)
        bad = [t for t in toks if wrong_script(t, self.tgt)]
        self.tokens += len(toks)
        self.wrong_script_tokens += len(bad)
        for n_src, tgt_text in entities:
            tgt_toks = target_tokens(tgt_text, self.tgt)
            self.entities += 1
            self.tokens += len(tgt_toks)
            n_bad = sum(wrong_script(t, self.tgt) for t in tgt_toks)
            self.wrong_script_tokens += n_bad
            self.wrong_script_entities += n_bad > 0
            self.long_entities += len(tgt_toks) >= LONG
            row = self.entity_lengths.setdefault(bucket(n_src), {})
            row[bucket(len(tgt_toks))] = row.get(bucket(len(tgt_toks)), 0) + 1
        words = Counter(source_words(source_text, self.src))
        left = leftovers(output_text, self.src)
        left_words = [ch for run in left for ch in run] if self.src == "zh" else left
        kept = words & Counter(left_words)
        self.source_words += sum(words.values())
        self.untranslated_words += sum(kept.values())
        if self.src == "zh":
            self._top.update(left)
        else:
            self._top.update(kept)
        if (kept or bad) and len(self.examples) < EXAMPLES and shown is not None:
            self.examples.append({"post": post_id, "source": shown[0], "output": shown[1]})

    def to_dict(self) -> dict:
        """JSON-ready dict with the shares."""
        out = asdict(self)
        out.pop("_top")
        out["untranslated_top"] = [[w, n] for w, n in self._top.most_common(TOP)]
        out["entity_lengths"] = {
            s: dict(sorted(row.items(), key=lambda kv: _order(kv[0])))
            for s, row in sorted(self.entity_lengths.items(), key=lambda kv: _order(kv[0]))
        }
        out["wrong_script_token_share"] = _share(self.wrong_script_tokens, self.tokens)
        out["wrong_script_entity_share"] = _share(self.wrong_script_entities, self.entities)
        out["long_entity_share"] = _share(self.long_entities, self.entities)
        out["untranslated_share"] = _share(self.untranslated_words, self.source_words)
        return out


def _order(key: str) -> int:
    return int(key.rstrip("+"))


def _share(n: int, total: int) -> float:
    return round(n / total, 6) if total else 0.0


def quality_summary(q: dict) -> list[str]:
    """Terminal lines for a :meth:`QualityReport.to_dict` result."""
    script = "Chinese characters" if q["tgt"] == "en" else "Latin letters"
    unit = "Chinese characters" if q["src"] == "zh" else "words"
    lines = [
        f"quality: {100 * q['wrong_script_token_share']:.2f}% of {q['tokens']} output tokens "
        f"and {100 * q['wrong_script_entity_share']:.2f}% of {q['entities']} entities have "
        f"{script}; {100 * q['long_entity_share']:.2f}% of entities are >= {LONG} tokens",
        f"  untranslated: {100 * q['untranslated_share']:.2f}% of {q['source_words']} source "
        f"{unit} outside entities"
        + (" (URLs, @mentions, #hashtags aside)" if unit == "words" else ""),
        "  entity length, source tokens -> target tokens: "
        + "; ".join(
            f"{s}: " + " ".join(f"{t}x{n}" for t, n in row.items())
            for s, row in q["entity_lengths"].items()
        ),
    ]
    if q["untranslated_top"]:
        top = ", ".join(f"{w} {n}" for w, n in q["untranslated_top"])
        lines.append(f"  most frequent left untranslated: {top}")
    for ex in q["examples"][:3]:
        lines.append(f"  e.g. {ex['post']}: {ex['source'][:80]} => {ex['output'][:100]}")
    return lines
