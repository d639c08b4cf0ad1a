"""Reading UTF-8 text files so that every failure names the file and the line.

UTF-16 (with or without a byte-order mark), GBK, binary data, a file cut inside a character or
an empty file give a one-line :class:`TextFileError` ``path:line: what is wrong``; for a bad
byte the line is counted from its offset (``\\r\\n``, ``\\r`` and ``\\n`` each end a line).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_TEXT_LINE_ENDS = re.compile(r"\r\n|\r|\n")
_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
_UTF8_BOM = b"\xef\xbb\xbf"
_FIX = "re-save it as UTF-8"


class TextFileError(ValueError):
    """A file that is not the UTF-8 text expected; the message names the file and line."""

    def __init__(self, path: str | Path, line: int, message: str):
        self.path, self.line = str(path), line
        super().__init__(f"{path}:{line}: {message}")


def line_of(data: bytes, offset: int) -> int:
    """1-based line number of byte ``offset`` in ``data``."""
    return len(_LINE_ENDS.findall(data, 0, offset)) + 1


def check_bytes(
    data: bytes, path: str | Path, *, first_line: int = 1, partial: bool = False
) -> None:
    """Raise TextFileError at the first byte of ``data`` that is not UTF-8 text.

    ``data`` is the file's start (``first_line`` 1) or a later line; with ``partial`` it may end
    inside a character.
    """
    for bom, name in _BOMS.items():
        if first_line == 1 and data.startswith(bom):
            raise TextFileError(path, 1, f"{name} text (byte-order mark), expected UTF-8; {_FIX}")
    nul = data.find(b"\x00")
    if nul >= 0 and _looks_utf16(data):
        line = first_line + line_of(data, min(nul, _first_bad(data[:nul]))) - 1
        raise TextFileError(
            path, line, f"looks like UTF-16 without a byte-order mark, expected UTF-8; {_FIX}"
        )
    try:
        data[: nul if nul >= 0 else len(data)].decode("utf-8")
    except UnicodeDecodeError as err:
        if not (partial and nul < 0 and "unexpected end" in err.reason):
            line = first_line + line_of(data, err.start) - 1
            raise TextFileError(path, line, _decode_problem(data, err, binary=nul >= 0)) from None
    if nul >= 0:
        line = first_line + line_of(data, nul) - 1
        raise TextFileError(path, line, f"binary data (NUL byte at offset {nul}), not text")


def _first_bad(data: bytes) -> int:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start
    return len(data)


def _looks_utf16(data: bytes) -> bool:
    head = data[:4096]
    even, odd = head[0::2].count(0), head[1::2].count(0)
    return max(even, odd) > 0.3 * (len(head) // 2) and min(even, odd) < 0.05 * (len(head) // 2)


def _decode_problem(data: bytes, err: UnicodeDecodeError, *, binary: bool) -> str:
    where = f"byte 0x{data[err.start]:02x} at offset {err.start}"
    if binary:
        return f"binary data, not text ({where} is not UTF-8)"
    if "unexpected end" in err.reason:
        return f"not UTF-8: the text ends inside a character ({where}); truncated?"
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return f"not UTF-8 text ({where}): another encoding or binary data; {_FIX}"
    return f"not UTF-8 ({where}): GBK/GB18030 text? {_FIX}"


def read_text(path: str | Path, *, what: str = "text") -> str:
    """A UTF-8 file's text (BOM dropped, newlines kept); bad bytes or no content raise."""
    data = Path(path).read_bytes()
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    check_bytes(data, path)
    text = data.decode("utf-8")
    if not text.strip():
        raise TextFileError(path, 1, f"empty file: expected {what}")
    return text


def split_lines(text: str) -> list[str]:
    """Lines of ``text`` as :func:`line_of` counts them (``\\r\\n``, ``\\r``, ``\\n``)."""
    lines = _TEXT_LINE_ENDS.split(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def iter_lines(path: str | Path, *, what: str = "text") -> Iterator[tuple[int, str]]:
    """(line number, line without its ``\\n``) of a UTF-8 file, streamed; bad bytes raise."""
    with open(path, "rb") as f:
        head = f.read(4096)
        if head.startswith(_UTF8_BOM):
            head = head[len(_UTF8_BOM) :]
        check_bytes(head, path, partial=True)
        if not head.strip() and len(head) < 4096:
            raise TextFileError(path, 1, f"empty file: expected {what}")
        f.seek(0)
        for lineno, raw in enumerate(f, start=1):
            if lineno == 1 and raw.startswith(_UTF8_BOM):
                raw = raw[len(_UTF8_BOM) :]
            if not raw.isascii() or 0 in raw:
                check_bytes(raw, path, first_line=lineno)
            yield lineno, raw.decode("utf-8").rstrip("\n")
