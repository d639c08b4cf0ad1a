"""A per-user cache for tables that take a minute to build and a second to read.

``cached_json(name, key, build)`` is ``build()``'s JSON value, kept as ``<name>-<key>.json`` in
``user_cache_dir()``: written atomically, recorded in that folder's manifest and verified whole
before it is reused (a damaged file is discarded and rebuilt), built by one process at a time
(the others wait for it, then read it). The key names everything the value is computed from.
``$XMNER_CACHE`` is the folder (``off``: build every time); else ``$XDG_CACHE_HOME/xmner``,
else ``~/.cache/xmner``. A folder that cannot be written costs a warning and a rebuild.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from xmner import locks, manifest
from xmner.io import read_json, write_text

log = logging.getLogger(__name__)


def user_cache_dir() -> Path | None:
    """The cache folder, or ``None`` when ``$XMNER_CACHE`` is ``off``."""
    chosen = os.environ.get("XMNER_CACHE", "").strip()
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(base) / "xmner"


def cached_json(name: str, key: str, build: Callable[[], Any]) -> Any:
    """``build()``'s value, read from the cache when an intact ``name-key`` entry is there."""
    root = user_cache_dir()
    if root is None:
        return build()
    path = root / f"{name}-{key}.json"
    with ExitStack() as stack:
        try:
            stack.enter_context(
                locks.hold(root, wait=None, command=f"building {path.name}", name=f"{name}.lock")
            )
        except OSError as err:
            log.warning("cache %s not usable (%s); building without it", root, err)
            return build()
        if manifest.usable(path):
            return read_json(path)
        value = build()
        try:
            write_text(path, json.dumps(value, ensure_ascii=False))
            manifest.record(path)
        except OSError as err:
            log.warning("could not keep %s in the cache (%s)", path.name, err)
        return value
