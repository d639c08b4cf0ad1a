"""jieba, loaded once per process with its dictionary and its start-up messages silenced."""

from __future__ import annotations

import functools
import logging
from types import ModuleType


@functools.cache
def jieba() -> ModuleType:
    """The ``jieba`` module, initialised, logging warnings only."""
    import jieba as module

    module.setLogLevel(logging.WARNING)
    module.initialize()
    return module
