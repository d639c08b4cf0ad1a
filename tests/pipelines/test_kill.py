"""SIGKILL a real ``xmner reproduce`` process at one point after another, resume each time, and
get the uninterrupted run: every epoch's metrics, the predictions and the scores."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HELPER = Path(__file__).with_name("killed_run.py")
CELL = Path("zh2en") / "acn" / "TGT" / "seed1"
# one direction, TGT: translation, fastText, alignment, pretraining on the translation, then
# fine-tuning; dropout, so that a resume must restore the random generators to match
SETTINGS = ['schedules=["TGT"]', "acn.config.dropout=0.3"]


def _run(point: str, n: int, out: Path, data_root: Path) -> subprocess.CompletedProcess:
    args = ["reproduce", "--preset", "smoke", "--out", str(out), "--data-dir", str(data_root),
            "--direction", "zh2en"]  # fmt: skip
    for setting in SETTINGS:
        args += ["--set", setting]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path.cwd() / "src")}
    return subprocess.run(
        [sys.executable, str(HELPER), point, str(n), "--", *args],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip


def _epochs(out: Path) -> list[dict]:
    lines = (out / CELL / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in lines]


@pytest.mark.slow  # seven runs of xmner reproduce: make test-slow, CI
def test_sigkill_anywhere_then_resume_equals_the_uninterrupted_run(tmp_path, data_root):
    clean = tmp_path / "clean"
    assert _run("none", 0, clean, data_root).returncode == 0
    killed = tmp_path / "killed"
    # each run dies at its point; the next one resumes from what the last one left
    for point, n, left in [
        ("translate", 1, "nothing translated yet"),
        ("embed", 2, "English vectors trained, Chinese not"),
        ("state", 2, "pretraining's epoch-1 state half written"),
        ("step", 5, "fine-tuning mid-epoch 0, pretraining done"),
        ("eval", 2, "fine-tuning's epoch-1 dev evaluation, epoch 0 saved"),
    ]:
        proc = _run(point, n, killed, data_root)
        assert proc.returncode == -signal.SIGKILL, f"{point}: {left}: {proc.stderr[-2000:]}"
    (killed / CELL / "finetune.state.pt").stat()  # the last death left a stage to resume
    last = _run("none", 0, killed, data_root)
    assert last.returncode == 0, last.stderr[-2000:]
    assert len(_epochs(killed)) == 4  # 2 pretraining + 2 fine-tuning epochs, each once
    assert _epochs(killed) == _epochs(clean)
    for name in ("predictions.txt",):
        assert (killed / CELL / name).read_bytes() == (clean / CELL / name).read_bytes()
    got, want = (json.loads((d / CELL / "results.json").read_text()) for d in (killed, clean))
    for key in ("precision", "recall", "f1", "per_type", "fingerprints"):
        assert got[key] == want[key]
    assert (killed / "report" / "table4.md").exists()
