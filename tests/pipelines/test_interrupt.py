"""Ctrl-C and SIGTERM end a real ``xmner reproduce`` process with one line and exit code 130."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def _start(out: Path, data_root: Path, *extra: str) -> subprocess.Popen:
    """A smoke run whose cells would train for hours, in its own process group."""
    argv = [sys.executable, "-m", "xmner.cli", "reproduce", "--preset", "smoke"]
    argv += ["--out", str(out), "--data-dir", str(data_root), "--direction", "en2zh"]
    argv += ["--set", 'schedules=["-"]', "--set", "acn.train.epochs=100000", *extra]
    env = {**os.environ, "PYTHONPATH": str(SRC), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=_foreground,
    )  # fmt: skip


def _foreground() -> None:
    """In the child: a process group of its own, Ctrl-C not ignored (as in a background job)."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_epochs(proc: subprocess.Popen, out: Path, cells: int, timeout: float = 300) -> None:
    """Return once ``cells`` cells have each saved an epoch's state (written after metrics.jsonl:
    waiting for that file alone let a signal land before the state existed)."""
    end = time.monotonic() + timeout
    while len(list(out.glob("en2zh/acn/*/seed*/train.state.pt"))) < cells:
        if proc.poll() is not None or time.monotonic() > end:
            proc.kill()
            pytest.fail(f"training never started:\n{proc.communicate()[1]}")
        time.sleep(0.2)


@pytest.mark.parametrize(
    "how, extra, cells",
    [
        ("ctrl-c", [], 1),
        ("sigterm", [], 1),
        ("ctrl-c", ["--jobs", "2", "--seeds", "1", "2"], 2),  # workers ignore it, the parent stops
    ],
    ids=["ctrl-c", "sigterm", "ctrl-c-workers"],
)
def test_interrupted_run_says_what_it_kept_in_one_line(tmp_path, data_root, how, extra, cells):
    proc = _start(tmp_path, data_root, *extra)
    _wait_for_epochs(proc, tmp_path, cells)
    if how == "ctrl-c":  # a terminal sends SIGINT to the whole foreground process group
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=300)  # returns once every worker closed stderr too
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"xmner reproduce: interrupted; 0 of {cells} cells finished and kept")
    assert last.endswith("run the same command to continue")
    assert err.count("xmner reproduce:") == 1
    for seed in range(1, cells + 1):  # the epochs run so far are saved for the rerun
        assert (
            tmp_path / "en2zh" / "acn" / "target-only" / f"seed{seed}" / "train.state.pt"
        ).exists()
