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
