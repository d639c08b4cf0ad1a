"""A run directory you can trust (issue #14): fingerprinted inputs, verified files, no pickle,
one writer, self-contained. Smoke preset, 8 posts a split, one or two epochs."""

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from xmner import io, manifest
from xmner.cli import main
from xmner.data.corpus import read_corpus
from xmner.pipelines import experiment
from xmner.pipelines.config import load_experiment

CELL = Path("en2zh") / "acn" / "target-only" / "seed1"
FILES = {"cmner": ("train.txt", "dev.txt", "test.txt"), "twitter2015": ("train.txt", "valid.txt",
         "test.txt")}  # fmt: skip
SMALL = ['directions=["en2zh"]', 'schedules=["-"]', "data.max_posts=8", "acn.train.epochs=1"]


def _copy_data(data_root: Path, to: Path) -> Path:
    for corpus, names in FILES.items():
        (to / corpus).mkdir(parents=True)
        for name in names:
            shutil.copy(data_root / corpus / name, to / corpus / name)
    return to


def _cfg(out: Path, data: Path, *extra: str):
    return load_experiment("smoke", [f'out="{out}"', f'data.data_dir="{data}"', *SMALL, *extra])


def _argv(command: str, out: Path, data: Path, *extra: str) -> list[str]:
    argv = [command, "--preset", "smoke", "--out", str(out), "--data-dir", str(data)]
    argv += ["--direction", "en2zh", "--model", "acn"]
    argv += ["--schedule", "-"] if command == "train" else []
    for item in SMALL[2:]:
        argv += ["--set", item]
    return argv + list(extra)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, data_root):
    """A finished one-cell run (and its data), copied by each test that damages it."""
    root = tmp_path_factory.mktemp("finished")
    data = _copy_data(data_root, root / "data")
    assert main(_argv("train", root / "runs", data)) == 0
    return root


@pytest.fixture
def run(finished, tmp_path):
    shutil.copytree(finished, tmp_path / "copy")
    return tmp_path / "copy"


def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_changed_inputs_are_recomputed_or_refused(run, caplog, monkeypatch):
    from xmner import scalars

    discarded = []
    monkeypatch.setattr(scalars, "discard", discarded.append)  # the cell's MLflow runs go too
    out, data = run / "runs", run / "data"
    first = json.loads((out / CELL / "results.json").read_text())
    test_file = data / "cmner" / "test.txt"
    block = "雪\tB-ORG\n佛\tI-ORG\n兰\tI-ORG"
    assert block in test_file.read_text()
    test_file.write_text(test_file.read_text().replace(block, "雪\tB-LOC\n佛\tI-LOC\n兰\tI-LOC", 1))
    with pytest.raises(ValueError, match=r"runs: inputs differ .*\(cmner/test.txt changed\)"):
        experiment.run_experiment(_cfg(out, data, 'on_change="refuse"'))
    # a cell made by an older run (no environment.json) is checked on its own
    (out / "environment.json").unlink()
    with pytest.raises(ValueError, match=r"seed1: inputs differ .*\(cmner/test.txt changed\)"):
        experiment.run_experiment(_cfg(out, data, 'on_change="refuse"'))
    with caplog.at_level(logging.WARNING):
        (again,), _ = experiment.run_experiment(_cfg(out, data))  # recompute: the default
    assert "cmner/test.txt changed" in caplog.text
    assert discarded == [out / CELL]  # once, on recompute (refusing keeps everything)
    assert again["inputs"]["cmner/test.txt"] != first["inputs"]["cmner/test.txt"]
    assert again["inputs"]["cmner/train.txt"] == first["inputs"]["cmner/train.txt"]
    assert read_corpus(out / again["gold_test"])[0].tags[:3] == ["B-LOC", "I-LOC", "I-LOC"]
    metrics = (out / CELL / "metrics.jsonl").read_text().splitlines()
    assert len(metrics) == 1  # recomputed from scratch, not appended to the old run


