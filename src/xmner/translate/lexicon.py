"""Word-by-word "cheap translation" with a bilingual lexicon (CC-CEDICT, optionally an induced one).

zh -> en: jieba (with its HMM, which keeps unknown names whole) segments the text; each word
takes its best CC-CEDICT gloss (:mod:`xmner.translate.cedict`: names as names, no descriptive
glosses; in an entity span, translated on its own by :meth:`LexiconTranslator.for_entities`,
the shortest gloss of the word's entry: 酒店 -> ``hotel``, not ``wine shop``); particles and
classifiers are dropped (a hand list); a word CC-CEDICT lacks is covered by its longest known
pieces if jieba knows it, and is otherwise a name, written in pinyin. No Chinese character
reaches the English output. en -> zh: Moses tokens (HTML entities unescaped, clitics such as
``don ' t`` joined), longest n-gram match first (up to 4 words) against the reverse index; a
closed-class hand list for function words; a word not found is lemmatised with simplemma
(``went`` -> ``go``) and tried again; unknown words (names) are copied. An optional ``src tgt``
lexicon file (one pair a line, as ``xmner align`` writes it) takes precedence over CC-CEDICT.
Placeholders ``[E0]``/``[K0]`` pass through untouched.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from xmner.textfile import read_text, split_lines
from xmner.translate.cedict import (
    CJK,
    FIRST_WORD,
    MAX_NGRAM,
    TRANSLIT,
    cedict_indexes,
    clean_gloss,
    pinyin_name,
    surnames,
)
from xmner.translate.placeholder import PLACEHOLDER_RE

log = logging.getLogger(__name__)

# Part of the engine's cache identity (``model``): bump it when the translation logic changes.
LEXICON_VERSION = "4"
__all__ = ["LEXICON_VERSION", "LexiconTranslator", "clean_gloss", "read_lexicon"]

_ARTICLES = {"the", "a", "an"}


def _pairs(text: str) -> dict[str, str]:
    """``word:译 word:译`` -> dict (an empty translation drops the word)."""
    return dict(item.split(":", 1) for item in text.split())


# English closed-class words (and a few Twitter words) whose reverse lookup is wrong or missing.
FUNCTION_WORDS = _pairs(
    """is:是 are:是 am:是 was:是 were:是 be:是 been:是 being:是
    where:哪里 what:什么 who:谁 whom:谁 whose:谁的 which:哪个 when:什么时候 how:怎么 why:为什么
    this:这 that:那 these:这些 those:那些 here:这里 there:那里 it:它 its:它的
    i:我 me:我 my:我的 mine:我的 myself:我自己 you:你 your:你的 yours:你的 yourself:你自己
    he:他 him:他 his:他的 himself:他自己 she:她 her:她 hers:她的 herself:她自己
    we:我们 us:我们 our:我们的 ours:我们的 they:他们 them:他们 their:他们的 theirs:他们的
    in:在 at:在 on:在 into:进入 onto:到 inside:里面 with:和 without:没有 and:和 or:或
    but:但是 to:到 for:为 from:从 of:的 by:被 about:关于 over:超过 under:在下面 after:之后
    before:之前 since:自从 until:直到 till:直到 during:期间 than:比 vs:对 via:通过 as:作为
    like:像 up:上 down:下 out:出 off:离开 through:通过 between:之间 against:反对
    because:因为 if:如果 so:所以 then:然后 also:也 too:也 just:刚 very:很 not:不 no:没有
    yes:是的 all:所有 some:一些 any:任何 every:每 each:每 more:更多 most:最 much:很多 many:很多
    will:会 would:会 shall:将 should:应该 can:能 could:能 may:可能 might:可能 must:必须
    do: does: did: done:做完 doing:做 have:有 has:有 had:有 having:有 get:得到 got:得到
    gets:得到 getting:得到 go:去 goes:去 went:去 gone:去 going:去 born:出生 now:现在
    today:今天 tonight:今晚 tomorrow:明天 yesterday:昨天 rt:转发 retweet:转发 lol:哈哈
    congrats:恭喜 pic:图片 omg:天哪 ok:好 okay:好 thanks:谢谢 thx:谢谢 please:请 pls:请
    &:和 's:的 'm:是 're:是 'll:会 've: 'd:会 n't:不 't:不 don't:不 doesn't:不 didn't:没
    can't:不能 cannot:不能 won't:不会 isn't:不是 aren't:不是 wasn't:不是 weren't:不是
    haven't:没有 hasn't:没有 hadn't:没有 couldn't:不能 wouldn't:不会 shouldn't:不应该
    ain't:不是 de:德"""
)
# Chinese particles, classifiers and markers jieba leaves alone: dropped, or a fixed word.
ZH_FUNCTION_WORDS = _pairs(
    "个: 了: 着: 啊: 呀: 吧: 呢: 吗: 嘛: 啦: 么: 们: 的: 地: 得: 哟: 咯: 呐: 滴: 嗯: 喔: 噢:"
    " 一个:a 哦:oh 哈:ha 哇:wow 之:of 阿:a 诶:eh 哎:ah 嘿:hey 嗨:hi"
    # Name suffixes whose first CC-CEDICT gloss is another sense (镇 "press down").
    " 镇:town 区:district 县:county 村:village 队:team 街:Street 站:station 馆:hall 院:institute"
)
_CLITICS = {"s", "t", "m", "re", "ll", "ve", "d"}
_SUFFIXES = (
    ("ies", "y"),
    ("es", ""),
    ("s", ""),
    ("ed", ""),
    ("ed", "e"),
    ("ing", ""),
    ("ing", "e"),
    ("ily", "y"),
    ("ly", ""),
)
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


