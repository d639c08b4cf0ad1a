"""Download the public corpus text files from their authors' repositories.

CMNER text: Jyz99/CMNER (``text/``, MIT). Twitter-2015: jefferyYu/UMT (``data/twitter2015/``).
Each file is downloaded to a temp file, parsed with the corpus reader, then renamed into place,
so a broken or partial download never replaces a good file.
"""

from __future__ import annotations

import logging
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from xmner.data.corpora import get_spec
from xmner.data.corpus import parse_corpus
from xmner.io import atomic_open

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """Where a corpus' split files can be downloaded: a base URL and the remote file names."""

    base_url: str
    files: tuple[tuple[str, str], ...]  # (local file name, remote file name)


SOURCES: dict[str, Source] = {
    "cmner": Source(
        "https://raw.githubusercontent.com/Jyz99/CMNER/HEAD/text/",
        (("train.txt", "train.txt"), ("dev.txt", "dev.txt"), ("test.txt", "test.txt")),
    ),
    "twitter2015": Source(
        "https://raw.githubusercontent.com/jefferyYu/UMT/HEAD/data/twitter2015/",
        (("train.txt", "train.txt"), ("valid.txt", "valid.txt"), ("test.txt", "test.txt")),
    ),
    "twitter2017": Source(
        "https://raw.githubusercontent.com/jefferyYu/UMT/HEAD/data/twitter2017/",
        (("train.txt", "train.txt"), ("valid.txt", "valid.txt"), ("test.txt", "test.txt")),
    ),
}


def fetch_corpus(
    corpus: str,
    root: str | Path,
    *,
    base_url: str | None = None,
    force: bool = False,
    timeout: float = 60.0,
) -> list[Path]:
    """Download a corpus' split files into ``root/<corpus>/``; returns the paths written.

    Files already present are kept unless ``force``. ``base_url`` overrides the source (any
    URL scheme urllib supports, e.g. ``file://`` or a mirror).
    """
    spec = get_spec(corpus)
    source = SOURCES[spec.name]
    base = base_url or source.base_url
    if not base.endswith("/"):
        base += "/"
    target_dir = Path(root) / spec.name
    written = []
    for local, remote in source.files:
        path = target_dir / local
        if path.exists() and not force:
            log.info("%s exists; skipping (use force to download again)", path)
            continue
        url = base + remote
        log.info("downloading %s", url)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                data = response.read()
        except OSError as err:
            raise OSError(f"could not download {url}: {err}") from err
        # refuse a file that does not parse before it can replace anything
        parse_corpus(data.decode("utf-8-sig"), spec.fmt, source=url, types=spec.types)
        with atomic_open(path, "wb") as out:
            out.write(data)
        written.append(path)
    return written
