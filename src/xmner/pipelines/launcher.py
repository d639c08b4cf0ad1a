"""``--launcher accelerate``: the same ``xmner`` command again, under ``accelerate launch``.

``xmner reproduce --launcher accelerate --num-processes N ...`` runs
``python -m accelerate.commands.launch --multi_gpu --num_processes N ... -m xmner.cli`` with
the command's own arguments, on this machine, and waits for it: each of the N processes then
trains every cell data-parallel (``xmner.pipelines.distributed``). A launched process runs the
command itself, never launches again: the launcher marks its children with ``LAUNCHED_ENV``, and a
process already under a launcher (``WORLD_SIZE`` set) is one too. Several machines need
``accelerate launch`` itself (its ``--machine_rank`` and ``--main_process_ip``).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import xmner

LAUNCHED_ENV = "XMNER_LAUNCHED"  # set in the launched processes: they must not launch again
CPU_PROCESSES = 2  # the default number of processes where no GPU is visible


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``--launcher`` and ``--num-processes`` on ``reproduce`` and ``train``."""
    p.add_argument(
        "--launcher",
        choices=["none", "accelerate"],
        default="none",
        help="accelerate: rerun this command under 'accelerate launch', data-parallel on "
        "--num-processes processes of this machine (default: none, this process alone)",
    )
    p.add_argument(
        "--num-processes",
        type=positive,
        help="processes of --launcher accelerate (default: one per visible GPU; "
        f"{CPU_PROCESSES} on CPUs, sharing the cores)",
    )


def positive(text: str) -> int:
    """A count of processes from the command line (argparse type): 1 or more."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of processes >= 1, got {value}")
    return value


def launched() -> bool:
    """Whether this process already runs under a launcher (ours, or one started by hand)."""
    return bool(os.environ.get(LAUNCHED_ENV) or os.environ.get("WORLD_SIZE"))


def wanted(args: argparse.Namespace) -> bool:
    """Whether this command is to be launched again (``--launcher accelerate``, not launched)."""
    return getattr(args, "launcher", "none") == "accelerate" and not launched()


def default_processes() -> int:
    """One process per visible GPU, or ``CPU_PROCESSES`` where none is visible."""
    from xmner.pipelines import devices

    return len(devices.visible_gpus()) or CPU_PROCESSES


def free_port() -> int:
    """A TCP port free on this machine now, for the launch's rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_command(argv: list[str], processes: int, port: int) -> list[str]:
    """``accelerate launch`` of ``xmner <argv>`` on ``processes`` processes of this machine."""
    accelerate = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
        "--num_processes", str(processes), "--num_machines", "1",
        "--mixed_precision", "no",  # each stage's own mixed_precision setting decides
        "--dynamo_backend", "no", "--main_process_port", str(port),
    ]  # fmt: skip
    return [*accelerate, "-m", "xmner.cli", *argv]


def launch_env() -> dict[str, str]:
    """This environment, marked as launched, with this xmner first on the path."""
    src = str(Path(xmner.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        LAUNCHED_ENV: "accelerate",
        "PYTHONPATH": os.pathsep.join([src, path]) if path else src,
    }


def relaunch(argv: list[str], processes: int | None) -> int:
    """Run ``xmner <argv>`` under ``accelerate launch`` and wait; its exit code.

    A Ctrl-C reaches the launched processes directly (one process group), so this one ignores
    it and waits for them to stop; a SIGTERM sent to this process is passed on to the launcher,
    which stops its processes.
    """
    n = processes or default_processes()
    print(f"xmner: launching {n} processes with accelerate", file=sys.stderr, flush=True)
    child = subprocess.Popen(launch_command(argv, n, free_port()), env=launch_env())
    handlers = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
        signal.SIGTERM: signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM)),
    }
    try:
        return child.wait()
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