def lemma(word: str) -> str:
    """The English lemma of a lower-cased word (simplemma's dictionary, shipped with it)."""
    import simplemma

    return simplemma.lemmatize(word, lang="en")


def join_clitics(tokens: list[str]) -> list[str]:
    """``don ' t`` -> ``don't``, ``Obama ' s`` -> ``Obama 's`` (Twitter splits at apostrophes)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("'", "’") and i + 1 < len(tokens) and tokens[i + 1].lower() in _CLITICS:
            tok, i = "'" + tokens[i + 1].lower(), i + 1
        elif tok[:1] == "’" and tok[1:].lower() in _CLITICS:
            tok = "'" + tok[1:].lower()
        if tok in ("'t", "n't") and out and (out[-1] + tok).lower() in FUNCTION_WORDS:
            tok = (out.pop() + tok).lower()
        out.append(tok)
        i += 1
    return out


def read_lexicon(path: str | Path) -> dict[str, str]:
    """A ``src tgt`` lexicon file: first target per source word wins (files are sorted by score)."""
    out: dict[str, str] = {}
    text = read_text(path, what="'source target' lines")
    for lineno, line in enumerate(split_lines(text), 1):
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

    def __init__(
        self, src: str, tgt: str, lexicon_path: str | Path | None = None, *, names: bool = False
    ):
        if {src, tgt} != {"en", "zh"}:
            raise ValueError(f"lexicon engine translates en<->zh; got {src}->{tgt}")
        self.src, self.tgt, self.lexicon_path = src, tgt, lexicon_path
        self.names = names and src == "zh"  # en -> zh translates names like any text
        self.extra = read_lexicon(lexicon_path) if lexicon_path is not None else {}
        self.model = f"cc-cedict-v{LEXICON_VERSION}" + ("-names" if self.names else "")
        if lexicon_path is not None:
            from xmner.io import file_hash

            self.model += f"+{Path(lexicon_path).name}:{file_hash(lexicon_path)}"
        self._table: dict[str, str] | None = None

    def for_entities(self) -> LexiconTranslator:
        """The engine for entity spans: zh -> en takes each word's gloss inside a name (the
        shortest of its entry: 酒店 -> ``hotel``, not ``wine shop``); en -> zh is unchanged."""
        if self.src != "zh" or self.names:
            return self
        return LexiconTranslator(self.src, self.tgt, self.lexicon_path, names=True)

    @property
    def table(self) -> dict[str, str]:
        """Source word -> target word; built on first use (a fully cached run never needs it)."""
        if self._table is None:
            index = cedict_indexes()
            if self.src == "zh":
                zh_en = index.zh_en_names if self.names else index.zh_en
                self._table = {**zh_en, **ZH_FUNCTION_WORDS, **self.extra}
            else:
                self._table = {**index.en_zh, **FUNCTION_WORDS, **self.extra}
        return self._table

    def translate(self, texts: list[str]) -> list[str]:
        """Translate each text; placeholders pass through unchanged."""
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> str:
        if self.src == "zh" and _personal_name(text.strip(), self.table):
            return pinyin_name(text.strip())
        out: list[str] = []
        pos = 0
        for m in PLACEHOLDER_RE.finditer(text):
            out += self._words(text[pos : m.start()])
            out.append(m.group(0))
            pos = m.end()
        out = [w for w in out + self._words(text[pos:]) if w]
        if not out and self.src == "zh" and CJK.search(text):  # only particles: say them
            out = [pinyin_name(text)]
        return _join(out, self.tgt)

    def _words(self, text: str) -> list[str]:
        if not text.strip():
            return []
        return self._zh_en(text) if self.src == "zh" else self._en_zh(text)

    def _zh_en(self, text: str) -> list[str]:
        from xmner.data.segmenter import jieba

        table = self.table
        out: list[str] = []
        words = [w for w in jieba().cut(text, HMM=True) if not w.isspace()]
        for is_name, run in _name_runs(words, table):
            if is_name:
                out.append(pinyin_name("".join(run)))
                continue
            for word in run:
                if not CJK.search(word):  # Latin words, digits, punctuation: copied
                    out.append(_PUNCT["en"].get(word, word))
                elif word in table:
                    out.append(table[word])
                else:
                    out += [
                        table[p] if p in table else pinyin_name(p) for p in _pieces(word, table)
                    ]
        return [w if not CJK.search(w) else pinyin_name(w) for w in out]

    def _en_zh(self, text: str) -> list[str]:
        from xmner.translate.projection import tokenize

        toks = join_clitics(tokenize(html.unescape(text), "en"))
        out, i = [], 0
        while i < len(toks):
            article = toks[i].lower() in _ARTICLES
            for n in range(min(MAX_NGRAM, len(toks) - i), 1 if article else 0, -1):
                hit = self._lookup_en(" ".join(toks[i : i + n]))
                if hit is not None:
                    out.append(hit)
                    i += n
                    break
            else:
                if not article:  # articles have no Chinese counterpart
                    out.append(_PUNCT["zh"].get(toks[i], toks[i]))
                i += 1
        return out

    def _lookup_en(self, phrase: str) -> str | None:
        low = phrase.lower()
        for key in (phrase, low):
            if key in self.table:
                return self.table[key]
        if " " in phrase or not low.isalpha():
            return None
        base = lemma(low)
        if base != low and base in self.table:
            return self.table[base]
        for suffix, repl in _SUFFIXES:
            if low.endswith(suffix) and len(low) > len(suffix) + 2:
                stem = low[: -len(suffix)] + repl
                if stem in self.table:
                    return self.table[stem]
        if phrase.islower():  # capitalised words are mostly names: kept in Latin letters
            return self.table.get(FIRST_WORD + base)
        return None


def _personal_name(text: str, table: dict[str, str]) -> bool:
    """A whole text (an entity translated on its own) of 2-3 Chinese characters, a surname
    first, that CC-CEDICT lacks as a word: a person's name (张大民 is not "open up big
    inhabitants of a country")."""
    return (
        2 <= len(text) <= 3
        and all(CJK.match(ch) for ch in text)
        and text[0] in surnames()
        and text not in table
    )


