"""``.vec`` and dictionary files saved wrongly are one-line CLI errors naming file and line."""

import pytest

from xmner import cli
from xmner.align.embeddings import VecFormatError, read_vec

VEC = "3 2\nparis 0.1 0.2\nbeijing 0.3 0.4\n北京 0.5 0.6\n"
DICT = "paris 巴黎\nbeijing 北京\n"


@pytest.fixture(autouse=True)
def only_align_commands(monkeypatch):
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ("xmner.align.commands",))


def _evaluate(tmp_path, src_bytes=None, dict_bytes=None) -> tuple[int, str]:
    paths = {name: tmp_path / name for name in ("en.vec", "zh.vec", "dict.txt")}
    paths["en.vec"].write_bytes(src_bytes if src_bytes is not None else VEC.encode())
    paths["zh.vec"].write_bytes(VEC.encode())
    paths["dict.txt"].write_bytes(dict_bytes if dict_bytes is not None else DICT.encode())
    argv = ["align", "evaluate", "--src", str(paths["en.vec"]), "--tgt", str(paths["zh.vec"])]
    return cli.main([*argv, "--dict", str(paths["dict.txt"])]), str(paths["en.vec"])


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("xmner align: error:") and len(err.splitlines()) == 1, err
    return err


def test_good_files_evaluate(tmp_path, capsys):
    assert _evaluate(tmp_path)[0] == 0


def test_vec_names_file_and_line(tmp_path, capsys, broken):
    data, line = broken(VEC)
    code, src = _evaluate(tmp_path, src_bytes=data)
    assert code == 1
    assert f"{src}:{line}:" in _one_line(capsys)


def test_dictionary_names_file_and_line(tmp_path, capsys, broken):
    data, line = broken(DICT)
    assert _evaluate(tmp_path, dict_bytes=data)[0] == 1
    assert f"{tmp_path / 'dict.txt'}:{line}:" in _one_line(capsys)


def test_vec_cut_at_a_line_end_names_the_last_line(tmp_path):
    path = tmp_path / "en.vec"
    path.write_text(VEC.rsplit("北京", 1)[0], encoding="utf-8")
    with pytest.raises(VecFormatError, match=r"en\.vec:3: header says 3 words, found 2 \(trunc"):
        read_vec(path)


def test_vec_bad_line_after_the_first_4096_bytes(tmp_path):
    rows = "".join(f"w{i} {i}.0 1.0\n" for i in range(600))
    path = tmp_path / "en.vec"
    path.write_bytes(f"601 2\n{rows}".encode() + "中".encode("gbk") + b" 1.0 2.0\n")
    with pytest.raises(ValueError, match=r"en\.vec:602: not UTF-8 .*GBK"):
        read_vec(path)
