"""A dictionary's Chinese script matched to the vocabulary's (OpenCC): MUSE en-zh is Traditional."""

from __future__ import annotations

import numpy as np
import pytest

from xmner import cli
from xmner.align import dictionary as dico
from xmner.align.embeddings import Embeddings, write_vec

EN = ["this", "computer", "study", "taiwan", "people", "dragon", "china"]
ZH_SIMPLIFIED = ["这个", "电脑", "学习", "台湾", "人民", "中国"]
ZH_TRADITIONAL = ["這個", "電腦", "學習", "臺灣", "人民", "中國"]
# Five pairs change under t2s (這個 電腦 學習 臺灣 龍); 人民 is the same in both scripts;
# 龍 -> 龙 is in neither vocabulary.
TRADITIONAL_DICT = [
    ("this", "這個"),
    ("computer", "電腦"),
    ("study", "學習"),
    ("taiwan", "臺灣"),
    ("people", "人民"),
    ("dragon", "龍"),
]


def emb(words: list[str]) -> Embeddings:
    rng = np.random.default_rng(len(words))
    return Embeddings(list(words), rng.standard_normal((len(words), 8)).astype(np.float32))


@pytest.fixture(autouse=True)
def only_align_commands(monkeypatch):
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ("xmner.align.commands",))


def test_scripts_are_told_apart():
    assert dico.chinese_script(ZH_SIMPLIFIED) == "simplified"
    assert dico.chinese_script(ZH_TRADITIONAL) == "traditional"
    assert dico.chinese_script(["人民", "hello"]) is None  # the same in both scripts


def test_traditional_dictionary_is_converted_to_a_simplified_vocabulary():
    pairs, match = dico.match_script(TRADITIONAL_DICT, emb(EN), emb(ZH_SIMPLIFIED))
    assert (match.dictionary_script, match.vocabulary_script) == ("traditional", "simplified")
    assert match.converted == 5
    assert (match.found_before, match.found_after) == (1, 5)
    assert pairs[0] == ("this", "这个") and pairs[3] == ("taiwan", "台湾")
    assert pairs[4] == ("people", "人民") and pairs[5] == ("dragon", "龙")
    assert "5 pairs converted" in match.line() and "1 before, 5 after" in match.line()


def test_simplified_dictionary_is_left_alone():
    simplified = [(en, zh) for en, zh in zip(EN, ZH_SIMPLIFIED)]
    pairs, match = dico.match_script(simplified, emb(EN), emb(ZH_SIMPLIFIED))
    assert pairs == simplified
    assert (match.converted, match.found_before, match.found_after) == (0, 6, 6)
    assert match.dictionary_script == match.vocabulary_script == "simplified"


def test_simplified_dictionary_meets_a_traditional_vocabulary():
    simplified = [(en, zh) for en, zh in zip(EN, ZH_SIMPLIFIED)]
    pairs, match = dico.match_script(simplified, emb(EN), emb(ZH_TRADITIONAL))
    assert (match.converted, match.found_before, match.found_after) == (5, 1, 6)
    assert pairs[1] == ("computer", "電腦")


def test_chinese_source_side_is_found():
    reversed_dict = [(zh, en) for en, zh in TRADITIONAL_DICT]
    pairs, match = dico.match_script(reversed_dict, emb(ZH_SIMPLIFIED), emb(EN))
    assert (match.converted, match.found_after) == (5, 5) and pairs[1] == ("电脑", "computer")


def test_align_evaluate_prints_the_conversion(tmp_path, capsys):
    write_vec(tmp_path / "en.vec", emb(EN))
    write_vec(tmp_path / "zh.vec", emb(ZH_SIMPLIFIED))
    path = tmp_path / "muse.zh-tw.txt"
    dico.write_dictionary(path, TRADITIONAL_DICT)
    argv = ["align", "evaluate", "--src", str(tmp_path / "en.vec")]
    assert cli.main([*argv, "--tgt", str(tmp_path / "zh.vec"), "--dict", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        f"{path}: dictionary script traditional, vocabulary simplified: 5 pairs converted with "
        "OpenCC; pairs in both vocabularies: 1 before, 5 after"
    ) in out
    assert "test_pairs=5" in out  # evaluated on the converted pairs
