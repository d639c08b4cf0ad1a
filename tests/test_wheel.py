"""The wheel carries its presets (issue #10): build it, install it alone into a fresh venv, and
run ``xmner reproduce --preset smoke`` from an unrelated folder. Slow-ish (~10 s CPU, a minute
on a busy machine); leave it out with ``-m 'not slow and not packaging'``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--direction", "en2zh", "--set", 'schedules=["-"]', "--set", "data.max_posts=8"]
SMALL += ["--set", "acn.train.epochs=1"]

pytestmark = [pytest.mark.packaging, pytest.mark.slow]  # make test-slow, CI


def _run(argv: list[str], cwd: Path, env: dict | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(argv)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _source_copy(to: Path) -> Path:
    """The files a build reads (top-level files and src/), so the build writes nothing here."""
    to.mkdir()
    for path in REPO.iterdir():
        if path.is_file():
            shutil.copy(path, to / path.name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(REPO / "src", to / "src", ignore=ignore)
    return to


def _wheel(tmp: Path) -> Path:
    tree = _source_copy(tmp / "tree")
    pip = [sys.executable, "-m", "pip"]
    _run([*pip, "wheel", ".", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(tmp / "dist")], cwd=tree)  # fmt: skip
    (wheel,) = (tmp / "dist").glob("xmner-*.whl")
    return wheel


def _venv(tmp: Path, wheel: Path) -> Path:
    """A venv holding only the wheel's xmner; the test venv's libraries (torch...) after it.

    The .pth line adds the test venv's site-packages as a plain path, so that folder's own .pth
    files (an editable install of xmner pointing at src/) are not read.
    """
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    _run([*pip, "install", "--no-deps", "--no-index", "-q", str(wheel)], cwd=tmp)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([str(python), "-c", purelib], cwd=tmp).strip())
    base = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_test_libraries.pth").write_text("".join(f"{p}\n" for p in sorted(base)))
    return venv


def test_installed_wheel_finds_its_presets_from_anywhere(tmp_path, data_root):
    venv = _venv(tmp_path, _wheel(tmp_path))
    work = tmp_path / "elsewhere"  # no presets folder, no src/, no ../shared
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "XMNER_DATA")}
    env["HF_HUB_OFFLINE"] = "1"

    which = "import xmner; print(xmner.__file__)"
    where = _run([str(venv / "bin" / "python"), "-c", which], cwd=work, env=env)
    assert Path(where.strip()).is_relative_to(venv), f"imported {where} instead of the wheel's"
    shown = _run([str(venv / "bin" / "xmner"), "preset", "show", "smoke"], cwd=work, env=env)
    assert 'preset = "smoke"' in shown

    argv = [str(venv / "bin" / "xmner"), "reproduce", "--preset", "smoke", "--out", "runs"]
    _run([*argv, "--data-dir", str(data_root), *SMALL], cwd=work, env=env)
    report = work / "runs" / "report"
    for name in ("table3.md", "table4.md", "results.csv", "MANIFEST.jsonl"):
        assert (report / name).is_file(), f"{report / name} missing"
    assert "en2zh" in (report / "results.csv").read_text(encoding="utf-8")
