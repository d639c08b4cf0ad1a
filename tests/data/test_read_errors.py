"""A corpus file saved wrongly (UTF-16, GBK, binary, empty, truncated) is a one-line CLI error
naming the file and line; the text helper's line counting follows the corpus readers'."""

import pytest

from xmner.cli import main
from xmner.data.corpus import detect_format, read_corpus
from xmner.textfile import TextFileError, line_of, read_text

# The real first post of CMNER's train.txt (CRLF), cut short, plus one more short post.
POSTS = "WID:1\r\n中\tB-LOC\r\n国\tI-LOC\r\n队\tO\r\n\r\nWID:2\r\n李\tB-PER\r\n雷\tI-PER\r\n"


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"xmner {command}: error:"), err
    assert len(err.splitlines()) == 1, err
    return err


def test_stats_names_file_and_line(tmp_path, capsys, broken):
    data, line = broken(POSTS)
    (tmp_path / "cmner").mkdir()
    path = tmp_path / "cmner" / "train.txt"
    path.write_bytes(data)
    assert main(["stats", "--corpus", "cmner", "--data-dir", str(tmp_path)]) == 1
    err = _one_line_error(capsys, "stats")
    assert f"{path}:{line}:" in err
    assert "codec can't decode" not in err


def test_evaluate_detecting_the_format_names_file_and_line(tmp_path, capsys, broken):
    data, line = broken(POSTS)
    gold, pred = tmp_path / "gold.txt", tmp_path / "pred.txt"
    gold.write_bytes(data)
    pred.write_text(POSTS, encoding="utf-8")
    assert main(["evaluate", str(gold), str(pred)]) == 1
    assert f"{gold}:{line}:" in _one_line_error(capsys, "evaluate")


def test_real_train_file_truncated_inside_a_character(data_root, tmp_path):
    real = (data_root / "cmner" / "train.txt").read_bytes()[:5000]
    cut = max(i for i, b in enumerate(real) if b >= 0xC0) + 1
    path = tmp_path / "train.txt"
    path.write_bytes(real[:cut])
    with pytest.raises(TextFileError, match="truncated") as err:
        read_corpus(path, "cmner")
    assert err.value.line == real[:cut].count(b"\n") + 1


def test_bare_cr_lines_count_like_the_reader(tmp_path):
    text = "WID:1\r中\tO\rWID:2\n人\tO\r\n国\tO\r\n"
    path = tmp_path / "c.txt"
    path.write_bytes(text.encode("utf-8").replace("国".encode(), b"\xff"))
    with pytest.raises(TextFileError) as err:
        read_corpus(path, "cmner")
    assert err.value.line == 5  # \r, \n and \r\n each end a line, as in parse_corpus
    assert line_of(b"a\rb\r\nc\nd", 7) == 4


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"\xef\xbb\xbf" + POSTS.encode("utf-8"))
    assert detect_format(path) == "cmner"
    assert read_text(path).startswith("WID:1")
    assert [p.id for p in read_corpus(path)] == ["1", "2"]