def _pieces(word: str, table: dict[str, str]) -> list[str]:
    """``word`` covered by its longest known prefixes (unknown characters alone)."""
    out, i = [], 0
    while i < len(word):
        j = next((j for j in range(min(len(word), i + 8), i + 1, -1) if word[i:j] in table), i + 1)
        out.append(word[i:j])
        i = j
    return out


def _is_name(word: str, table: dict[str, str]) -> bool:
    """A word CC-CEDICT lacks whose cover needs a transliteration character on its own."""
    if word in table or not CJK.search(word):
        return False
    pieces = _pieces(word, table)
    return len(pieces) == 1 or any(len(p) == 1 and p in TRANSLIT for p in pieces)


def _name_runs(words: list[str], table: dict[str, str]) -> list[tuple[bool, list[str]]]:
    """Words grouped into runs: a name (unknown words with the transliteration characters next
    to them, 姆巴 + 佩) or ordinary words."""
    kinds = ["name" if _is_name(w, table) else "" for w in words]
    for i, word in enumerate(words):
        if not kinds[i] and len(word) == 1 and word in TRANSLIT:
            kinds[i] = "glue"
    runs: list[tuple[bool, list[str]]] = []
    i = 0
    while i < len(words):
        j = i + 1
        while j < len(words) and bool(kinds[j]) == bool(kinds[i]):
            j += 1
        run = words[i:j]
        if kinds[i] and "name" in kinds[i:j]:
            runs.append((True, run))
        else:
            runs.append((False, run))
        i = j
    return runs


def _join(words: list[str], lang: str) -> str:
    """Chinese: no space between CJK words; English: single spaces."""
    if lang != "zh":
        return " ".join(words)
    out = ""
    for word in words:
        if out and not (CJK.search(out[-1]) and CJK.search(word[:1])):
            out += " "
        out += word
    return out
