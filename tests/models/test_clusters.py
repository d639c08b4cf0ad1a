"""English Brown clusters: the line-by-line reading of spaCy's table equals a full JSON parse."""

import gzip
import json

import pytest

pytest.importorskip("spacy_lookups_data")

from xmner.models import clusters  # noqa: E402


def test_table_read_line_by_line_equals_the_whole_json_without_cluster_0():
    from importlib.resources import files

    path = files(clusters.PACKAGE) / "data" / clusters.TABLE
    whole = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
    table = clusters.cluster_table()
    assert table == {word: cid for word, cid in whole.items() if cid}
    assert 100_000 < len(table) < len(whole)  # 190,129 of 1,000,001 in spacy-lookups-data 1.0.5
    assert '"' not in table and whole['"'] == 0  # cluster 0: unclustered, left out


def test_compact_json_falls_back_to_a_full_parse(monkeypatch):
    compact = json.dumps({f"w{i}": i % 3 for i in range(3000)}, separators=(",", ":"))
    monkeypatch.setattr(clusters.gzip, "decompress", lambda data: compact.encode("utf-8"))
    clusters.cluster_table.cache_clear()
    try:
        table = clusters.cluster_table()
        assert len(table) == 2000 and table["w1"] == 1 and "w3" not in table
    finally:
        clusters.cluster_table.cache_clear()
