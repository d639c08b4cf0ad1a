"""Test set-up: offline hub, few threads, fixed seeds, and the shared data root."""

from __future__ import annotations

import os
import random
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

# XMNER_SHARED_DIR: for runs from a copy of the tree elsewhere (make mutate runs in mutants/).
SHARED = Path(os.environ.get("XMNER_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
DATA_ROOT = SHARED / "data"
FIXTURES_ROOT = SHARED / "fixtures"


@pytest.fixture(scope="session", autouse=True)
def _user_cache(tmp_path_factory):
    """One per-user cache (``xmner.usercache``) for the session, shared by the xdist workers and
    the processes tests start: the CC-CEDICT tables are built once, not once per process.
    A ``$XMNER_CACHE`` set by the caller is kept."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    os.environ.setdefault("XMNER_CACHE", str(root / "xmner-user-cache"))
    yield


@pytest.fixture(autouse=True)
def _seeds_and_threads():
    random.seed(0)
    try:
        import numpy as np

        np.random.seed(0)
    except ImportError:
        pass
    try:
        import torch

        torch.manual_seed(0)
        torch.set_num_threads(1)  # tiny test models: threads only add overhead
    except ImportError:
        pass
    yield


def _required(path: Path, what: str) -> Path:
    """``path`` if it exists; else fail under CI (a green run must have tested it), else skip."""
    if path.is_dir():
        return path
    message = (
        f"{what} not found at {path} (looked for ../shared beside the repository, or "
        "$XMNER_SHARED_DIR); the tests that read real corpora cannot run without it"
    )
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """``../shared/data`` beside the repository (CI and development both have it)."""
    return _required(DATA_ROOT, "shared data")


@pytest.fixture(scope="session")
def fixtures_root() -> Path:
    """``../shared/fixtures`` beside the repository."""
    return _required(FIXTURES_ROOT, "shared fixtures")


BROKEN_CASES = ("utf16-bom", "utf16-no-bom", "gbk", "binary", "empty", "truncated")
_PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"


def _line_of(data: bytes, offset: int) -> int:
    import re

    return len(re.findall(rb"\r\n|\r|\n", data[:offset])) + 1


def spoil(text: str, case: str) -> tuple[bytes, int]:
    """``text`` (ASCII first, non-ASCII on its last line) saved wrongly, and the line to name."""
    data = text.encode("utf-8")
    first_wide = next(i for i, b in enumerate(data) if b >= 0x80)
    if case == "utf16-bom":
        return text.encode("utf-16"), 1
    if case == "utf16-no-bom":
        return text.encode("utf-16-le"), 1
    if case == "gbk":
        return text.encode("gbk"), _line_of(data, first_wide)
    if case == "binary":
        return _PNG, 1
    if case == "empty":
        return b"", 1
    last_lead = max(i for i, b in enumerate(data) if b >= 0xC0)  # cut inside this character
    return data[: last_lead + 1], _line_of(data, last_lead)


@pytest.fixture(params=BROKEN_CASES)
def broken(request):
    """A function ``text -> (bytes, line)``: ``text`` spoilt in each way a file can be."""
    return lambda text: spoil(text, request.param)
