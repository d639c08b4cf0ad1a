"""Post records and the two corpus file formats (CMNER ``WID:``, Twitter ``IMGID:``).

Both formats: a header line starts a post, then one ``token<TAB>tag`` per line, blank lines
between posts. Line endings may be LF, CRLF or bare CR. Tokens are kept exactly as written,
including odd whitespace tokens such as U+00A0, so token counts equal the file's.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from xmner.data.tags import RepairReport, TagProblem, label_set, repair_tags, split_tag
from xmner.io import atomic_open
from xmner.textfile import read_text

log = logging.getLogger(__name__)

HEADERS = {"cmner": "WID:", "twitter": "IMGID:"}
LANGS = {"cmner": "zh", "twitter": "en"}
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass
class Post:
    """One annotated post: tokens (characters for Chinese) with BIO tags and its images."""

    id: str
    tokens: list[str]
    tags: list[str]
    image_ids: list[str] = field(default_factory=list)
    lang: str = "en"
    corpus: str = ""

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.tags):
            raise ValueError(f"post {self.id}: {len(self.tokens)} tokens but {len(self.tags)} tags")


class CorpusFormatError(ValueError):
    """A malformed corpus file; the message names file, line and post."""

    def __init__(self, path: str | Path, line: int, post_id: str, message: str):
        self.problem = TagProblem(str(path), line, post_id, message)
        super().__init__(str(self.problem))


def detect_format(path: str | Path) -> str:
    """``cmner`` or ``twitter``, from the first non-blank line's header."""
    return _detect(read_text(path, what="corpus posts"), path)


def _detect(text: str, path: str | Path) -> str:
    for lineno, line in enumerate(_LINE_END.split(text), 1):
        if not line.strip():
            continue
        for fmt, header in HEADERS.items():
            if line.startswith(header):
                return fmt
        raise CorpusFormatError(
            path, lineno, "-", f"expected a 'WID:' or 'IMGID:' header, got {line[:40]!r}"
        )
    raise CorpusFormatError(path, 1, "-", "empty file: expected a 'WID:' or 'IMGID:' header")


def read_corpus(
    path: str | Path,
    fmt: str | None = None,
    *,
    corpus: str = "",
    types: tuple[str, ...] | list[str] | None = None,
    repair: bool = False,
    report: RepairReport | None = None,
) -> list[Post]:
    """Read a corpus file exactly; unknown tags and malformed lines raise CorpusFormatError.

    ``types`` restricts the allowed entity types (default: any). ``repair`` turns each orphan
    ``I-X`` into ``B-X``; repairs are added to ``report`` (or logged when no report is given).
    """
    path = Path(path)
    text = read_text(path, what="corpus posts")
    fmt = fmt or _detect(text, path)
    return parse_corpus(
        text, fmt, source=path, corpus=corpus, types=types, repair=repair, report=report
    )


def parse_corpus(
    text: str,
    fmt: str,
    *,
    source: str | Path = "<text>",
    corpus: str = "",
    types: tuple[str, ...] | list[str] | None = None,
    repair: bool = False,
    report: RepairReport | None = None,
) -> list[Post]:
    """Parse corpus text in ``fmt``; errors name ``source`` and the line (see read_corpus)."""
    path = source
    if fmt not in HEADERS:
        raise ValueError(f"unknown corpus format {fmt!r}; expected one of {sorted(HEADERS)}")
    header, lang = HEADERS[fmt], LANGS[fmt]
    allowed = set(label_set(tuple(types))) if types else None
    posts: list[Post] = []
    lines_of: list[list[int]] = []  # file line of each token, for repair reports
    for lineno, line in enumerate(_LINE_END.split(text), 1):
        if line.startswith(header) and "\t" not in line:
            post_id = line[len(header) :].strip()
            image_ids = [post_id] if fmt == "twitter" else []
            posts.append(Post(post_id, [], [], image_ids, lang, corpus))
            lines_of.append([])
            continue
        if line == "" or (line.strip() == "" and "\t" not in line):
            continue
        post_id = posts[-1].id if posts else "-"
        token, sep, tag = line.rpartition("\t")
        if not sep or token == "":
            raise CorpusFormatError(
                path, lineno, post_id, f"expected 'token<TAB>tag', got {line!r}"
            )
        if not posts:
            raise CorpusFormatError(path, lineno, post_id, f"token line before any {header} header")
        tag = tag.strip()
        try:
            split_tag(tag)
        except ValueError:
            raise CorpusFormatError(path, lineno, post_id, f"unknown tag {tag!r}") from None
        if allowed is not None and tag not in allowed:
            raise CorpusFormatError(
                path, lineno, post_id, f"unknown tag {tag!r}; expected one of {sorted(allowed)}"
            )
        posts[-1].tokens.append(token)
        posts[-1].tags.append(tag)
        lines_of[-1].append(lineno)
    if repair:
        _repair(posts, lines_of, path, report)
    return posts


def _repair(
    posts: list[Post], lines_of: list[list[int]], path: str | Path, report: RepairReport | None
) -> None:
    found = RepairReport()
    for post, lines in zip(posts, lines_of):
        fixed, positions = repair_tags(post.tags)
        for i in positions:
            message = f"{post.tags[i]} continues no entity: now {fixed[i]}"
            found.problems.append(TagProblem(str(path), lines[i], post.id, message))
        post.tags = fixed
    found.repaired = len(found.problems)
    if report is not None:
        report.repaired += found.repaired
        report.problems += found.problems
    elif found.repaired:
        log.warning("%s: repaired %d orphan I- tags", path, found.repaired)


def check_corpus(path: str | Path, fmt: str | None = None) -> list[TagProblem]:
    """All orphan ``I-`` tags in a file, as (file, line, post, message) problems."""
    report = RepairReport()
    read_corpus(path, fmt, repair=True, report=report)
    return report.problems


def format_corpus(posts: list[Post], fmt: str) -> str:
    """The text of ``posts`` in ``fmt`` (LF line endings, blank line between posts)."""
    header = HEADERS[fmt]
    chunks = []
    for post in posts:
        lines = [f"{header}{post.id}"] + [f"{t}\t{g}" for t, g in zip(post.tokens, post.tags)]
        chunks.append("\n".join(lines) + "\n")
    return "\n".join(chunks)


def write_corpus(posts: list[Post], path: str | Path, fmt: str) -> None:
    """Write ``posts`` to ``path`` in ``fmt``, atomically."""
    if fmt not in HEADERS:
        raise ValueError(f"unknown corpus format {fmt!r}; expected one of {sorted(HEADERS)}")
    with atomic_open(path, "w") as f:
        f.write(format_corpus(posts, fmt))
