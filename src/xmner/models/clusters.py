"""English word clusters: each token's Brown cluster, as a feature that reaches unseen words.

The clusters are spaCy's English ``lexeme_cluster`` table (``spacy-lookups-data``, MIT; one
million words in 1,000 Brown clusters learnt from a large English corpus). A token is looked
up as written, then lower-cased; a word the table lacks, or holds in cluster 0 (unclustered),
and every Chinese character, has no cluster (``""``). Only the cluster ids seen in the
training posts get an embedding row (``build_cluster_vocab``), like bigrams; a word never seen
in training still shares its cluster's row, which is what the feature is for.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from xmner.data.corpus import Post
from xmner.models.vocab import PAD, UNK

PACKAGE = "spacy_lookups_data"
TABLE = "en_lexeme_cluster.json.gz"
NONE = "-"  # the cluster of a token that has none


# One entry per line in the packaged file ('  "word":123,'); cluster 0 (unclustered) is skipped
# while reading, so the 810,000 unclustered words never become Python objects (36 MiB against
# 333 MiB for json.load of the whole table, per process).
_ENTRY = re.compile(r'^\s*("(?:[^"\\\n]|\\.)*"):\s*([1-9][0-9]*),?$', re.MULTILINE)


def table_file() -> Path:
    """The packaged table's file (spacy-lookups-data), or a clear error when it is missing."""
    try:
        from importlib.resources import files

        return Path(str(files(PACKAGE) / "data" / TABLE))
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "acn.cluster_dim > 0 needs the English word clusters of spacy-lookups-data: "
            "pip install spacy-lookups-data"
        ) from None


@functools.cache
def cluster_table() -> dict[str, int]:
    """spaCy's English word -> Brown cluster id table, clustered words only."""
    text = gzip.decompress(table_file().read_bytes()).decode("utf-8")
    table = {json.loads(word): int(cid) for word, cid in _ENTRY.findall(text)}
    if len(table) < 1000:  # not laid out one entry per line: parse it whole
        table = {word: cid for word, cid in json.loads(text).items() if cid}
    return table


def token_cluster(token: str) -> str:
    """The token's cluster id as text (as written, else lower-cased), or ``NONE``."""
    table = cluster_table()
    cid = table.get(token) or table.get(token.lower())  # absent: none, or cluster 0
    return str(cid) if cid else NONE


def build_cluster_vocab(posts: Iterable[Post]) -> list[str]:
    """``<pad>``, ``<unk>``, then the clusters of the training tokens, most frequent first."""
    counts = Counter(token_cluster(t) for post in posts for t in post.tokens)
    return [PAD, UNK] + [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