def test_every_artefact_records_its_inputs(run):
    out = run / "runs"
    config = json.loads((out / CELL / "config.json").read_text())
    env = json.loads((out / "environment.json").read_text())
    names = {"cmner/train.txt", "cmner/dev.txt", "cmner/test.txt", "twitter2015/train.txt",
             "twitter2015/valid.txt", "twitter2015/test.txt", "cc-cedict"}  # fmt: skip
    assert set(config["inputs"]) == names and env["inputs"] == config["inputs"]
    (emb,) = (out / "cache" / "embeddings").iterdir()
    assert json.loads((emb / "inputs.json").read_text())["inputs"] == config["inputs"]
    for key in ("xmner", "git_commit", "python", "torch", "transformers", "device", "threads"):
        assert key in env
    assert env["command"][1:3] == ["train", "--preset"] or env["command"]


def test_cached_translations_and_embeddings_are_keyed_by_their_inputs(run, caplog):
    from xmner.pipelines import artefacts
    from xmner.pipelines.schedules import DIRECTIONS

    cfg = _cfg(run / "runs", run / "data")
    ctx = experiment.prepare(cfg)
    posts, cache = ctx.corpora["twitter2015", "train:raw"], ctx.cache
    d = DIRECTIONS["en2zh"]
    _, report_a = artefacts.translated_train(cfg, d, posts, cache, {"twitter2015/train.txt": "a"})
    _, report_b = artefacts.translated_train(cfg, d, posts, cache, {"twitter2015/train.txt": "b"})
    assert report_a.parent != report_b.parent  # another input, another entry
    recorded = json.loads((report_b.parent / "inputs.json").read_text())
    assert recorded["inputs"] == {"twitter2015/train.txt": "b"}
    assert json.loads((report_b.parent / "inputs.json").read_text())["settings"]["engine"]


