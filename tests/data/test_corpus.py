"""Corpus readers and writers on every shared file, and on crafted bad files."""

import re
from collections import Counter
from pathlib import Path

import pytest

from xmner.data.corpora import CORPORA, load_split, split_path
from xmner.data.corpus import (
    CorpusFormatError,
    Post,
    detect_format,
    format_corpus,
    read_corpus,
    write_corpus,
)
from xmner.data.tags import RepairReport

SHARED_FILES = [
    ("cmner", "train"),
    ("cmner", "dev"),
    ("cmner", "test"),
    ("twitter2015", "train"),
    ("twitter2015", "dev"),
    ("twitter2015", "test"),
]


def _file_lines(path: Path) -> list[str]:
    """Token and header lines as in the file (any line ending), blank lines dropped."""
    text = path.read_bytes().decode("utf-8")
    return [line for line in re.split(r"\r\n|\r|\n", text) if line != ""]


@pytest.mark.parametrize(("corpus", "split"), SHARED_FILES)
def test_every_shared_file_round_trips_exactly(corpus, split, data_root, tmp_path):
    path = split_path(corpus, split, data_root)
    posts = load_split(corpus, split, data_root)
    lines = _file_lines(path)
    token_lines = [line for line in lines if "\t" in line]
    # every token and tag read: counts equal the file's
    assert sum(len(p.tokens) for p in posts) == len(token_lines)
    assert Counter(t for p in posts for t in p.tags) == Counter(
        line.rsplit("\t", 1)[1] for line in token_lines
    )
    out = tmp_path / "out.txt"
    write_corpus(posts, out, CORPORA[corpus].fmt)
    assert _file_lines(out) == lines  # byte for byte, line endings normalised
    assert read_corpus(out, corpus=corpus) == posts


def test_entity_counts_match_the_data_readme(data_root):
    expected = {  # B- tags per file, from ../shared/data/README.md
        ("cmner", "train"): {"PER": 3814, "LOC": 4760, "ORG": 6045, "MISC": 1754},
        ("cmner", "test"): {"PER": 1287, "LOC": 1605, "ORG": 1863, "MISC": 522},
        ("twitter2015", "dev"): {"PER": 552, "LOC": 522, "ORG": 247, "OTHER": 220},
    }
    for (corpus, split), counts in expected.items():
        posts = load_split(corpus, split, data_root)
        got = Counter(t[2:] for p in posts for t in p.tags if t.startswith("B-"))
        assert got == counts


def test_odd_whitespace_token_is_kept(data_root):
    posts = load_split("twitter2015", "dev", data_root)
    assert any("\xa0" in p.tokens for p in posts)


def test_line_endings_crlf_bare_cr_and_no_final_newline(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes("WID:a1\r\n我\tB-PER\r你\tI-PER\n\r\nWID:b2\r\n好\tO".encode())
    posts = read_corpus(path)
    assert detect_format(path) == "cmner"
    assert posts == [
        Post("a1", ["我", "你"], ["B-PER", "I-PER"], [], "zh"),
        Post("b2", ["好"], ["O"], [], "zh"),
    ]


def test_twitter_posts_get_their_image_id(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("IMGID:123\nRT\tO\n@x\tO\n")
    (post,) = read_corpus(path, corpus="twitter2015")
    assert (post.image_ids, post.lang, post.corpus) == (["123"], "en", "twitter2015")


@pytest.mark.parametrize(
    ("content", "line", "what"),
    [
        ("IMGID:1\nfoo\tB-PER\nbar\tB-FOO\n", 3, "unknown tag 'B-FOO'"),
        ("IMGID:1\nfoo\tB-PER\nbar\n", 3, "expected 'token<TAB>tag'"),
        ("IMGID:1\nfoo\tX-PER\n", 2, "unknown tag 'X-PER'"),
        ("foo\tO\n", 1, "expected a 'WID:' or 'IMGID:' header"),
    ],
)
def test_malformed_files_name_file_line_and_post(tmp_path, content, line, what):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(CorpusFormatError) as err:
        read_corpus(path, types=("PER", "LOC", "ORG", "OTHER"))
    assert f"{path}:{line}:" in str(err.value)
    assert what in str(err.value)


def test_leading_blank_lines_are_fine_but_token_before_header_is_an_error(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("\n\nIMGID:1\nok\tO\n")
    assert len(read_corpus(path)) == 1
    path.write_text("IMGID:1\nok\tO\n")
    bad = tmp_path / "bad2.txt"
    bad.write_text("x\tO\nIMGID:1\n")
    with pytest.raises(CorpusFormatError, match=r"bad2\.txt:1: post -: token line before"):
        read_corpus(bad, "twitter")


def test_repair_turns_orphan_i_into_b_and_reports_each(tmp_path):
    path = tmp_path / "orphans.txt"
    path.write_text("IMGID:7\nA\tI-PER\nB\tO\nC\tI-LOC\nD\tB-ORG\nE\tI-PER\nF\tI-PER\n")
    report = RepairReport()
    (post,) = read_corpus(path, repair=True, report=report)
    assert post.tags == ["B-PER", "O", "B-LOC", "B-ORG", "B-PER", "I-PER"]
    assert report.repaired == 3
    assert [(p.line, p.post_id) for p in report.problems] == [(2, "7"), (4, "7"), (6, "7")]
    assert "I-LOC continues no entity" in str(report.problems[1])
    # without repair, tags are kept as they are
    assert read_corpus(path)[0].tags[0] == "I-PER"


def test_real_twitter_orphans_are_found(data_root):
    from xmner.data.corpus import check_corpus

    problems = check_corpus(split_path("twitter2015", "train", data_root))
    assert problems and all(p.path.endswith("train.txt") and p.line > 1 for p in problems)


def test_format_corpus_shape():
    posts = [Post("1", ["a", "b"], ["B-PER", "I-PER"]), Post("2", ["c"], ["O"])]
    assert format_corpus(posts, "twitter") == "IMGID:1\na\tB-PER\nb\tI-PER\n\nIMGID:2\nc\tO\n"
