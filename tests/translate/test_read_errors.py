"""An extra lexicon file saved wrongly is a one-line CLI error naming the file and line."""

from xmner import cli

LEXICON = "beijing 北京\nshanghai 上海\n"


def test_translate_lexicon_names_file_and_line(tmp_path, monkeypatch, capsys, broken):
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ("xmner.translate.commands",))
    (tmp_path / "twitter2015").mkdir()
    (tmp_path / "twitter2015" / "valid.txt").write_text("IMGID:1\nParis\tB-LOC\n")
    data, line = broken(LEXICON)
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_bytes(data)
    argv = ["translate", "--corpus", "twitter2015", "--split", "dev", "--to", "zh"]
    argv += ["--lexicon", str(lexicon), "--data-dir", str(tmp_path), "--no-cache"]
    assert cli.main([*argv, "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after tqdm's empty bar
    assert err.startswith("xmner translate: error:")
    assert f"{lexicon}:{line}:" in err
    assert not (tmp_path / "out" / "dev.txt").exists()
