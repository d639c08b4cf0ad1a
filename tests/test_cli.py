"""CLI in-process: stats, evaluate, data fetch (file:// URL), and error handling."""

import json
import shutil

import pytest

from xmner.cli import main


def test_stats_json_matches_file_counts(data_root, capsys):
    assert main(["stats", "--corpus", "cmner", "--data-dir", str(data_root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["train"]["entities"] == {"PER": 3814, "LOC": 4760, "ORG": 6045, "MISC": 1754}
    assert out["dev"]["entities"] == {"PER": 1313, "LOC": 1546, "ORG": 1942, "MISC": 594}
    assert out["test"]["entities"]["LOC"] == 1605  # the paper says 1,604: see data README
    assert (out["train"]["posts"], out["dev"]["posts"], out["test"]["posts"]) == (3000, 1000, 1000)
    assert out["train"]["orphan_i"] == 0


def test_stats_twitter_counts_orphans(data_root, capsys):
    assert main(["stats", "--corpus", "twitter2015", "--data-dir", str(data_root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dev"]["entities"] == {"PER": 552, "LOC": 522, "ORG": 247, "OTHER": 220}
    assert out["test"]["posts"] == 3257
    assert out["train"]["orphan_i"] > 0


def test_stats_table_output(data_root, capsys):
    assert main(["stats", "--corpus", "cmner", "--data-dir", str(data_root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split() == [
        "train",
        "3000",
        "332649",
        "3814",
        "4760",
        "6045",
        "1754",
        "16373",
        "0",
    ]


def test_evaluate_json(tmp_path, capsys):
    gold = tmp_path / "gold.txt"
    pred = tmp_path / "pred.txt"
    gold.write_text("IMGID:1\nJohn\tB-PER\nin\tO\nParis\tB-LOC\n")
    pred.write_text("IMGID:1\nJohn\tB-PER\nin\tO\nParis\tB-ORG\n")
    assert main(["evaluate", str(gold), str(pred), "--json", "--errors"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["precision"], out["recall"], out["f1"]) == (0.5, 0.5, 0.5)
    assert out["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert out["errors"]["wrong_type"] == 1


def test_evaluate_mismatched_posts_is_a_one_line_error(tmp_path, capsys):
    gold = tmp_path / "gold.txt"
    pred = tmp_path / "pred.txt"
    gold.write_text("IMGID:1\nJohn\tB-PER\n")
    pred.write_text("IMGID:1\nJane\tB-PER\n")
    assert main(["evaluate", str(gold), str(pred)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("xmner evaluate: error:") and "tokens differ" in err
    assert len(err.splitlines()) == 1


def test_missing_corpus_is_a_clear_error(tmp_path, capsys):
    assert main(["stats", "--corpus", "twitter2017", "--data-dir", str(tmp_path)]) == 1
    assert "xmner data fetch" in capsys.readouterr().err


def test_data_fetch_from_file_url(data_root, tmp_path, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in ("train.txt", "valid.txt", "test.txt"):
        # small copies keep the test fast; content is real
        lines = (data_root / "twitter2015" / name).read_text().split("\n\n")[:5]
        (mirror / name).write_text("\n\n".join(lines) + "\n")
    out = tmp_path / "data"
    argv = [
        "data",
        "fetch",
        "--corpus",
        "twitter2015",
        "--data-dir",
        str(out),
        "--base-url",
        mirror.as_uri(),
    ]
    assert main(argv) == 0
    assert (out / "twitter2015" / "valid.txt").read_text() == (mirror / "valid.txt").read_text()
    assert main(["stats", "--corpus", "twitter2015", "--data-dir", str(out), "--json"]) == 0
    capsys.readouterr()
    # a file that does not parse is refused and never replaces the good one
    (mirror / "train.txt").write_text("garbage\n")
    assert main([*argv, "--force"]) == 1
    assert "expected" in capsys.readouterr().err
    assert (out / "twitter2015" / "train.txt").read_text().startswith("IMGID:")


def test_data_fetch_from_local_http_server(data_root, tmp_path):
    import functools
    import http.server
    import threading

    mirror = tmp_path / "srv"
    mirror.mkdir()
    for name in ("train.txt", "dev.txt", "test.txt"):
        shutil.copy(data_root / "cmner" / "dev.txt", mirror / name)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        argv = [
            "data",
            "fetch",
            "--corpus",
            "cmner",
            "--data-dir",
            str(tmp_path / "d"),
            "--base-url",
            url,
        ]
        assert main(argv) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert (tmp_path / "d" / "cmner" / "test.txt").read_bytes() == (
        data_root / "cmner" / "dev.txt"
    ).read_bytes()


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "stats" in out and "evaluate" in out and "data" in out
