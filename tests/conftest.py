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


@pytest.fixture(scope="session")
def data_root() -> Path:
    """``../shared/data`` beside the repository (CI and development both have it)."""
    if not DATA_ROOT.is_dir():
        pytest.skip(f"shared data not found at {DATA_ROOT}")
    return DATA_ROOT


@pytest.fixture(scope="session")
def fixtures_root() -> Path:
    """``../shared/fixtures`` beside the repository."""
    if not FIXTURES_ROOT.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES_ROOT}")
    return FIXTURES_ROOT
