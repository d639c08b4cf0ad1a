"""``environment.json``: what a run directory was made with (code, libraries, device, inputs)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import xmner


def git_commit() -> str | None:
    """The commit of the source tree xmner runs from (``+dirty`` if edited), or None."""
    root = Path(xmner.__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    git = ["git", "-C", str(root)]
    try:
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
        status = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        )
    except OSError:  # no git
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


def cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name from ``cpuinfo`` (Linux), else what ``platform`` knows, else "cpu"."""
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def environment(inputs: dict[str, str], threads: int) -> dict[str, Any]:
    """Versions, device, threads, the command line and the input fingerprints of this run."""
    import torch
    import transformers

    cuda = torch.cuda.is_available()
    return {
        "xmner": xmner.__version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "device": torch.cuda.get_device_name(0) if cuda else f"cpu ({cpu_name()})",
        # the instruction set torch's CPU kernels run: the last bits of a float, hence an F1
        # trained on another machine, can differ with it (results/reproduce-seed1/README.md)
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": threads,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "inputs": inputs,
    }