def test_damaged_caches_are_discarded_and_rebuilt(run, caplog):
    cfg = _cfg(run / "runs", run / "data", 'schedules=["TGT"]')
    ctx = experiment.prepare(cfg)
    cache = ctx.cache
    (translation,) = (cache / "translations").glob("en2zh-*")
    text = (translation / "train.txt").read_text()
    cut = text.rstrip("\n").rindex("\n\n") + 2  # the last post's start: a post boundary
    (translation / "train.txt").write_text(text[:cut])
    (cache / "translations.sqlite").write_bytes(b"garbage" * 1000)
    emb = next(p for p in (cache / "embeddings").iterdir() if "TGT" not in p.name)
    matrix = [p for p in (cache / "embeddings").rglob("acn_embeddings.npy")]
    for path in matrix:
        path.write_bytes(path.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        again = experiment.prepare(cfg)
    assert f"damaged cache entry {translation}" in caplog.text and "train.txt: cut" in caplog.text
    assert f"damaged translation cache {cache / 'translations.sqlite'}" in caplog.text
    assert "acn_embeddings.npy: cut" in caplog.text and emb.exists()
    assert [p.tokens for p in again.translations["en2zh"]] == [
        p.tokens for p in ctx.translations["en2zh"]
    ]
    assert torch.equal(again.resources["acn"]["embeddings"], ctx.resources["acn"]["embeddings"])


@pytest.mark.parametrize(
    "name, damage, message",
    [
        ("results.json", lambda p: p.write_text(""), "results.json: cut: 0 bytes"),
        ("config.json", lambda p: p.write_text(p.read_text()[:20]), "config.json: cut"),
        ("train.done.json", lambda p: p.write_text("{}"), "train.done.json: cut"),
        ("train.best.pt", lambda p: p.write_bytes(p.read_bytes()[:99]), "train.best.pt: cut"),
    ],
)
def test_a_damaged_run_file_stops_with_one_line_naming_it(run, capsys, name, damage, message):
    out = run / "runs"
    if name != "results.json":  # the cell is finished: its stage files are read only without it
        (out / CELL / "results.json").unlink()
    damage(out / CELL / name)
    err = _one_line_error(capsys, _argv("train", out, run / "data"))
    assert f"{out / CELL / message}" in err


def test_edited_predictions_are_refused_by_the_report(run, capsys):
    out = run / "runs"
    preds = out / CELL / "predictions.txt"
    lines = preds.read_text().split("\n")
    token, tag = lines[1].split("\t")
    other = {"O": "B-PER"}.get(tag, tag[:2] + ("PER" if tag[2:] != "PER" else "ORG"))
    lines[1] = f"{token}\t{other}"  # another tag for the first character
    preds.write_text("\n".join(lines))
    err = _one_line_error(capsys, ["report", "--out", str(out)])
    assert f"{preds}: altered since written" in err or f"{preds}: grown" in err


def test_a_copied_run_directory_reports_the_same(run, tmp_path, capsys):
    out = run / "runs"
    assert main(["report", "--out", str(out)]) == 0
    tables = {p.name: p.read_text() for p in (out / "report").glob("*.md")}
    moved = tmp_path / "elsewhere" / "runs"
    shutil.move(str(out), str(moved))  # the original is gone: nothing may point into it
    assert main(["report", "--out", str(moved)]) == 0
    assert {p.name: p.read_text() for p in (moved / "report").glob("*.md")} == tables
    result = json.loads((moved / CELL / "results.json").read_text())
    assert not Path(result["gold_test"]).is_absolute()
    for path in [moved / CELL / "results.json", *moved.glob("cache/**/export.json")]:
        assert str(out) not in path.read_text()


def test_files_have_one_mode(run):
    out = run / "runs"
    modes = {
        p.relative_to(out).as_posix(): os.stat(p).st_mode & 0o777
        for p in out.rglob("*")
        if p.is_file() and p.name != ".lock" and p.parent.name != "fasttext"
    }
    assert set(modes.values()) == {io.FILE_MODE}, modes
    assert manifest.verify(out / CELL / "best.pt") and manifest.verify(out / "environment.json")


class Evil:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("recorded", [False, True])
def test_a_pickle_where_the_state_lives_never_runs(tmp_path, data_root, monkeypatch, recorded):
    data = _copy_data(data_root, tmp_path / "data")
    cfg = _cfg(tmp_path / "runs", data, "acn.train.epochs=2")
    real_fit = experiment.fit

    def dying_fit(*args, **kwargs):
        def die(epoch):
            raise KeyboardInterrupt("killed after one epoch")

        return real_fit(*args, **{**kwargs, "on_epoch_end": die})

    monkeypatch.setattr(experiment, "fit", dying_fit)
    with pytest.raises(KeyboardInterrupt):
        experiment.run_experiment(cfg)
    monkeypatch.setattr(experiment, "fit", real_fit)
    state, marker = tmp_path / "runs" / CELL / "train.state.pt", tmp_path / "pwned"
    torch.save({"model": Evil(marker)}, state)
    if recorded:  # even a file the manifest vouches for is read with weights_only
        manifest.record(state)
        with pytest.raises(ValueError, match=f"{state}: not a plain resume state"):
            experiment.run_experiment(cfg)
    else:  # not written by xmner: discarded, the stage restarts
        experiment.run_experiment(cfg)
        lines = (tmp_path / "runs" / CELL / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(x)["epoch"] for x in lines] == [0, 1]
    assert not marker.exists()


def test_two_processes_on_one_out_leave_one_runs_files(tmp_path, data_root):
    data = _copy_data(data_root, tmp_path / "data")
    out = tmp_path / "runs"
    code = "import sys; from xmner.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(Path(experiment.__file__).parents[2])}
    argv = [sys.executable, "-c", code, *_argv("train", out, data, "--set", "acn.train.epochs=2")]
    procs = [subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    codes, errs = zip(*[(p.wait(timeout=300), p.stderr.read()) for p in procs])
    assert 0 in codes, errs
    for rc, err in zip(codes, errs):
        assert rc == 0 or "is in use by pid" in err, err
    lines = [json.loads(x) for x in (out / CELL / "metrics.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines] == [0, 1]  # each epoch once
    assert manifest.verify(out / CELL / "results.json")
