"""One writer per directory: a second process is refused naming the holder; stale locks go."""

import json
import os
import subprocess
import sys
from pathlib import Path

from xmner import locks

TRY = """
import sys
from xmner import locks
try:
    with locks.hold(sys.argv[1]):
        print("acquired")
except locks.Busy as err:
    print(err)
"""


def _other_process(directory: Path) -> str:
    src = str(Path(locks.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run([sys.executable, "-c", TRY, str(directory)], capture_output=True,
                         text=True, env=env, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_a_second_process_is_refused_naming_the_holder(tmp_path):
    with locks.hold(tmp_path, command="xmner reproduce") as path:
        info = json.loads(path.read_text())
        assert info["pid"] == os.getpid() and info["host"]
        message = _other_process(tmp_path)
    assert message.startswith(f"{tmp_path} is in use by pid {os.getpid()} on ")
    assert "xmner reproduce" in message
    assert _other_process(tmp_path) == "acquired"  # released


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    (tmp_path / locks.LOCK).write_text(json.dumps({"pid": int(dead), "host": "h", "since": "s"}))
    with locks.hold(tmp_path) as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_a_lock_file_without_holder_details_still_reads(tmp_path):
    (tmp_path / locks.LOCK).write_text("")  # e.g. made by another filelock user
    assert locks.holder(tmp_path / locks.LOCK) == "an unknown process"
    assert issubclass(locks.Busy, OSError)  # the CLI prints it as one line
